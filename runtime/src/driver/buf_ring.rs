//! The provided-buffer pool: one ring of buffers registered with the kernel
//! (`IORING_REGISTER_PBUF_RING`, Linux 5.19), from which receives pick a buffer only when data
//! arrives.
//!
//! Why: a plain `recv` must be handed its buffer when it is submitted, so every idle connection
//! pins one (64 KiB in a typical server). With a buffer ring the kernel takes a buffer from the
//! ring at the moment it has bytes to put in it, and the CQE names the buffer (`bid`); 1,000 idle
//! connections hold no buffer at all. The pool lends a filled buffer to the user as a
//! [`PooledBuf`](crate::net::PooledBuf), whose `Drop` puts it back at the ring's tail.
//!
//! # Memory and lifetime
//! The ring entries and the buffers are two page-aligned heap blocks owned by [`Pool`], which is
//! reference-counted (`Rc`): the driver holds one reference (declared after the ring, so the ring
//! is closed first), every lent buffer and every receiver holds another. The memory is freed only
//! when the last of them is gone, so a buffer kept past the end of `run` stays valid. The kernel
//! touches the memory only while an op that selects buffers is in flight: the shutdown drain
//! waits for those ops' final completions (they are counted as in flight), and if the drain times
//! out the driver leaks one reference (`Bufs::leak`) so the memory is never freed (H4).
//!
//! # Thread confinement
//! `Pool` is `!Send` (it holds `Cell`s and is shared through `Rc`): the ring's tail is written
//! with a plain read-modify-write of `tail` by its single producer, which must be one thread.
//! The kernel only reads the entries between its head and the published tail; this side only
//! writes the entry at `tail`, which is outside that window (see [`Pool::recycle`]).
//!
//! # Invariants
//! - **B1** Each buffer id is in exactly one place: in the ring (the kernel may pick it), queued in
//!   a receiver (a CQE named it), or lent to the user (a `PooledBuf`). `in_ring + queued + lent ==
//!   count` at every point where no driver or pool method is running.
//! - **B2** A buffer returns to the ring only when nobody can read it: the `PooledBuf` was dropped
//!   (after any op it was lent to completed: ops own their buffers), or the receiver that queued
//!   it is gone.
//! - **B3** The pool's memory outlives every op that may select from it (field order in `Driver`,
//!   the drain, and the leak on an unclean shutdown).

use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};
use std::task::Waker;

/// The buffer group id of the runtime's one pool.
pub(crate) const GROUP: u16 = 0;
const PAGE: usize = 4096;
/// The largest buffer accepted: the kernel's `len` is a `u32`, but a single receive never needs
/// more than this, and a bigger pool is almost certainly a unit mistake.
const MAX_SIZE: u32 = 1 << 24;
/// The most memory one pool may take.
const MAX_BYTES: usize = 1 << 32;

/// Why a pool configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BufPoolError {
    /// The kernel accepts 1..=32768 ring entries, a power of two.
    #[error("the buffer count must be a power of two in 1..=32768, got {0}")]
    Count(u32),
    /// Buffers must hold at least one byte and at most 16 MiB.
    #[error("the buffer size must be in 1..=16777216 bytes, got {0}")]
    Size(u32),
    /// `count * size` (with spacing) would exceed 4 GiB.
    #[error("a pool of {count} buffers of {size} bytes is too large (at most 4 GiB)")]
    TooLarge {
        /// Buffers asked for.
        count: u32,
        /// Bytes per buffer asked for.
        size: u32,
    },
}

/// The shape of the runtime's provided-buffer pool, set with [`Builder::buf_pool`](crate::Builder::buf_pool).
///
/// The pool is allocated and registered with the kernel the first time a
/// [`PooledReceiver`](crate::net::PooledReceiver) is made, so a program that never uses it pays
/// nothing.
///
/// # Examples
/// ```
/// use quartet_runtime::net::{BufPoolConfig, BufPoolError};
/// let cfg = BufPoolConfig::new(1024, 4096)?;
/// assert_eq!((cfg.buffers(), cfg.buffer_size()), (1024, 4096));
/// assert_eq!(BufPoolConfig::new(1000, 4096), Err(BufPoolError::Count(1000))); // not a power of two
/// assert_eq!(BufPoolConfig::new(0, 4096), Err(BufPoolError::Count(0)));
/// assert!(BufPoolConfig::new(32768, 1 << 24).is_err()); // 512 GiB
/// # Ok::<(), BufPoolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufPoolConfig {
    count: u16,
    size: u32,
    stride: usize,
    multishot: bool,
}

impl Default for BufPoolConfig {
    /// 256 buffers of 16 KiB (4 MiB, allocated on first use).
    fn default() -> Self {
        BufPoolConfig::new(256, 16 * 1024).expect("valid default")
    }
}

impl BufPoolConfig {
    /// `buffers` buffers of `size` bytes each. Typed errors for a count that is 0, not a power of
    /// two or above 32768, a size of 0 or above 16 MiB, and a pool above 4 GiB.
    pub fn new(buffers: u32, size: u32) -> Result<BufPoolConfig, BufPoolError> {
        if !(1..=32768).contains(&buffers) || !buffers.is_power_of_two() {
            return Err(BufPoolError::Count(buffers));
        }
        if !(1..=MAX_SIZE).contains(&size) {
            return Err(BufPoolError::Size(size));
        }
        // Buffers start on a cache line; buffers whose size is a multiple of a page are spaced
        // one extra cache line apart, so their first lines do not all fall in the same cache
        // sets (H15: ~9% at 16 KiB).
        let mut stride = (size as usize).next_multiple_of(64);
        if stride % PAGE == 0 {
            stride += 64;
        }
        if stride.checked_mul(buffers as usize).is_none_or(|b| b > MAX_BYTES) {
            return Err(BufPoolError::TooLarge { count: buffers, size });
        }
        Ok(BufPoolConfig { count: buffers as u16, size, stride, multishot: true })
    }

    /// Uses single-shot buffer-select receives instead of multishot ones (the path taken
    /// automatically when the kernel refuses `IORING_RECV_MULTISHOT`); for tests and comparisons.
    ///
    /// ```
    /// let cfg = quartet_runtime::net::BufPoolConfig::default().multishot(false);
    /// assert!(!cfg.is_multishot());
    /// ```
    pub fn multishot(mut self, on: bool) -> BufPoolConfig {
        self.multishot = on;
        self
    }

    /// Whether receives use multishot recv.
    pub fn is_multishot(&self) -> bool {
        self.multishot
    }

    /// How many buffers the pool has.
    pub fn buffers(&self) -> u32 {
        u32::from(self.count)
    }

    /// The size of each buffer.
    pub fn buffer_size(&self) -> u32 {
        self.size
    }
}

/// Where the pool's buffers are, as counted by the runtime (invariant B1).
///
/// # Examples
/// ```no_run
/// # fn demo(stream: &quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::net::PoolUnavailable> {
/// let rx = quartet_runtime::net::PooledReceiver::new(stream)?;
/// let s = quartet_runtime::net::buf_pool_stats().expect("the pool exists once a receiver does");
/// assert_eq!(s.in_ring + s.queued + s.lent, s.buffers);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufPoolStats {
    /// Buffers in the pool.
    pub buffers: u32,
    /// Bytes per buffer.
    pub buffer_size: u32,
    /// Buffers the kernel may fill.
    pub in_ring: u32,
    /// Filled buffers waiting in a receiver for the next `recv`.
    pub queued: u32,
    /// Buffers lent to the program (`PooledBuf`s alive).
    pub lent: u32,
    /// Receives armed in the kernel (one per receiver waiting for data; they hold no buffer).
    pub armed: u32,
    /// Times a receive ran the ring dry (`ENOBUFS`) and waited for buffers to come back.
    pub exhausted: u64,
}

/// One ring entry, `struct io_uring_buf`; the tail overlays `resv` of entry 0.
#[repr(C)]
struct RawEntry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}
const _: () = assert!(size_of::<RawEntry>() == size_of::<io_uring::types::BufRingEntry>());

/// The registered ring and its buffers (see the module docs).
pub(crate) struct Pool {
    ring: NonNull<RawEntry>,
    ring_layout: Layout,
    mem: NonNull<u8>,
    mem_layout: Layout,
    cfg: BufPoolConfig,
    mask: u16,
    tail: Cell<u16>,
    in_ring: Cell<u32>,
    queued: Cell<u32>,
    lent: Cell<u32>,
    exhausted: Cell<u64>,
    /// Set when the kernel refused a multishot recv: later arms are single-shot.
    multishot: Cell<bool>,
    /// Receivers waiting for a buffer to come back after `ENOBUFS`.
    waiters: RefCell<Vec<Waker>>,
}

impl Pool {
    /// Allocates the ring and the buffers and fills the ring with every buffer. Not registered
    /// yet: the driver registers it (it owns the ring).
    pub fn new(cfg: BufPoolConfig) -> std::io::Result<Pool> {
        let count = cfg.buffers() as usize;
        let oom = || std::io::Error::from(std::io::ErrorKind::OutOfMemory);
        let ring_layout =
            Layout::from_size_align((count * size_of::<RawEntry>()).max(PAGE), PAGE).map_err(|_| oom())?;
        let mem_layout = Layout::from_size_align(count * cfg.stride, PAGE).map_err(|_| oom())?;
        // SAFETY: both layouts have a non-zero size (at least a page; `count` and `stride` are
        // at least 1 and 64, checked by `BufPoolConfig::new`).
        let ring = NonNull::new(unsafe { std::alloc::alloc_zeroed(ring_layout) }).ok_or_else(oom)?;
        // SAFETY: as above.
        let mem = match NonNull::new(unsafe { std::alloc::alloc(mem_layout) }) {
            Some(m) => m,
            None => {
                // SAFETY: `ring` was allocated just above with `ring_layout`.
                unsafe { std::alloc::dealloc(ring.as_ptr(), ring_layout) };
                return Err(oom());
            }
        };
        let pool = Pool {
            ring: ring.cast(),
            ring_layout,
            mem,
            mem_layout,
            cfg,
            mask: (count - 1) as u16,
            tail: Cell::new(0),
            in_ring: Cell::new(0),
            queued: Cell::new(0),
            lent: Cell::new(0),
            exhausted: Cell::new(0),
            multishot: Cell::new(cfg.multishot),
            waiters: RefCell::new(Vec::new()),
        };
        for bid in 0..count {
            pool.put(bid as u16);
        }
        pool.publish();
        Ok(pool)
    }

    /// The ring's address and entry count, for `register_buf_ring`.
    pub fn registration(&self) -> (u64, u16) {
        (self.ring.as_ptr() as u64, self.cfg.buffers() as u16)
    }

    pub fn stats(&self) -> BufPoolStats {
        BufPoolStats {
            buffers: self.cfg.buffers(),
            buffer_size: self.cfg.size,
            in_ring: self.in_ring.get(),
            queued: self.queued.get(),
            lent: self.lent.get(),
            exhausted: self.exhausted.get(),
            armed: 0,
        }
    }

    pub fn multishot(&self) -> bool {
        self.multishot.get()
    }

    pub fn set_multishot(&self, on: bool) {
        self.multishot.set(on);
    }

    pub fn in_ring(&self) -> u32 {
        self.in_ring.get()
    }

    /// A CQE named `bid`: it left the ring and is queued in a receiver (B1).
    pub fn taken(&self, bid: u16) -> bool {
        if u32::from(bid) >= self.cfg.buffers() {
            return false;
        }
        self.in_ring.set(self.in_ring.get().saturating_sub(1));
        self.queued.set(self.queued.get() + 1);
        true
    }

    /// A queued buffer is handed to the program.
    pub fn lend(&self) {
        self.queued.set(self.queued.get() - 1);
        self.lent.set(self.lent.get() + 1);
    }

    /// The pointer to buffer `bid`'s first byte.
    pub fn buf_ptr(&self, bid: u16) -> *mut u8 {
        // SAFETY: `bid < count` (every bid comes from `put`'s range or a CQE checked by `taken`),
        // so the offset is inside the `count * stride` bytes of `mem`.
        unsafe { self.mem.as_ptr().add(usize::from(bid) * self.cfg.stride) }
    }

    /// Writes buffer `bid` at the ring's tail (not yet visible to the kernel).
    fn put(&self, bid: u16) {
        let tail = self.tail.get();
        // The kernel reads only the entries between its head and the published tail; at most
        // `count - 1` buffers are in the ring while `bid` is out of it (B1), so the entry at `tail`
        // is not among them (it held a buffer the kernel already took).
        // SAFETY: `tail & mask < count`, inside the ring allocation, and not an entry the kernel may
        // read (above). Fields are written through raw pointers, never through a reference covering
        // entry 0's `resv`, which is the tail the kernel reads.
        unsafe {
            let e = self.ring.as_ptr().add(usize::from(tail & self.mask));
            (&raw mut (*e).addr).write(self.buf_ptr(bid) as u64);
            (&raw mut (*e).len).write(self.cfg.size);
            (&raw mut (*e).bid).write(bid);
        }
        self.tail.set(tail.wrapping_add(1));
        self.in_ring.set(self.in_ring.get() + 1);
    }

    /// Makes the entries written so far visible to the kernel.
    fn publish(&self) {
        // SAFETY: entry 0's `resv` is the ring's tail (`io_uring_buf_ring`), a `u16` at a 2-aligned
        // address inside the allocation; the kernel reads it concurrently, so it is only ever
        // accessed atomically from this side. Release orders the entry writes before it.
        let tail = unsafe { AtomicU16::from_ptr(&raw mut (*self.ring.as_ptr()).resv) };
        tail.store(self.tail.get(), Ordering::Release);
    }

    /// A lent buffer comes back (B2): it goes to the ring's tail, and receivers starved by
    /// `ENOBUFS` are woken (pushed to `wakers` by the driver, woken at once otherwise).
    pub fn recycle(&self, bid: u16, wakers: Option<&mut Vec<Waker>>) {
        self.lent.set(self.lent.get() - 1);
        self.put(bid);
        self.publish();
        let waiting = {
            let mut w = self.waiters.borrow_mut();
            if w.is_empty() {
                return;
            }
            std::mem::take(&mut *w)
        };
        match wakers {
            Some(w) => w.extend(waiting),
            None => waiting.into_iter().for_each(Waker::wake),
        }
    }

    /// A queued buffer nobody will read (its receiver is gone) returns to the ring.
    pub fn unqueue(&self, bid: u16, wakers: Option<&mut Vec<Waker>>) {
        self.queued.set(self.queued.get() - 1);
        self.lent.set(self.lent.get() + 1);
        self.recycle(bid, wakers);
    }

    /// A receive found the ring dry: wake `waker` when a buffer comes back.
    pub fn wait_for_buffer(&self, waker: &Waker) {
        let mut w = self.waiters.borrow_mut();
        if !w.iter().any(|x| x.will_wake(waker)) {
            w.push(waker.clone());
        }
    }

    pub fn count_exhausted(&self) {
        self.exhausted.set(self.exhausted.get() + 1);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The last reference is gone, so no buffer is lent and no receiver exists; the driver's
        // reference is dropped after its ring closed, and an unclean shutdown leaks a reference
        // instead (B3), so no op can still select from the ring.
        // SAFETY: both blocks were allocated in `new` with these layouts, and (above) nothing, in
        // this process or the kernel, can touch them any more.
        unsafe {
            std::alloc::dealloc(self.ring.as_ptr().cast(), self.ring_layout);
            std::alloc::dealloc(self.mem.as_ptr(), self.mem_layout);
        }
    }
}
