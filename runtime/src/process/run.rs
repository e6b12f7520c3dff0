//! [`run_process`]: run a command to completion, capture its output, check its status.

use super::command::Command;
use super::pipe::PipeReader;
use crate::error::OpError;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::process::{ExitStatus, Output, Stdio};
use std::task::Poll;

/// Why [`run_process`] failed.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::process::{Command, ProcessError, run_process};
/// # quartet_runtime::run(async {
/// match run_process(&mut Command::new("false")).await {
///     Err(e @ ProcessError::Failed { .. }) => assert_eq!(e.status().and_then(|s| s.code()), Some(1)),
///     Err(e) if e.is_cancelled() => {} // a cancel scope absorbs it
///     other => panic!("{other:?}"),
/// }
/// # }).unwrap();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// The process could not be started.
    #[error("could not start {program}: {source}")]
    Spawn {
        /// The program, as given to [`Command::new`].
        program: String,
        /// The spawn error (`NotFound` for a missing program...).
        #[source]
        source: io::Error,
    },
    /// The process ran and exited unsuccessfully (non-zero code or killed by a signal).
    #[error("{program} failed ({status}): {}", String::from_utf8_lossy(stderr).trim_end())]
    Failed {
        /// The program, as given to [`Command::new`].
        program: String,
        /// How it exited.
        status: ExitStatus,
        /// Everything it wrote to stdout.
        stdout: Vec<u8>,
        /// Everything it wrote to stderr.
        stderr: Vec<u8>,
    },
    /// Reading its output or waiting for it failed, or was cancelled (then the child was killed
    /// and reaped; see [`is_cancelled`](ProcessError::is_cancelled)).
    #[error("running {program}: {source}")]
    Io {
        /// The program, as given to [`Command::new`].
        program: String,
        /// The error; a cancellation is recognised through it by `is_cancellation`.
        #[source]
        source: OpError,
    },
}

impl ProcessError {
    /// True if the run was cancelled by an enclosing scope.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, ProcessError::Io { source, .. } if source.is_cancelled())
    }

    /// The exit status, for [`ProcessError::Failed`].
    pub fn status(&self) -> Option<ExitStatus> {
        match self {
            ProcessError::Failed { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Runs `cmd` to completion with stdout and stderr captured (stdin is empty unless `cmd` set it),
/// and returns its output if it exited successfully.
///
/// Output is read while the child runs, so a child that writes more than a pipe holds does not
/// block.
///
/// # Errors
/// [`ProcessError::Spawn`] if it could not start, [`ProcessError::Failed`] (with status, stdout
/// and stderr) if it exited unsuccessfully, [`ProcessError::Io`] if reading or waiting failed.
///
/// # Cancellation
/// A checkpoint. A cancelled run kills the child (`SIGKILL`), reaps it, and returns
/// [`ProcessError::Io`] holding `Cancelled` (recognised by `is_cancellation`, so a cancel scope
/// absorbs it). No process is left running or unreaped.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::process::{Command, ProcessError, run_process};
/// # quartet_runtime::run(async {
/// match run_process(Command::new("sh").args(["-c", "echo oops >&2; exit 3"])).await {
///     Err(ProcessError::Failed { status, stderr, .. }) => {
///         assert_eq!(status.code(), Some(3));
///         assert_eq!(stderr, b"oops\n");
///     }
///     other => panic!("{other:?}"),
/// }
/// # }).unwrap();
/// ```
pub fn run_process(cmd: &mut Command) -> impl std::future::Future<Output = Result<Output, ProcessError>> {
    crate::fused::once_pending(async move {
        let program = cmd.get_program().to_string_lossy().into_owned();
        crate::task::checkpoint().await.map_err(|c| ProcessError::Io { program: program.clone(), source: c.into() })?;
        if !cmd.stdin_was_set() {
            cmd.stdin(Stdio::null());
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| ProcessError::Spawn { program: program.clone(), source })?;
        let (out, err) = (child.stdout.take(), child.stderr.take());
        let (stdout, stderr, status) = join3(drain(out), drain(err), child.wait()).await;
        let io = |source| ProcessError::Io { program: program.clone(), source };
        // A cancellation (the wait killed and reaped the child) is the most important report.
        let status = status.map_err(io)?;
        let (stdout, stderr) = (stdout.map_err(io)?, stderr.map_err(io)?);
        if status.success() {
            Ok(Output { status, stdout, stderr })
        } else {
            Err(ProcessError::Failed { program, status, stdout, stderr })
        }
    })
}

/// Reads a pipe to its end (and drops it, so a child never blocks on a pipe nobody reads).
async fn drain(pipe: Option<PipeReader>) -> Result<Vec<u8>, OpError> {
    let Some(pipe) = pipe else { return Ok(Vec::new()) };
    let (res, buf) = pipe.read_to_end(Vec::new()).await;
    res.map(|_| buf)
}

/// Polls three futures on this task until all have finished.
async fn join3<A: Future, B: Future, C: Future>(a: A, b: B, c: C) -> (A::Output, B::Output, C::Output) {
    let (mut a, mut b, mut c) = (Box::pin(a), Box::pin(b), Box::pin(c));
    let (mut ra, mut rb, mut rc) = (None, None, None);
    poll_fn(|cx| {
        poll_slot(a.as_mut(), &mut ra, cx);
        poll_slot(b.as_mut(), &mut rb, cx);
        poll_slot(c.as_mut(), &mut rc, cx);
        if ra.is_some() && rb.is_some() && rc.is_some() { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    (ra.expect("a done"), rb.expect("b done"), rc.expect("c done"))
}

fn poll_slot<F: Future>(f: Pin<&mut F>, slot: &mut Option<F::Output>, cx: &mut std::task::Context<'_>) {
    if slot.is_none() {
        if let Poll::Ready(v) = f.poll(cx) {
            *slot = Some(v);
        }
    }
}
