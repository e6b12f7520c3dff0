//! The sending half of a channel and its send future (see the parent module for the rules).

use super::bounded::{Chan, Refused, SendOp};
use super::error::{SendError, TrySendError};
use super::{ChannelStats, stats};
use quartet_runtime::sync::Arc;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

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
    pub(super) chan: Arc<Chan<T>>,
    pub(super) closed: bool,
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
    /// A checkpoint: it fails on entry in a cancelled scope (also on a closed handle: the
    /// cancellation comes first, as in Trio), and otherwise yields at least once, even when the
    /// value is accepted at once (a closed handle's refusal returns at once). If it returns `Cancelled`, the value was not
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
        SendFuture { tx: self, op: ManuallyDrop::new(op) }
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
    /// Dropped by hand in `Drop` (`release`), which costs one test when the op has finished:
    /// the drop glue of the whole state machine is a call on every send or receive otherwise.
    op: ManuallyDrop<SendOp<T>>,
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

impl<T> SendFuture<'_, T> {
    /// True once the future has returned `Ready`: polling it again then returns `Pending` and
    /// never wakes (every [`SendError`] hands a value back, and a finished send has none).
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// # quartet_runtime::run(async {
    /// let (tx, _rx) = channel::channel::<u8>(1);
    /// let mut fut = tx.send(1);
    /// assert!(!fut.is_terminated());
    /// (&mut fut).await?;
    /// assert!(fut.is_terminated());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn is_terminated(&self) -> bool {
        self.op.is_done()
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        self.op.abandon(&self.tx.chan);
        self.op.release();
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture").finish_non_exhaustive()
    }
}
