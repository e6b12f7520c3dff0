//! The driver's counters.

/// Counters a program can read through [`crate::stats`].
///
/// # Examples
/// ```
/// quartet_runtime::run(async {
///     let before = quartet_runtime::stats().unwrap().driver;
///     for _ in 0..10 {
///         quartet_runtime::nop().await.unwrap();
///     }
///     let after = quartet_runtime::stats().unwrap().driver;
///     println!("{} syscalls for {} ops", after.enters - before.enters, after.ops - before.ops);
/// }).unwrap();
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DriverStats {
    /// `io_uring_enter` calls.
    pub enters: u64,
    /// SQEs handed to the kernel (ops, cancels, closes, wake reads).
    pub sqes: u64,
    /// Completions reaped.
    pub cqes: u64,
    /// Completions ignored because their slot was stale or unknown.
    pub stale: u64,
    /// Times an SQE had to wait in the backlog because the SQ was full.
    pub sq_full: u64,
    /// Ops submitted by futures.
    pub ops: u64,
    /// `IORING_OP_MSG_RING`s this ring sent to wake another core's kernel.
    pub msg_ring_sent: u64,
    /// Of those, the ones that failed and were replaced by an eventfd write.
    pub msg_ring_failed: u64,
    /// Remote wakes this ring received as a MSG_RING completion from another core's ring.
    pub remote_wakes_msg_ring: u64,
    /// Remote wakes this ring received through its eventfd read.
    pub remote_wakes_eventfd: u64,
    /// Blocking waits that began with a busy-poll ([`Builder::busy_poll`](crate::Builder::busy_poll)).
    pub busy_polls: u64,
    /// Busy-polls that found a completion, so the loop did not block.
    pub busy_poll_hits: u64,
}
