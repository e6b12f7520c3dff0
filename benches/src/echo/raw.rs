//! "The limit": the echo server as a hand-written io_uring loop, with no runtime at all.
//!
//! One ring with the best setup flags the kernel accepts (the same preference order as quartet's
//! driver), one `io_uring_enter` per loop turn that submits everything queued and waits for at
//! least one completion, and a fixed state machine per connection: RECV into a 64 KiB buffer,
//! SEND what arrived (resubmitting short sends), RECV again. No tasks, no wakers, no allocation
//! per message.

use super::servers::BUF;
use io_uring::{IoUring, opcode, squeue, types};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

const ACCEPT: u64 = 0;
const RECV: u64 = 1;
const SEND: u64 = 2;

/// Builds a ring with `SINGLE_ISSUER | DEFER_TASKRUN`, else `COOP_TASKRUN`, else no flags.
pub fn ring(entries: u32) -> Result<IoUring, String> {
    let mut b = IoUring::builder();
    b.setup_cqsize(entries * 4).setup_single_issuer().setup_defer_taskrun();
    if let Ok(r) = b.build(entries) {
        return Ok(r);
    }
    let mut b = IoUring::builder();
    b.setup_cqsize(entries * 4).setup_coop_taskrun().setup_taskrun_flag();
    if let Ok(r) = b.build(entries) {
        return Ok(r);
    }
    IoUring::builder().setup_cqsize(entries * 4).build(entries).map_err(|e| format!("io_uring setup: {e}"))
}

/// Pushes an SQE, submitting first if the SQ is full.
///
/// # Safety
/// Every pointer in `e` must stay valid until the op's completion is reaped.
pub unsafe fn push(ring: &mut IoUring, e: &squeue::Entry) -> Result<(), String> {
    loop {
        // SAFETY: forwarded from the caller's contract.
        if unsafe { ring.submission().push(e) }.is_ok() {
            return Ok(());
        }
        ring.submit().map_err(|e| format!("submit: {e}"))?;
    }
}

struct Conn {
    fd: RawFd,
    buf: Box<[u8]>,
    len: usize,
    sent: usize,
}

fn ud(kind: u64, idx: usize) -> u64 {
    ((idx as u64) << 2) | kind
}

fn recv(ring: &mut IoUring, c: &mut Conn, idx: usize) -> Result<(), String> {
    let e = opcode::Recv::new(types::Fd(c.fd), c.buf.as_mut_ptr(), BUF as u32).build().user_data(ud(RECV, idx));
    // SAFETY: the buffer is a boxed slice owned by `conns`, which is never shrunk or freed while
    // the loop runs (a closed connection keeps its slot), so it outlives the op.
    unsafe { push(ring, &e) }
}

fn send(ring: &mut IoUring, c: &mut Conn, idx: usize) -> Result<(), String> {
    // SAFETY: `sent < len <= BUF`, so the pointer stays inside the buffer.
    let ptr = unsafe { c.buf.as_ptr().add(c.sent) };
    let e = opcode::Send::new(types::Fd(c.fd), ptr, (c.len - c.sent) as u32)
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(ud(SEND, idx));
    // SAFETY: as in `recv`: the buffer outlives the op.
    unsafe { push(ring, &e) }
}

/// Serves echo on 127.0.0.1 until killed.
pub fn serve(announce: fn(SocketAddr)) -> Result<(), String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    announce(listener.local_addr().map_err(|e| e.to_string())?);
    let lfd = listener.as_raw_fd();
    let mut ring = ring(1024)?;
    let mut conns: Vec<Conn> = Vec::new();
    let accept = opcode::Accept::new(types::Fd(lfd), std::ptr::null_mut(), std::ptr::null_mut())
        .flags(libc::SOCK_CLOEXEC)
        .build()
        .user_data(ACCEPT);
    // SAFETY: a null address pointer asks the kernel for no peer address: no memory is shared.
    unsafe { push(&mut ring, &accept)? };
    let mut done: Vec<(u64, i32)> = Vec::with_capacity(1024);
    loop {
        match ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => return Err(format!("enter: {e}")),
        }
        done.extend(ring.completion().map(|c| (c.user_data(), c.result())));
        for (u, res) in done.drain(..) {
            let idx = (u >> 2) as usize;
            match u & 3 {
                ACCEPT => {
                    if res >= 0 {
                        let one: libc::c_int = 1;
                        // SAFETY: setsockopt reads `one` (a live c_int) of the given size.
                        unsafe {
                            libc::setsockopt(
                                res,
                                libc::IPPROTO_TCP,
                                libc::TCP_NODELAY,
                                (&one as *const libc::c_int).cast(),
                                std::mem::size_of::<libc::c_int>() as u32,
                            )
                        };
                        conns.push(Conn { fd: res, buf: vec![0u8; BUF].into_boxed_slice(), len: 0, sent: 0 });
                        let i = conns.len() - 1;
                        recv(&mut ring, &mut conns[i], i)?;
                    }
                    // SAFETY: as above, no memory is shared with the kernel.
                    unsafe { push(&mut ring, &accept)? };
                }
                RECV => {
                    let c = &mut conns[idx];
                    if res <= 0 {
                        // SAFETY: the fd is ours and no op on it is in flight.
                        unsafe { libc::close(c.fd) };
                        continue;
                    }
                    c.len = res as usize;
                    c.sent = 0;
                    send(&mut ring, c, idx)?;
                }
                _ => {
                    let c = &mut conns[idx];
                    if res <= 0 {
                        // SAFETY: the fd is ours and no op on it is in flight.
                        unsafe { libc::close(c.fd) };
                        continue;
                    }
                    c.sent += res as usize;
                    if c.sent < c.len {
                        send(&mut ring, c, idx)?;
                    } else {
                        recv(&mut ring, c, idx)?;
                    }
                }
            }
        }
    }
}
