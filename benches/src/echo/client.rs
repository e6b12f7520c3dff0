//! The echo load generator, the same for every server.
//!
//! Throughput: N connections, each a closed loop of "send `size` bytes, receive `size` bytes"
//! (monoio-benchmark's ping-pong shape), driven by one raw io_uring loop pinned to its own core.
//! The server's CPU time is sampled from `/proc` at the start and end of the measured window.
//!
//! Latency: one connection and a busy-polling client (non-blocking socket, spinning on
//! `EAGAIN`), because a sleeping client adds tens of µs of wake-up to every round trip.

use super::raw::{push, ring};
use crate::sys;
use io_uring::{opcode, types};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const SEND: u64 = 0;
const RECV: u64 = 1;

/// What one throughput run measured.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Round trips completed in the window.
    pub msgs: u64,
    /// Round trips completed in the whole run, warm-up included.
    pub total: u64,
    /// Window length.
    pub secs: f64,
    /// Server CPU time (all threads, user + system) in the window.
    pub server_cpu: Duration,
}

struct Conn {
    stream: TcpStream,
    out: Box<[u8]>,
    inp: Box<[u8]>,
    done: usize,
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Drives `conns` closed loops against `addr` and measures the server `pid` in the window.
pub fn throughput(
    addr: SocketAddr,
    pid: u32,
    conns: usize,
    size: usize,
    warmup: Duration,
    window: Duration,
) -> Result<Throughput, String> {
    let mut ring = ring(((conns * 2).next_power_of_two() as u32).max(64))?;
    let mut cs: Vec<Conn> = Vec::with_capacity(conns);
    for i in 0..conns {
        let stream = connect(addr).map_err(|e| format!("connect: {e}"))?;
        let out: Box<[u8]> = (0..size).map(|b| (b + i) as u8).collect();
        cs.push(Conn { stream, out, inp: vec![0u8; size].into_boxed_slice(), done: 0 });
    }
    for (i, c) in cs.iter_mut().enumerate() {
        send(&mut ring, c, i)?;
    }
    let start = Instant::now();
    let (warm_end, end) = (start + warmup, start + warmup + window);
    let mut msgs: u64 = 0;
    let mut mark: Option<(Instant, u64, Duration)> = None;
    let mut done: Vec<(u64, i32)> = Vec::with_capacity(conns * 2);
    let result = loop {
        ring.submit_and_wait(1).map_err(|e| format!("client enter: {e}"))?;
        done.extend(ring.completion().map(|c| (c.user_data(), c.result())));
        for (u, res) in done.drain(..) {
            let i = (u >> 1) as usize;
            let c = &mut cs[i];
            if res <= 0 {
                return Err(format!("connection {i}: {}", io::Error::from_raw_os_error(-res.min(-1))));
            }
            c.done += res as usize;
            match (u & 1, c.done == size) {
                (SEND, false) => send(&mut ring, c, i)?,
                (SEND, true) => {
                    c.done = 0;
                    recv(&mut ring, c, i)?;
                }
                (_, false) => recv(&mut ring, c, i)?,
                (_, true) => {
                    msgs += 1;
                    c.done = 0;
                    send(&mut ring, c, i)?;
                }
            }
        }
        let now = Instant::now();
        match mark {
            None if now >= warm_end => mark = Some((now, msgs, sys::process_cpu(pid).map_err(|e| e.to_string())?)),
            Some((t0, m0, c0)) if now >= end => {
                let c1 = sys::process_cpu(pid).map_err(|e| e.to_string())?;
                let t1 = Instant::now();
                let server_cpu = c1.saturating_sub(c0);
                break Throughput { msgs: msgs - m0, total: msgs, secs: (t1 - t0).as_secs_f64(), server_cpu };
            }
            _ => {}
        }
    };
    // Ops are still in flight on these buffers; the process exits right after this run, so
    // leak them rather than free memory the kernel may still write.
    std::mem::forget(cs);
    drop(ring);
    Ok(result)
}

fn send(ring: &mut io_uring::IoUring, c: &mut Conn, i: usize) -> Result<(), String> {
    // SAFETY: `done < out.len()`, so the pointer stays inside the buffer.
    let ptr = unsafe { c.out.as_ptr().add(c.done) };
    let e = opcode::Send::new(types::Fd(c.stream.as_raw_fd()), ptr, (c.out.len() - c.done) as u32)
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(((i as u64) << 1) | SEND);
    // SAFETY: the buffers are boxed, owned by `cs`, and leaked (never freed) at the end of the run.
    unsafe { push(ring, &e) }
}

fn recv(ring: &mut io_uring::IoUring, c: &mut Conn, i: usize) -> Result<(), String> {
    // SAFETY: `done < inp.len()`, so the pointer stays inside the buffer.
    let ptr = unsafe { c.inp.as_mut_ptr().add(c.done) };
    let e = opcode::Recv::new(types::Fd(c.stream.as_raw_fd()), ptr, (c.inp.len() - c.done) as u32)
        .build()
        .user_data(((i as u64) << 1) | RECV);
    // SAFETY: as in `send`.
    unsafe { push(ring, &e) }
}

/// Round-trip times (ns) of `rtts` sequential echoes of `size` bytes, after a warm-up of 10%.
pub fn latency(addr: SocketAddr, rtts: usize, size: usize) -> Result<Vec<u64>, String> {
    let mut s = connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_nonblocking(true).map_err(|e| e.to_string())?;
    let out: Vec<u8> = (0..size).map(|b| b as u8).collect();
    let mut inp = vec![0u8; size];
    let mut times = Vec::with_capacity(rtts);
    for k in 0..rtts + rtts / 10 {
        let t = Instant::now();
        spin_write(&mut s, &out)?;
        spin_read(&mut s, &mut inp)?;
        if k >= rtts / 10 {
            times.push(t.elapsed().as_nanos() as u64);
        }
    }
    if inp != out {
        return Err("echo returned different bytes".into());
    }
    Ok(times)
}

fn spin_write(s: &mut TcpStream, mut buf: &[u8]) -> Result<(), String> {
    while !buf.is_empty() {
        match s.write(buf) {
            Ok(0) => return Err("server closed".into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

fn spin_read(s: &mut TcpStream, buf: &mut [u8]) -> Result<(), String> {
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => return Err("server closed".into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}
