//! [`Child`]: a running process, waited for through its pidfd.
//!
//! A child never outlives its handle: `wait` that is cancelled kills and reaps it (Trio's
//! `run_process` does the same), and dropping an unreaped `Child` kills it and reaps it (at once
//! if it has already exited, else on a short-lived helper thread), so no zombie is left behind.

use super::ops::{PollExit, WaitExit};
use super::pipe::{PipeReader, PipeWriter};
use crate::error::OpError;
use crate::fallback::ring_has;
use crate::fd::SharedFd;
use crate::op::{Op, OpData};
use crate::signal::Signal;
use io_uring::opcode;
use std::io;
use std::mem::zeroed;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// A spawned process. Its piped stdio are public fields: take them to read and write.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::process::Command;
/// # quartet_runtime::run(async {
/// let mut child = Command::new("sleep").arg("60").spawn()?;
/// child.kill()?;
/// let status = child.wait().await?;
/// assert!(!status.success());
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct Child {
    pid: u32,
    pidfd: SharedFd,
    status: Option<ExitStatus>,
    /// The child's stdin, if it was configured as `Stdio::piped()`.
    pub stdin: Option<PipeWriter>,
    /// The child's stdout, if it was configured as `Stdio::piped()`.
    pub stdout: Option<PipeReader>,
    /// The child's stderr, if it was configured as `Stdio::piped()`.
    pub stderr: Option<PipeReader>,
}

impl Child {
    pub(crate) fn spawn(mut std: std::process::Child) -> io::Result<Child> {
        let pid = std.id();
        let pidfd = match pidfd_open(pid) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = std.kill();
                let _ = std.wait();
                return Err(e);
            }
        };
        Ok(Child {
            pid,
            pidfd: SharedFd::new(pidfd),
            status: None,
            stdin: std.stdin.take().map(|s| PipeWriter::from_owned(OwnedFd::from(s))),
            stdout: std.stdout.take().map(|s| PipeReader::from_owned(OwnedFd::from(s))),
            stderr: std.stderr.take().map(|s| PipeReader::from_owned(OwnedFd::from(s))),
        })
    }

    /// The process id (valid until the child is reaped; signal it with
    /// [`send_signal`](Child::send_signal), which cannot hit a recycled pid).
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let child = quartet_runtime::process::Command::new("sleep").arg("1").spawn()?;
    /// println!("started {}", child.id());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Waits for the child to exit, reaps it and returns its status. Closes the child's stdin
    /// first (if still held), so a child that reads to end of input can finish.
    ///
    /// Waits on the ring: `IORING_OP_WAITID` (Linux 6.7+) or a `POLL_ADD` on the child's pidfd.
    ///
    /// # Cancellation
    /// A checkpoint. A cancelled wait **kills** the child (`SIGKILL`) and reaps it before it
    /// returns `Cancelled`: the process does not outlive the scope that waited for it (Trio's
    /// `run_process`). If the child exited as the cancel arrived, its status is returned instead.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let mut child = quartet_runtime::process::Command::new("false").spawn()?;
    /// assert_eq!(child.wait().await?.code(), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn wait(&mut self) -> impl std::future::Future<Output = Result<ExitStatus, OpError>> {
        crate::fused::once(async move {
            drop(self.stdin.take());
            if let Some(s) = self.status {
                crate::task::checkpoint().await?;
                return Ok(s);
            }
            match self.exited(true).await {
                Ok(()) => {}
                Err(e) if e.is_cancelled() => {
                    self.kill_and_reap().await;
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
            match self.try_wait()? {
                Some(s) => Ok(s),
                None => Err(io::Error::other("the child was reported exited but could not be reaped").into()),
            }
        })
    }

    /// Waits (on the ring) until the child has exited, without reaping it.
    async fn exited(&self, cancellable: bool) -> Result<(), OpError> {
        if ring_has(opcode::WaitId::CODE) {
            op(WaitExit::new(self.pidfd.clone()), cancellable).await.0.map(drop)
        } else {
            op(PollExit { pidfd: self.pidfd.clone() }, cancellable).await.0.map(drop)
        }
    }

    async fn kill_and_reap(&mut self) {
        let _ = self.kill();
        if self.exited(false).await.is_ok() {
            // Reaps it. Should the ring fail to report the exit (runtime shutting down), the
            // status stays unknown and `Drop` reaps it on a helper thread instead.
            let _ = self.try_wait();
        }
    }

    /// Reaps the child if it has exited, without waiting (`waitid` with `WNOHANG`). Not a
    /// checkpoint.
    ///
    /// # Errors
    /// The `waitid` error.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let mut child = quartet_runtime::process::Command::new("sleep").arg("1").spawn()?;
    /// assert!(child.try_wait()?.is_none(), "still running");
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(s) = self.status {
            return Ok(Some(s));
        }
        self.status = reap(self.pidfd.raw(), libc::WNOHANG)?;
        Ok(self.status)
    }

    /// Sends `SIGKILL` (through the pidfd, so never to a recycled pid). Does nothing once the
    /// child has been reaped. Await [`wait`](Child::wait) afterwards to collect it.
    ///
    /// # Errors
    /// The `pidfd_send_signal` error.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let mut child = quartet_runtime::process::Command::new("sleep").arg("60").spawn()?;
    /// child.kill()?;
    /// child.wait().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.signal_number(libc::SIGKILL)
    }

    /// Sends `signal` to the child (through its pidfd). Does nothing once it has been reaped.
    ///
    /// # Errors
    /// The `pidfd_send_signal` error.
    ///
    /// # Examples
    /// ```no_run
    /// use quartet_runtime::signal::Signal;
    /// # quartet_runtime::run(async {
    /// let mut child = quartet_runtime::process::Command::new("sleep").arg("60").spawn()?;
    /// child.send_signal(Signal::Terminate)?;
    /// assert_eq!(std::os::unix::process::ExitStatusExt::signal(&child.wait().await?), Some(15));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn send_signal(&self, signal: Signal) -> io::Result<()> {
        self.signal_number(signal.number())
    }

    fn signal_number(&self, sig: libc::c_int) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        // SAFETY: pidfd_send_signal with a valid pidfd, a null siginfo and no flags.
        let rc = unsafe {
            libc::syscall(libc::SYS_pidfd_send_signal, self.pidfd.raw(), sig, std::ptr::null::<libc::siginfo_t>(), 0)
        };
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        let _ = self.kill();
        if let Ok(None) = self.try_wait() {
            // Killed but not yet gone (it can take a moment): reap it off the loop. The pid
            // cannot be recycled before this reap, because it is this process's unreaped child.
            let pid = self.pid as libc::pid_t;
            let _ = std::thread::Builder::new().name("quartet-reaper".into()).spawn(move || {
                let mut status = 0;
                // SAFETY: waitpid on our own child with a valid out pointer.
                unsafe { libc::waitpid(pid, &mut status, 0) };
            });
        }
    }
}

fn op<T: OpData>(data: T, cancellable: bool) -> Op<T> {
    if cancellable { Op::new(data) } else { Op::uncancellable(data) }
}

fn pidfd_open(pid: u32) -> io::Result<RawFd> {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 { Err(io::Error::last_os_error()) } else { Ok(fd as RawFd) }
}

/// `waitid(P_PIDFD, pidfd, WEXITED | flags)`: the status if the child was reaped, `None` if it has
/// not exited yet (only with `WNOHANG`).
fn reap(pidfd: RawFd, flags: libc::c_int) -> io::Result<Option<ExitStatus>> {
    // SAFETY: siginfo_t is plain data; all-zero is a valid value (and si_pid 0 means "none").
    let mut info: libc::siginfo_t = unsafe { zeroed() };
    // SAFETY: `info` is a valid, writable siginfo_t for the duration of the call.
    let rc = unsafe { libc::waitid(libc::P_PIDFD, pidfd as libc::id_t, &mut info, libc::WEXITED | flags) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: waitid filled `info` for a child state change (or left it zeroed: si_pid 0).
    let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
    if pid == 0 {
        return Ok(None);
    }
    let raw = match info.si_code {
        libc::CLD_EXITED => (status & 0xff) << 8,
        libc::CLD_DUMPED => status | 0x80,
        _ => status, // CLD_KILLED: the signal number
    };
    Ok(Some(ExitStatus::from_raw(raw)))
}
