//! The cross-core wake mechanism alone, without a runtime (issue 16: "MSG_RING where that is
//! cheaper; measure both"): two threads, each with its own io_uring, pass a token back and forth
//! N times, each waiting in `io_uring_enter` for the other's wake.
//!
//! - `eventfd` (what quartet's remote queue does): the sender `write`s the receiver's eventfd; the
//!   receiver's ring has a read armed on it, which completes, and is re-armed with the next enter.
//!   Per hop: one `write` syscall on the sender, one enter on the receiver.
//! - `msg-ring`: the sender queues `IORING_OP_MSG_RING` (`CQE_SKIP_SUCCESS`) to the receiver's
//!   ring and submits it *with the same enter* that waits for the reply. Per hop: the receiver's
//!   CQE is posted by the sender's kernel; no `write`, no re-arm.
//!
//! Figures: wall time and both threads' CPU time (`RUSAGE_THREAD`) per round trip.

use crate::child::{Metrics, Params};
use io_uring::{IoUring, opcode, squeue, types};
use std::os::fd::AsRawFd;
use std::time::Instant;

/// One run of `peer` (`eventfd` or `msg-ring`).
pub fn run(peer: &str, p: &Params) -> Result<Metrics, String> {
    let n = p.num("n")?;
    let msg = match peer {
        "msg-ring" => true,
        "eventfd" => false,
        other => return Err(format!("unknown peer {other}")),
    };
    let mut a = IoUring::new(64).map_err(|e| e.to_string())?;
    let mut b = IoUring::new(64).map_err(|e| e.to_string())?;
    let (fa, fb) = (a.as_raw_fd(), b.as_raw_fd());
    let (ea, eb) = (eventfd()?, eventfd()?);
    let t0 = Instant::now();
    let pong = std::thread::spawn(move || {
        let _ = crate::sys::pin_to_core(1);
        let cpu0 = thread_cpu_ns();
        hops(&mut b, n, false, if msg { Peer::Ring(fa) } else { Peer::EventFd(ea, eb) })
            .map(|()| thread_cpu_ns() - cpu0)
    });
    let _ = crate::sys::pin_to_core(0);
    let cpu0 = thread_cpu_ns();
    hops(&mut a, n, true, if msg { Peer::Ring(fb) } else { Peer::EventFd(eb, ea) })?;
    let cpu_a = thread_cpu_ns() - cpu0;
    let cpu_b = pong.join().map_err(|_| "pong panicked")??;
    let dt = t0.elapsed();
    // SAFETY: both eventfds are owned here and no longer used (both threads are done).
    unsafe {
        libc::close(ea);
        libc::close(eb);
    }
    Ok(Metrics::from([
        ("ns_per_rtt".to_string(), dt.as_nanos() as f64 / n as f64),
        ("cpu_ns_per_rtt".to_string(), (cpu_a + cpu_b) as f64 / n as f64),
    ]))
}

enum Peer {
    /// The other thread's ring fd.
    Ring(i32),
    /// (the other's eventfd to write, this thread's eventfd to read)
    EventFd(i32, i32),
}

fn eventfd() -> Result<i32, String> {
    // SAFETY: eventfd takes no pointers; the result is checked.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 { Err(std::io::Error::last_os_error().to_string()) } else { Ok(fd) }
}

fn thread_cpu_ns() -> u64 {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a live rusage.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    (us(ru.ru_utime) + us(ru.ru_stime)) * 1000
}

/// `n` round trips: the first side sends then waits, the other waits then sends.
fn hops(ring: &mut IoUring, n: u64, first: bool, peer: Peer) -> Result<(), String> {
    let mut buf = 0u64;
    let arm = |ring: &mut IoUring, own: i32, buf: &mut u64| {
        let e = opcode::Read::new(types::Fd(own), (buf as *mut u64).cast(), 8).build().user_data(2);
        // SAFETY: `buf` outlives the read (it is waited for before `hops` returns or re-arms).
        unsafe { ring.submission().push(&e).map_err(|e| e.to_string()) }
    };
    if let Peer::EventFd(_, own) = peer {
        arm(ring, own, &mut buf)?;
    }
    let send = |ring: &mut IoUring| -> Result<(), String> {
        match peer {
            Peer::Ring(fd) => {
                let e = opcode::MsgRingData::new(types::Fd(fd), 0, 1, None)
                    .build()
                    .flags(squeue::Flags::SKIP_SUCCESS)
                    .user_data(3);
                // SAFETY: MSG_RING carries no pointers.
                unsafe { ring.submission().push(&e).map_err(|e| e.to_string()) }
            }
            Peer::EventFd(other, _) => {
                let one = 1u64;
                // SAFETY: writes 8 bytes from a live u64 to an eventfd owned by `run`.
                unsafe { libc::write(other, (&one as *const u64).cast(), 8) };
                Ok(())
            }
        }
    };
    let wait = |ring: &mut IoUring, buf: &mut u64, rearm: bool| -> Result<(), String> {
        loop {
            ring.submit_and_wait(1).map_err(|e| e.to_string())?;
            let got: Vec<(u64, i32)> = ring.completion().map(|c| (c.user_data(), c.result())).collect();
            let mut woke = false;
            for (ud, res) in got {
                match ud {
                    1 => woke = true,
                    2 => {
                        woke = true;
                        if let (Peer::EventFd(_, own), true) = (&peer, rearm) {
                            arm(ring, *own, buf)?;
                        }
                    }
                    _ if res < 0 => return Err(format!("MSG_RING failed: {res}")),
                    _ => {}
                }
            }
            if woke {
                return Ok(());
            }
        }
    };
    for _ in 0..n {
        if first {
            send(ring)?;
            wait(ring, &mut buf, true)?;
        } else {
            wait(ring, &mut buf, true)?;
            send(ring)?;
        }
    }
    // The last MSG_RING of the second side is still in the SQ: hand it to the kernel.
    ring.submit().map_err(|e| e.to_string())?;
    if let Peer::EventFd(_, own) = peer {
        // Complete our own armed read (not re-armed), so no read into `buf` is left in flight.
        let one = 1u64;
        // SAFETY: writes 8 bytes from a live u64 to this thread's eventfd.
        unsafe { libc::write(own, (&one as *const u64).cast(), 8) };
        wait(ring, &mut buf, false)?;
    }
    Ok(())
}
