//! Child processes with quartet streams for their stdio (issue 13).
//!
//! [`Command`] spawns a [`Child`]; piped stdin/stdout/stderr are [`PipeWriter`]/[`PipeReader`]
//! owned-buffer streams read and written with ring ops. [`Child::wait`] waits on the ring
//! through the child's pidfd (`IORING_OP_WAITID` where the kernel has it, 6.7+, else a `POLL_ADD`
//! on the pidfd) and then reaps it. [`run_process`] runs a command to completion, capturing its
//! output, and fails with a [`ProcessError`] naming the status and stderr if it did not succeed.
//!
//! Structured concurrency extends to processes: a child does not outlive the code that owns it.
//! A cancelled `wait` (and so a cancelled `run_process`) kills and reaps the child, as Trio's
//! `run_process` does, and dropping a `Child` that was never reaped kills and reaps it.
//!
//! # Examples
//! ```no_run
//! use quartet_runtime::process::{Command, run_process};
//! # quartet_runtime::run(async {
//! let out = run_process(Command::new("uname").arg("-s")).await?;
//! assert_eq!(out.stdout, b"Linux\n");
//! # Ok::<(), quartet_runtime::process::ProcessError>(()) }).unwrap().unwrap();
//! ```

mod child;
mod command;
mod ops;
mod pipe;
mod run;

pub use child::Child;
pub use command::Command;
pub use pipe::{PipeReader, PipeWriter, pipe};
pub use run::{ProcessError, run_process};
