//! Errors of the memory channels. Every send error gives the value back.

use quartet_runtime::Cancelled;
use std::fmt;

/// Why [`Sender::send`](super::Sender::send) did not deliver its value; the value is inside.
///
/// # Examples
/// ```
/// use quartet_nursery::channel;
/// # quartet_runtime::run(async {
/// let (tx, rx) = channel::channel::<String>(0);
/// drop(rx);
/// match tx.send("lost?".to_string()).await {
///     Err(channel::SendError::Broken(v)) => assert_eq!(v, "lost?"), // the value comes back
///     other => panic!("{other:?}"),
/// }
/// # }).unwrap();
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum SendError<T> {
    /// Every receiver is closed or dropped: nobody can ever receive the value.
    #[error("channel broken: every receiver is closed")]
    Broken(T),
    /// This sender handle was closed.
    #[error("this sender was closed")]
    Closed(T),
    /// An enclosing scope was cancelled; the value was not delivered.
    #[error("send was cancelled")]
    Cancelled {
        /// The value that was not sent.
        value: T,
        /// The cancellation.
        #[source]
        cancelled: Cancelled,
    },
}

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// # quartet_runtime::run(async {
    /// let (tx, rx) = channel::channel::<Vec<u8>>(0);
    /// drop(rx);
    /// let buf = tx.send(vec![1, 2]).await.unwrap_err().into_inner(); // reuse the value
    /// assert_eq!(buf, [1, 2]);
    /// # }).unwrap();
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendError::Broken(v) | SendError::Closed(v) | SendError::Cancelled { value: v, .. } => v,
        }
    }

    /// True for a cancellation.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// # quartet_runtime::run(async {
    /// let (tx, rx) = channel::channel::<u8>(0);
    /// drop(rx);
    /// assert!(!tx.send(1).await.unwrap_err().is_cancelled()); // broken, not cancelled
    /// # }).unwrap();
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, SendError::Cancelled { .. })
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Broken(_) => f.write_str("Broken(..)"),
            SendError::Closed(_) => f.write_str("Closed(..)"),
            SendError::Cancelled { cancelled, .. } => {
                f.debug_struct("Cancelled").field("cancelled", cancelled).finish_non_exhaustive()
            }
        }
    }
}

/// Why [`Sender::try_send`](super::Sender::try_send) did not deliver its value; the value is
/// inside.
///
/// # Examples
/// ```
/// use quartet_nursery::channel;
/// let (tx, _rx) = channel::channel::<u8>(0);
/// // Capacity 0 and no receiver waiting: sending would have to wait.
/// assert!(matches!(tx.try_send(1), Err(channel::TrySendError::Full(1))));
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum TrySendError<T> {
    /// Sending would have to wait: the buffer is full and no receiver is waiting.
    #[error("channel full")]
    Full(T),
    /// Every receiver is closed or dropped.
    #[error("channel broken: every receiver is closed")]
    Broken(T),
    /// This sender handle was closed.
    #[error("this sender was closed")]
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use quartet_nursery::channel;
    /// let (tx, _rx) = channel::channel::<&str>(0);
    /// assert_eq!(tx.try_send("v").unwrap_err().into_inner(), "v");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Broken(v) | TrySendError::Closed(v) => v,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Broken(_) => "Broken(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}

/// Why [`Receiver::recv`](super::Receiver::recv) did not return a value. (The end of the channel
/// is not an error: `recv` returns `Ok(None)`.)
///
/// # Examples
/// ```
/// use quartet_nursery::channel;
/// # quartet_runtime::run(async {
/// let (_tx, mut rx) = channel::channel::<u8>(0);
/// rx.close();
/// assert_eq!(rx.recv().await, Err(channel::RecvError::Closed));
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecvError {
    /// This receiver handle was closed.
    #[error("this receiver was closed")]
    Closed,
    /// An enclosing scope was cancelled; nothing was taken from the channel.
    #[error("recv was cancelled")]
    Cancelled(#[from] Cancelled),
}

/// Why [`Receiver::try_recv`](super::Receiver::try_recv) did not return a value.
///
/// # Examples
/// ```
/// use quartet_nursery::channel;
/// let (tx, rx) = channel::channel::<u8>(0);
/// assert_eq!(rx.try_recv(), Err(channel::TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(channel::TryRecvError::EndOfChannel));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TryRecvError {
    /// Nothing to receive right now.
    #[error("channel empty")]
    Empty,
    /// Every sender is closed and the buffer is drained: nothing will ever arrive.
    #[error("end of channel: every sender is closed")]
    EndOfChannel,
    /// This receiver handle was closed.
    #[error("this receiver was closed")]
    Closed,
}
