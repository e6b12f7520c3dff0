//! The receiving half of a channel, its receive future and its `Stream` (see the parent
//! module for the rules).

use super::bounded::{self, Chan, RecvOp};
use super::error::{RecvError, TryRecvError};
use super::{ChannelStats, stats};
use futures_core::Stream;
use quartet_runtime::sync::Arc;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

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
    pub(super) chan: Arc<Chan<T>>,
    pub(super) closed: bool,
    /// The receive that `poll_next` drives.
    pub(super) stream: RecvOp<T>,
}

impl<T> Receiver<T> {
    /// Receives the next value, waiting while there is none. `Ok(None)` means the channel has
    /// ended: every sender is closed and the buffer is drained.
    ///
    /// # Errors
    /// [`RecvError::Closed`] if this handle was closed, [`RecvError::Cancelled`] (below).
    ///
    /// # Cancellation
    /// A checkpoint: it fails on entry in a cancelled scope (also on a closed handle: the
    /// cancellation comes first, as in Trio), and otherwise yields at least once, even when a
    /// value is ready (a closed handle's refusal returns at once). If it returns `Cancelled`, it took nothing from the channel. If
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
        RecvFuture { rx: self, op: ManuallyDrop::new(op) }
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
    /// Dropped by hand in `Drop` (`release`), which costs one test when the op has finished:
    /// the drop glue of the whole state machine is a call on every send or receive otherwise.
    op: ManuallyDrop<RecvOp<T>>,
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

impl<T> RecvFuture<'_, T> {
    /// True once the future has returned `Ready`: polling it again then returns
    /// `Err(RecvError::Cancelled)` with [`Reason::PolledAfterCompletion`](quartet_runtime::Reason::PolledAfterCompletion)
    /// (not a cancellation), never a panic.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// # quartet_runtime::run(async {
    /// let (tx, rx) = channel::channel::<u8>(1);
    /// tx.try_send(7)?;
    /// let mut fut = rx.recv();
    /// assert_eq!((&mut fut).await?, Some(7));
    /// assert!(fut.is_terminated());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn is_terminated(&self) -> bool {
        self.op.is_done()
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        self.op.abandon(&self.rx.chan);
        self.op.release();
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture").finish_non_exhaustive()
    }
}
