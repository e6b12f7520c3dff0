//! Memory channels between tasks (semantics §5.1): [`channel`] and [`unbounded_channel`].
//!
//! A channel has separate [`Sender`] and [`Receiver`] halves; clone a half for each producer or
//! consumer. Capacity 0 (a rendezvous: every send waits for its receive) is the recommended
//! default, because it keeps producers in step with consumers; a bounded buffer gives
//! backpressure when it is full; an unbounded buffer never makes senders wait and must be asked
//! for by name.
//!
//! - Receivers see the end of the channel (`Ok(None)`) only once every sender handle is closed or
//!   dropped and the buffer is drained.
//! - Senders get [`SendError::Broken`] once every receiver handle is closed or dropped; the value
//!   comes back inside the error.
//! - `close` is synchronous and closes that one handle.
//! - Send and receive are checkpoints and atomic with respect to cancellation: a cancelled send
//!   delivered nothing and returns the value; a cancelled receive took nothing. Values are
//!   delivered in FIFO order to receivers in FIFO order.
//! - Both halves are `Send + Sync` when `T: Send` (the receiver is `Sync` when `T` is too), so the
//!   two ends may live on different threads; the cross-thread races are model-checked in
//!   `nursery/tests/loom_channel.rs`.

mod bounded;
mod error;

use bounded::{Chan, RECV_Q, RecvOp, Refused, SEND_Q, SendOp, UNBOUNDED};
pub use error::{RecvError, SendError, TryRecvError, TrySendError};
use futures_core::Stream;
use quartet_runtime::sync::Arc;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Creates a channel that buffers up to `capacity` values; `0` makes every send wait for a
/// receiver (a rendezvous, the recommended default).
///
/// # Examples
/// ```no_run
/// quartet_runtime::run(async {
///     let (tx, rx) = quartet_nursery::channel::<u32>(0);
///     quartet_nursery::nursery(async |n| {
///         n.spawn(async move {
///             for i in 0..3 {
///                 tx.send(i).await?;
///             }
///             Ok::<_, quartet_nursery::channel::SendError<u32>>(())
///         })?; // the sender is dropped when the producer ends: the channel ends
///         while let Some(v) = rx.recv().await? {
///             println!("got {v}");
///         }
///         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
///     })
///     .await
/// }).unwrap().unwrap();
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    with_capacity(capacity)
}

/// Creates a channel whose buffer grows without bound: a send never waits (but is still a
/// checkpoint). Prefer [`channel`]; an unbounded buffer hides a consumer that cannot keep up.
///
/// # Examples
/// ```
/// use quartet_nursery::channel;
/// # quartet_runtime::run(async {
/// let (tx, rx) = quartet_nursery::unbounded_channel::<u32>();
/// for i in 0..1000 {
///     tx.send(i).await?; // never waits
/// }
/// drop(tx);
/// let mut n = 0;
/// while rx.recv().await?.is_some() {
///     n += 1;
/// }
/// assert_eq!(n, 1000);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
pub fn unbounded_channel<T>() -> (Sender<T>, Receiver<T>) {
    with_capacity(UNBOUNDED)
}

fn with_capacity<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(capacity));
    (Sender { chan: chan.clone(), closed: false }, Receiver { chan, closed: false, stream: RecvOp::Start })
}

/// A snapshot of a channel's state (the same from every handle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
///
/// # Examples
/// ```
/// use quartet_nursery::channel;
/// let (tx, rx) = channel::channel::<u8>(4);
/// tx.try_send(1).unwrap();
/// let s = rx.statistics();
/// assert_eq!((s.buffer_used, s.capacity, s.senders, s.receivers), (1, Some(4), 1, 1));
/// ```
pub struct ChannelStats {
    /// Values in the buffer.
    pub buffer_used: usize,
    /// The buffer's capacity (`None`: unbounded).
    pub capacity: Option<usize>,
    /// The most values the buffer ever held.
    pub peak_buffer_used: usize,
    /// Open sender handles.
    pub senders: usize,
    /// Open receiver handles.
    pub receivers: usize,
    /// Tasks waiting in `send`.
    pub waiting_senders: usize,
    /// Tasks waiting in `recv`.
    pub waiting_receivers: usize,
}

fn stats<T>(chan: &Chan<T>) -> ChannelStats {
    let st = chan.state();
    ChannelStats {
        buffer_used: st.buffer.len(),
        capacity: (st.capacity != UNBOUNDED).then_some(st.capacity),
        peak_buffer_used: st.peak,
        senders: st.senders,
        receivers: st.receivers,
        waiting_senders: st.waiters.len(SEND_Q),
        waiting_receivers: st.waiters.len(RECV_Q),
    }
}

/// The sending half of a channel. Clone it for each producer; the channel ends for receivers
/// when every clone is closed or dropped.
///
/// # Examples
/// ```
/// use quartet_nursery::channel;
/// # quartet_runtime::run(async {
/// let (tx, rx) = channel::channel::<String>(1);
/// let tx2 = tx.clone(); // a second producer
/// tx.send("from the first".into()).await?;
/// drop(tx);
/// assert_eq!(rx.recv().await?.as_deref(), Some("from the first"));
/// drop(tx2); // the last sender: the channel ends
/// assert_eq!(rx.recv().await?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
    closed: bool,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the buffer is full and no receiver is waiting (with capacity
    /// 0: until a receiver takes it).
    ///
    /// # Errors
    /// [`SendError::Broken`] if every receiver is gone, [`SendError::Closed`] if this handle was
    /// closed, [`SendError::Cancelled`] (below). Each gives the value back.
    ///
    /// # Cancellation
    /// A checkpoint: it fails on entry in a cancelled scope, and otherwise yields at least once,
    /// even when the value is accepted at once. If it returns `Cancelled`, the value was not
    /// delivered and is inside the error. If a receiver took the value before the send noticed
    /// the cancellation, the send returns `Ok` (the next checkpoint reports the cancellation).
    /// Dropping the future withdraws a value not yet taken.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// # quartet_runtime::run(async {
    /// let (tx, rx) = channel::channel::<u32>(1);
    /// tx.send(1).await?; // fits in the buffer
    /// drop(rx);
    /// let err = tx.send(2).await.unwrap_err(); // nobody will ever receive it
    /// assert!(matches!(err, channel::SendError::Broken(2)));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        let op = if self.closed { SendOp::Fail(SendError::Closed(value)) } else { SendOp::Start(value) };
        SendFuture { tx: self, op }
    }

    /// Sends `value` if that needs no waiting: a receiver is waiting or the buffer has room. Not
    /// a checkpoint.
    ///
    /// # Errors
    /// [`TrySendError::Full`], [`TrySendError::Broken`] or [`TrySendError::Closed`], with the
    /// value.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// let (tx, _rx) = channel::channel::<u32>(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert!(matches!(tx.try_send(2), Err(channel::TrySendError::Full(2)))); // the buffer is full
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        if self.closed {
            return Err(TrySendError::Closed(value));
        }
        let sent = self.chan.state().try_send(value);
        match sent {
            Ok(woken) => {
                if let Some(w) = woken {
                    w.wake();
                }
                Ok(())
            }
            Err(Refused::Full(v)) => Err(TrySendError::Full(v)),
            Err(Refused::Broken(v)) => Err(TrySendError::Broken(v)),
        }
    }

    /// Closes this handle (synchronously; idempotent). Other clones stay open; once all are
    /// closed, receivers see the end of the channel after draining the buffer. Later sends on
    /// this handle fail with `Closed`.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// let (mut tx, rx) = channel::channel::<u32>(1);
    /// tx.close();
    /// assert!(tx.is_closed());
    /// assert_eq!(rx.try_recv(), Err(channel::TryRecvError::EndOfChannel));
    /// ```
    pub fn close(&mut self) {
        if !std::mem::replace(&mut self.closed, true) {
            self.chan.close_sender();
        }
    }

    /// Whether this handle was closed.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// let (tx, _rx) = channel::channel::<u32>(0);
    /// assert!(!tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// A snapshot of the channel's state.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// let (tx, _rx) = channel::channel::<u32>(0);
    /// assert_eq!(tx.statistics().capacity, Some(0));
    /// ```
    pub fn statistics(&self) -> ChannelStats {
        stats(&self.chan)
    }
}

impl<T> Clone for Sender<T> {
    /// Another sender handle (a clone of a closed handle is closed).
    fn clone(&self) -> Self {
        if !self.closed {
            self.chan.state().senders += 1;
        }
        Sender { chan: self.chan.clone(), closed: self.closed }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("closed", &self.closed).field("stats", &self.statistics()).finish()
    }
}

/// The future of [`Sender::send`].
///
/// # Examples
/// ```
/// use quartet_nursery::channel;
/// # quartet_runtime::run(async {
/// let (tx, rx) = channel::channel::<u8>(1);
/// let fut: channel::SendFuture<'_, u8> = tx.send(1);
/// fut.await?;
/// assert_eq!(rx.try_recv(), Ok(1));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    tx: &'a Sender<T>,
    op: SendOp<T>,
}

// The value inside is never pinned: the future only moves it.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.op.poll(&this.tx.chan, cx)
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        self.op.abandon(&self.tx.chan);
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture").finish_non_exhaustive()
    }
}

/// The receiving half of a channel. Clone it for each consumer: each value goes to exactly one
/// receiver. Also a [`Stream`] of `Result<T, RecvError>` that ends with the channel.
///
/// # Examples
/// ```
/// use quartet_nursery::channel;
/// # quartet_runtime::run(async {
/// let (tx, rx) = channel::channel::<u32>(2);
/// tx.send(1).await?;
/// tx.send(2).await?;
/// drop(tx);
/// let mut got = Vec::new();
/// while let Some(v) = rx.recv().await? {
///     got.push(v);
/// }
/// assert_eq!(got, [1, 2]);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    closed: bool,
    /// The receive that `poll_next` drives.
    stream: RecvOp<T>,
}

impl<T> Receiver<T> {
    /// Receives the next value, waiting while there is none. `Ok(None)` means the channel has
    /// ended: every sender is closed and the buffer is drained.
    ///
    /// # Errors
    /// [`RecvError::Closed`] if this handle was closed, [`RecvError::Cancelled`] (below).
    ///
    /// # Cancellation
    /// A checkpoint: it fails on entry in a cancelled scope, and otherwise yields at least once,
    /// even when a value is ready. If it returns `Cancelled`, it took nothing from the channel. If
    /// a value was handed to it before it noticed the cancellation, it returns the value (the next
    /// checkpoint reports the cancellation). Dropping the future puts a value it was handed back
    /// at the front of the channel.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// # quartet_runtime::run(async {
    /// let (tx, rx) = channel::channel::<&str>(1);
    /// tx.send("hi").await?;
    /// assert_eq!(rx.recv().await?, Some("hi"));
    /// drop(tx);
    /// assert_eq!(rx.recv().await?, None); // the end of the channel, not an error
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn recv(&self) -> RecvFuture<'_, T> {
        let op = if self.closed { RecvOp::Fail(RecvError::Closed) } else { RecvOp::Start };
        RecvFuture { rx: self, op }
    }

    /// Receives a value if one is ready. Not a checkpoint.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`], [`TryRecvError::EndOfChannel`] or [`TryRecvError::Closed`].
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// let (tx, rx) = channel::channel::<u32>(1);
    /// assert_eq!(rx.try_recv(), Err(channel::TryRecvError::Empty));
    /// tx.try_send(5).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(5));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        if self.closed {
            return Err(TryRecvError::Closed);
        }
        let got = self.chan.state().try_recv();
        match got {
            Ok((v, woken)) => {
                if let Some(w) = woken {
                    w.wake();
                }
                Ok(v)
            }
            Err(bounded::Nothing::Empty) => Err(TryRecvError::Empty),
            Err(bounded::Nothing::End) => Err(TryRecvError::EndOfChannel),
        }
    }

    /// Closes this handle (synchronously; idempotent). Once every receiver is closed, waiting and
    /// later sends fail with `Broken` (with their values) and buffered values are dropped.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// let (tx, mut rx) = channel::channel::<u32>(1);
    /// rx.close();
    /// assert!(matches!(tx.try_send(1), Err(channel::TrySendError::Broken(1))));
    /// ```
    pub fn close(&mut self) {
        if !std::mem::replace(&mut self.closed, true) {
            self.stream.abandon(&self.chan);
            self.chan.close_receiver();
        }
    }

    /// Whether this handle was closed.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// let (_tx, mut rx) = channel::channel::<u32>(0);
    /// rx.close();
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// A snapshot of the channel's state.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// let (_tx, rx) = channel::unbounded_channel::<u32>();
    /// assert_eq!(rx.statistics().capacity, None);
    /// ```
    pub fn statistics(&self) -> ChannelStats {
        stats(&self.chan)
    }
}

impl<T> Clone for Receiver<T> {
    /// Another receiver handle (a clone of a closed handle is closed).
    fn clone(&self) -> Self {
        if !self.closed {
            self.chan.state().receivers += 1;
        }
        Receiver { chan: self.chan.clone(), closed: self.closed, stream: RecvOp::Start }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("closed", &self.closed).field("stats", &self.statistics()).finish()
    }
}

// Values inside are never pinned: the receiver only moves them.
impl<T> Unpin for Receiver<T> {}

/// Each item is one [`recv`](Receiver::recv) (with the same checkpoint and cancellation
/// behaviour); the stream ends when the channel ends, or at once on a closed handle. Use
/// `TryStreamExt::try_next` (futures-util) to stop at a cancellation.
impl<T> Stream for Receiver<T> {
    type Item = Result<T, RecvError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.closed {
            return Poll::Ready(None);
        }
        let out = std::task::ready!(this.stream.poll(&this.chan, cx));
        this.stream = RecvOp::Start;
        Poll::Ready(out.transpose())
    }
}

/// The future of [`Receiver::recv`].
///
/// # Examples
/// ```
/// use quartet_nursery::channel;
/// # quartet_runtime::run(async {
/// let (tx, rx) = channel::channel::<u8>(1);
/// tx.send(3).await?;
/// let fut: channel::RecvFuture<'_, u8> = rx.recv();
/// assert_eq!(fut.await?, Some(3));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct RecvFuture<'a, T> {
    rx: &'a Receiver<T>,
    op: RecvOp<T>,
}

// The value inside is never pinned: the future only moves it.
impl<T> Unpin for RecvFuture<'_, T> {}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Result<Option<T>, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.op.poll(&this.rx.chan, cx)
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        self.op.abandon(&self.rx.chan);
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture").finish_non_exhaustive()
    }
}
