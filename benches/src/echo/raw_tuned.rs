//! "The tuned limit": the raw echo loop with the io_uring features a hand-tuned server uses (H15):
//! one multishot RECV per connection over a provided-buffer ring (no buffer pinned per idle
//! connection), SENDs straight from the provided buffer, and connections in the registered file
//! table (ops name a fixed-file index, so the kernel skips the fd lookup and reference count).
//!
//! Per connection, one send is in flight at a time (later filled buffers wait in a queue, so the
//! echoed bytes keep their order); a buffer returns to the ring when its send completed, and
//! returned buffers are published once per loop turn. A multishot recv that ends (no `F_MORE`)
//! is re-armed; one that ran the ring dry (`ENOBUFS`) is re-armed once buffers came back.
//! The pool has the same shape as the `quartet-pooled` server's: 2,048 buffers of 16 KiB.

use super::raw::{push, ring};
use io_uring::{IoUring, cqueue, opcode, types};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};

/// Buffers in the ring and their size (the `quartet-pooled` server uses the same).
pub const BUFFERS: u16 = 2048;
pub const BUF_SIZE: u32 = 16 * 1024;
/// Spacing between buffers: 16 KiB + one cache line (H15).
const STRIDE: usize = BUF_SIZE as usize + 64;
const FILES: u32 = 4096;
const GROUP: u16 = 0;

const ACCEPT: u64 = 0;
const RECV: u64 = 1;
const SEND: u64 = 2;

/// `struct io_uring_buf`; the ring's tail overlays `resv` of entry 0.
#[repr(C)]
struct Entry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

struct Pool {
    /// `BUFFERS` entries, page-aligned (the kernel requires it), never freed (the server runs
    /// until it is killed).
    ring: *mut Entry,
    mem: Vec<u8>,
    tail: u16,
}

impl Pool {
    fn ptr(&mut self, bid: u16) -> *mut u8 {
        // SAFETY: bid < BUFFERS, so the offset is inside `mem` (BUFFERS * STRIDE bytes).
        unsafe { self.mem.as_mut_ptr().add(bid as usize * STRIDE) }
    }

    fn put(&mut self, bid: u16) {
        let addr = self.ptr(bid) as u64;
        let i = (self.tail & (BUFFERS - 1)) as usize;
        // SAFETY: i < BUFFERS: inside the ring allocation.
        let e = unsafe { self.ring.add(i) };
        // SAFETY: `e` is inside the ring; the kernel reads only entries between its head and the
        // published tail, and this one is outside (its buffer was taken). `resv` is not written.
        unsafe {
            (&raw mut (*e).addr).write(addr);
            (&raw mut (*e).len).write(BUF_SIZE);
            (&raw mut (*e).bid).write(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&mut self) {
        // SAFETY: entry 0's `resv` is the tail the kernel reads; only accessed atomically here.
        let t = unsafe { AtomicU16::from_ptr(&raw mut (*self.ring).resv) };
        t.store(self.tail, Ordering::Release);
    }
}

#[derive(Default)]
struct Conn {
    open: bool,
    /// Filled buffers waiting to be echoed: (bid, len); the front one is being sent.
    pending: VecDeque<(u16, u32)>,
    sent: u32,
    sending: bool,
    armed: bool,
}

fn ud(kind: u64, idx: u32) -> u64 {
    (u64::from(idx) << 2) | kind
}

fn arm(ring: &mut IoUring, idx: u32) -> Result<(), String> {
    let e = opcode::RecvMulti::new(types::Fixed(idx), GROUP).build().user_data(ud(RECV, idx));
    // SAFETY: no pointer: the kernel picks a buffer from the registered ring.
    unsafe { push(ring, &e) }
}

fn send(ring: &mut IoUring, pool: &mut Pool, c: &Conn, idx: u32) -> Result<(), String> {
    let (bid, len) = c.pending[0];
    // SAFETY: `sent < len <= BUF_SIZE`: inside buffer `bid`.
    let ptr = unsafe { pool.ptr(bid).add(c.sent as usize) };
    let e = opcode::Send::new(types::Fixed(idx), ptr, len - c.sent)
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(ud(SEND, idx));
    // SAFETY: the buffer is out of the ring until this send completes, and the pool's memory
    // lives as long as the loop.
    unsafe { push(ring, &e) }
}

/// Serves echo on 127.0.0.1 until killed.
pub fn serve(announce: fn(SocketAddr)) -> Result<(), String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    announce(listener.local_addr().map_err(|e| e.to_string())?);
    let lfd = listener.as_raw_fd();
    let mut ring = ring(4096)?;
    ring.submitter().register_files_sparse(FILES).map_err(|e| format!("files: {e}"))?;
    let layout =
        std::alloc::Layout::from_size_align(BUFFERS as usize * size_of::<Entry>(), 4096).map_err(|e| e.to_string())?;
    // SAFETY: the layout has a non-zero size.
    let entries = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Entry>();
    if entries.is_null() {
        return Err("out of memory".into());
    }
    let mut pool = Pool { ring: entries, mem: vec![0u8; BUFFERS as usize * STRIDE], tail: 0 };
    let ring_addr = entries as u64;
    for bid in 0..BUFFERS {
        pool.put(bid);
    }
    pool.publish();
    // SAFETY: the entries live in `pool`, which outlives the ring (the loop never returns Ok).
    unsafe { ring.submitter().register_buf_ring_with_flags(ring_addr, BUFFERS, GROUP, 0) }
        .map_err(|e| format!("buf ring: {e}"))?;
    let mut conns: Vec<Conn> = (0..FILES).map(|_| Conn::default()).collect();
    let mut dry: Vec<u32> = Vec::new();
    let accept = opcode::Accept::new(types::Fd(lfd), std::ptr::null_mut(), std::ptr::null_mut())
        .flags(libc::SOCK_CLOEXEC)
        .build()
        .user_data(ACCEPT);
    // SAFETY: no address is asked for: no memory is shared.
    unsafe { push(&mut ring, &accept)? };
    let mut done: Vec<(u64, i32, u32)> = Vec::with_capacity(4096);
    let mut free_slot = 0u32;
    loop {
        match ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => return Err(format!("enter: {e}")),
        }
        done.extend(ring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
        let mut returned = false;
        for (u, res, flags) in done.drain(..) {
            let idx = (u >> 2) as u32;
            match u & 3 {
                ACCEPT => {
                    if res >= 0 {
                        let one: libc::c_int = 1;
                        // SAFETY: setsockopt reads a live c_int of the given size.
                        unsafe {
                            libc::setsockopt(
                                res,
                                libc::IPPROTO_TCP,
                                libc::TCP_NODELAY,
                                (&one as *const libc::c_int).cast(),
                                size_of::<libc::c_int>() as u32,
                            )
                        };
                        let slot = (free_slot..FILES).find(|&i| !conns[i as usize].open).unwrap_or(FILES);
                        if slot < FILES && ring.submitter().register_files_update(slot, &[res]).is_ok() {
                            conns[slot as usize] = Conn { open: true, ..Conn::default() };
                            free_slot = slot + 1;
                            arm(&mut ring, slot)?;
                            conns[slot as usize].armed = true;
                        }
                        // SAFETY: the fd is ours; the table holds its own reference.
                        unsafe { libc::close(res) };
                    }
                    // SAFETY: as above.
                    unsafe { push(&mut ring, &accept)? };
                }
                RECV => {
                    let c = &mut conns[idx as usize];
                    let more = cqueue::more(flags);
                    if !more {
                        c.armed = false;
                    }
                    if let Some(bid) = cqueue::buffer_select(flags) {
                        if res > 0 && c.open {
                            c.pending.push_back((bid, res as u32));
                            if !c.sending {
                                c.sending = true;
                                c.sent = 0;
                                send(&mut ring, &mut pool, c, idx)?;
                            }
                        } else {
                            pool.put(bid);
                            returned = true;
                        }
                    }
                    if res == -libc::ENOBUFS {
                        dry.push(idx);
                    } else if res <= 0 && c.open {
                        c.open = false;
                        let _ = ring.submitter().register_files_update(idx, &[-1]);
                        free_slot = free_slot.min(idx);
                    } else if !more && c.open {
                        arm(&mut ring, idx)?;
                        c.armed = true;
                    }
                }
                _ => {
                    let c = &mut conns[idx as usize];
                    let (bid, len) = c.pending[0];
                    if res > 0 && c.sent + (res as u32) < len {
                        c.sent += res as u32;
                        send(&mut ring, &mut pool, c, idx)?;
                        continue;
                    }
                    c.pending.pop_front();
                    pool.put(bid);
                    returned = true;
                    c.sent = 0;
                    if res <= 0 {
                        while let Some((b, _)) = c.pending.pop_front() {
                            pool.put(b);
                        }
                    }
                    if c.pending.is_empty() {
                        c.sending = false;
                    } else {
                        send(&mut ring, &mut pool, c, idx)?;
                    }
                }
            }
        }
        if returned {
            pool.publish();
            for idx in dry.drain(..) {
                let c = &mut conns[idx as usize];
                if c.open && !c.armed {
                    arm(&mut ring, idx)?;
                    c.armed = true;
                }
            }
        }
    }
}
