//! "On the ring if the kernel can, else on a worker thread": the one decision every optional
//! opcode makes (issue 13).
//!
//! The probe at startup records which opcodes the ring supports ([`crate::driver::Opcodes`]).
//! An operation asks [`ring_has`] for its opcode; when the answer is no it runs the plain syscall
//! through [`blocking`], which is [`to_thread`](crate::thread::to_thread) with the result flattened.
//! Both paths keep "Cancelled ⇒ nothing happened": a ring op by the cancel protocol, a worker job
//! because cancellation is only delivered before the job starts (a started job runs to its end and
//! its result is returned).

use crate::error::OpError;
use crate::kernel::context::with_core;
use std::io;

/// True if this thread's runtime may use the ring for `code` (false outside `run`).
pub(crate) fn ring_has(code: u8) -> bool {
    with_core(|c| c.driver.borrow().opcodes.has(code)).unwrap_or(false)
}

/// Runs a blocking syscall wrapper on a worker thread and returns its result.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, OpError>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    Ok(crate::thread::to_thread(f).await??)
}
