//! Receives into the runtime's provided-buffer pool: [`PooledReceiver`] lends [`PooledBuf`]s.
//!
//! Why: `stream.recv(buf)` must give the kernel its buffer up front, so a server with 1,000 idle
//! connections pins 1,000 buffers. A `PooledReceiver` keeps one buffer-select recv armed on its
//! socket (multishot where the kernel has it, Linux 6.0) and the kernel takes a buffer from the
//! shared pool only when bytes arrive (`driver/buf_ring.rs`, `driver/multishot.rs`). The program
//! gets the filled buffer as a `PooledBuf`; dropping it puts it back in the pool.
//!
//! # Cancellation: nothing is lost
//! The armed recv is not tied to a `recv()` call: completions that arrive while nobody waits, or
//! after a wait was cancelled, are queued in the receiver in order and returned by the next
//! `recv()`. So a cancelled `recv()` consumed nothing ("`Cancelled` ⇒ nothing happened"), and
//! data the kernel placed in a buffer before (or while) a cancel took effect is never dropped:
//! a cancelled wait only leaves the queue; the kernel op stays armed. When the pool runs dry
//! (`ENOBUFS`) the kernel ends the multishot recv; the receiver re-arms once a buffer comes back,
//! after the bytes already queued, so order is kept. End of stream is sticky.
//!
//! Dropping the receiver cancels its armed recv and returns its queued buffers to the pool: like
//! dropping a `BufReader`, it discards bytes it had received but not handed out. The receiver
//! borrows its stream, so the stream outlives it and `close().await` (which waits for every
//! holder of the socket) cannot be called while it lives.
//!
//! # Threads
//! `PooledReceiver` and `PooledBuf` are `!Send`: returning a buffer writes the ring's tail, which
//! has a single producer (the runtime's thread) and plain `Cell` bookkeeping. A `PooledBuf` may be
//! kept after `run` returns: it holds the pool's memory alive, and returning it then is harmless
//! (the ring was closed, or leaked if ops were still in flight; see `buf_ring.rs`).

use super::{TcpStream, UnixStream};
use crate::buf::IoBuf;
use crate::cancel::{self, Park};
use crate::driver::{BufPoolStats, Pool, RecvEvent, RecvState, SharedRecv};
use crate::error::OpError;
use crate::fd::SharedFd;
use crate::kernel::context::with_core;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Why a [`PooledReceiver`] could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolUnavailable {
    /// Called outside `quartet::run`.
    #[error("no quartet runtime on this thread: call this inside quartet::run")]
    NoRuntime,
    /// The pool's memory could not be allocated.
    #[error("the provided-buffer pool could not be allocated: {0}")]
    Alloc(std::io::Error),
    /// The kernel refused `IORING_REGISTER_PBUF_RING` (it needs Linux 5.19); use `recv` instead.
    #[error("the kernel refused to register a provided-buffer ring (Linux 5.19+ needed); use recv: {0}")]
    Register(std::io::Error),
}

/// A stream a [`PooledReceiver`] can receive from.
pub trait PooledSource: sealed::Sealed {}
impl PooledSource for TcpStream {}
impl PooledSource for UnixStream {}

// The method hands out the crate's `SharedFd`; the trait cannot be named outside the crate.
#[allow(private_interfaces)]
mod sealed {
    pub trait Sealed {
        fn shared_fd(&self) -> &crate::fd::SharedFd;
    }
    impl Sealed for super::TcpStream {
        fn shared_fd(&self) -> &crate::fd::SharedFd {
            self.shared_fd()
        }
    }
    impl Sealed for super::UnixStream {
        fn shared_fd(&self) -> &crate::fd::SharedFd {
            self.shared_fd()
        }
    }
}

/// The receiving side of a stream, fed from the runtime's buffer pool (see the module docs).
///
/// The pool's shape is set with [`Builder::buf_pool`](crate::Builder::buf_pool); it is allocated
/// and registered with the kernel when the first receiver is made.
///
/// # Examples
/// An echo loop that sends each lent buffer straight back (it returns to the pool when the send
/// is done with it):
/// ```no_run
/// use quartet_runtime::net::{PooledReceiver, TcpStream};
/// async fn echo(stream: TcpStream) -> Result<(), Box<dyn std::error::Error>> {
///     let rx = PooledReceiver::new(&stream)?;
///     while let Some(buf) = rx.recv().await? {
///         let (sent, _buf) = stream.send_all(buf).await;
///         sent?;
///     }
///     Ok(())
/// }
/// ```
/// The receiver borrows its stream: closing the stream while it lives does not compile (the
/// close would wait for the receiver's hold on the socket forever).
/// ```compile_fail
/// use quartet_runtime::net::{PooledReceiver, TcpStream};
/// async fn close_too_early(stream: TcpStream) {
///     let rx = PooledReceiver::new(&stream).unwrap();
///     stream.close().await.unwrap(); // error: `stream` is borrowed by `rx`
///     drop(rx);
/// }
/// ```
pub struct PooledReceiver<'s> {
    /// Borrowed, so the stream cannot be closed or dropped while the receiver lives (`close`
    /// would wait forever for this holder); each armed recv holds its own clone (H5).
    fd: &'s SharedFd,
    pool: Rc<Pool>,
    state: SharedRecv,
    core: u64,
}

impl fmt::Debug for PooledReceiver<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("PooledReceiver").field("fd", &self.fd.raw()).field("queued", &st.queue.len()).finish()
    }
}

impl<'s> PooledReceiver<'s> {
    /// A receiver for `stream`. Nothing is submitted until the first [`recv`](Self::recv).
    ///
    /// # Errors
    /// [`PoolUnavailable`]: outside a runtime, or the kernel has no provided-buffer rings.
    pub fn new<S: PooledSource>(stream: &'s S) -> Result<PooledReceiver<'s>, PoolUnavailable> {
        let made = with_core(|c| (c.id, c.driver.borrow_mut().buf_pool()));
        let (core, pool) = made.ok_or(PoolUnavailable::NoRuntime)?;
        let pool = pool.map_err(
            |(registering, e)| {
                if registering { PoolUnavailable::Register(e) } else { PoolUnavailable::Alloc(e) }
            },
        )?;
        Ok(PooledReceiver { fd: stream.shared_fd(), pool, state: Rc::default(), core })
    }

    /// Receives the next bytes: `Some(buf)` with at least one byte, or `None` at end of stream.
    ///
    /// # Cancellation
    /// A checkpoint. `Cancelled` means nothing was consumed: bytes that arrived meanwhile are
    /// returned by the next call.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn demo(stream: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
    /// let rx = quartet_runtime::net::PooledReceiver::new(&stream).unwrap();
    /// if let Some(buf) = rx.recv().await? {
    ///     println!("{} bytes: {:?}", buf.len(), &buf[..]);
    /// } // `buf` is back in the pool here
    /// # Ok(()) }
    /// ```
    pub fn recv(&self) -> RecvPooled<'_, 's> {
        RecvPooled { rx: self, park: Park::new(), started: false, done: false }
    }
}

impl Drop for PooledReceiver<'_> {
    fn drop(&mut self) {
        let mut st = self.state.borrow_mut();
        st.closed = true;
        st.wakers.clear();
        let armed = st.armed;
        let queued: Vec<RecvEvent> = st.queue.drain(..).collect();
        drop(st);
        for ev in queued {
            if let RecvEvent::Data { bid, .. } = ev {
                self.pool.unqueue(bid, None);
            }
        }
        if let Some(ud) = armed {
            // Off the runtime's thread or after it ended there is nothing to disarm: the
            // receiver is `!Send`, so the runtime is gone and its drain ended the recv.
            with_core(|c| {
                if c.id == self.core {
                    c.driver.borrow_mut().disarm_recv(ud);
                }
            });
        }
    }
}

/// The future of [`PooledReceiver::recv`]. Polled again after it returned, it answers
/// `Err(OpError::Io(..))` wrapping a `Cancelled` with
/// [`Reason::PolledAfterCompletion`](crate::Reason::PolledAfterCompletion) (misuse, not a
/// cancellation) and arms no receive.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct RecvPooled<'a, 's> {
    rx: &'a PooledReceiver<'s>,
    park: Park,
    started: bool,
    /// Returned `Ready`: a later poll is misuse, answered without arming a receive.
    done: bool,
}

impl Future for RecvPooled<'_, '_> {
    type Output = Result<Option<PooledBuf>, OpError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(Err(crate::fused::PolledAgain::polled_again()));
        }
        let out = this.poll_once(cx);
        this.done = out.is_ready();
        out
    }
}

impl RecvPooled<'_, '_> {
    fn poll_once(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<PooledBuf>, OpError>> {
        let this = self;
        if !std::mem::replace(&mut this.started, true) {
            if let Some(c) = cancel::current() {
                return Poll::Ready(Err(c.into()));
            }
        }
        let rx = this.rx;
        let mut st = rx.state.borrow_mut();
        // Served first: what the kernel delivered is returned even if a cancel came since.
        if let Some(out) = take_front(&mut st, &rx.pool) {
            drop(st);
            this.park.unpark();
            return Poll::Ready(out);
        }
        if let Err(c) = this.park.park(cx) {
            return Poll::Ready(Err(c.into()));
        }
        if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            st.wakers.push(cx.waker().clone());
        }
        if st.armed.is_some() {
            return Poll::Pending;
        }
        if rx.pool.in_ring() == 0 {
            // The ring is dry (M2): arm once a buffer comes back.
            rx.pool.wait_for_buffer(cx.waker());
            return Poll::Pending;
        }
        drop(st);
        let armed = with_core(|c| {
            if c.id == rx.core {
                c.driver.borrow_mut().arm_recv(rx.fd, &rx.state, &rx.pool);
            }
            c.id == rx.core
        });
        if armed == Some(true) {
            return Poll::Pending;
        }
        this.park.unpark();
        Poll::Ready(Err(OpError::NoRuntime))
    }
}

/// Takes the front event, if any. End of stream stays queued (it is sticky).
fn take_front(st: &mut RecvState, pool: &Rc<Pool>) -> Option<Result<Option<PooledBuf>, OpError>> {
    match st.queue.front()? {
        RecvEvent::Eof => Some(Ok(None)),
        _ => match st.queue.pop_front()? {
            RecvEvent::Data { bid, len } => {
                pool.lend();
                Some(Ok(Some(PooledBuf { pool: pool.clone(), bid, len })))
            }
            RecvEvent::Err(errno) => Some(Err(OpError::from_errno(errno))),
            RecvEvent::Eof => None,
        },
    }
}

/// Bytes received into a pool buffer, lent to the program; dropping it returns the buffer to the
/// pool.
///
/// It dereferences to the received bytes (`&[u8]`, and `&mut [u8]` to edit them in place) and is
/// an [`IoBuf`], so it can be sent as it is: `stream.send_all(buf)` returns it to the pool once
/// the send is done with it. `!Send`: see the module docs.
///
/// # Examples
/// ```no_run
/// # async fn demo(stream: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
/// let rx = quartet_runtime::net::PooledReceiver::new(&stream).unwrap();
/// let mut buf = rx.recv().await?.expect("not at end of stream");
/// buf.make_ascii_uppercase();
/// let owned: Vec<u8> = buf.to_vec(); // keep the bytes, give the buffer back
/// drop(buf);
/// # Ok(()) }
/// ```
/// A lent buffer cannot be sent to another thread:
/// ```compile_fail
/// fn on_another_thread<T: Send + 'static>(t: T) {
///     std::thread::spawn(move || drop(t));
/// }
/// async fn hand_off(rx: &quartet_runtime::net::PooledReceiver<'_>) {
///     let buf = rx.recv().await.unwrap().unwrap();
///     on_another_thread(buf); // error: `PooledBuf` cannot be sent between threads
/// }
/// ```
pub struct PooledBuf {
    pool: Rc<Pool>,
    bid: u16,
    len: u32,
}

impl fmt::Debug for PooledBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBuf").field("bid", &self.bid).field("len", &self.len).finish()
    }
}

impl std::ops::Deref for PooledBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the kernel wrote `len <= size` bytes at buffer `bid` before posting the CQE
        // that named it; the buffer is out of the ring while this value lives (B1), so nothing
        // else writes it, and the pool's memory lives as long as `self.pool`.
        unsafe { std::slice::from_raw_parts(self.pool.buf_ptr(self.bid), self.len as usize) }
    }
}

impl std::ops::DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes this the only access to the buffer.
        unsafe { std::slice::from_raw_parts_mut(self.pool.buf_ptr(self.bid), self.len as usize) }
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

// SAFETY: the bytes live in the pool's heap block, which does not move when the `PooledBuf`
// moves and is kept alive by its `Rc`; `len` initialised bytes; `len` never changes.
unsafe impl IoBuf for PooledBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.pool.buf_ptr(self.bid)
    }
    fn bytes_init(&self) -> usize {
        self.len as usize
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        self.pool.recycle(self.bid, None);
    }
}

/// The runtime's buffer-pool accounting, or `None` outside a runtime or before the pool exists.
///
/// # Examples
/// ```
/// quartet_runtime::run(async {
///     assert_eq!(quartet_runtime::net::buf_pool_stats(), None); // no receiver made yet
/// }).unwrap();
/// ```
pub fn buf_pool_stats() -> Option<BufPoolStats> {
    with_core(|c| c.driver.borrow().buf_pool_stats()).flatten()
}
