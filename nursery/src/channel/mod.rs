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
mod receiver;
mod sender;

use bounded::{Chan, RECV_Q, RecvOp, SEND_Q, UNBOUNDED};
pub use error::{RecvError, SendError, TryRecvError, TrySendError};
use quartet_runtime::sync::Arc;
pub use receiver::{Receiver, RecvFuture};
pub use sender::{SendFuture, Sender};

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
///
/// # Examples
/// ```
/// use quartet_nursery::channel;
/// let (tx, rx) = channel::channel::<u8>(4);
/// tx.try_send(1).unwrap();
/// let s = rx.statistics();
/// assert_eq!((s.buffer_used, s.capacity, s.senders, s.receivers), (1, Some(4), 1, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
