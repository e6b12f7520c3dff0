//! Unix signals as awaitable events (semantics §8.3): a `signalfd` read through the ring.
//!
//! There are no signal handlers (callbacks) here. [`Signals::new`] blocks the chosen signals for
//! the calling thread, so the kernel queues them on a signalfd instead of running a default action,
//! and [`Signals::recv`] awaits the next one. The usual pattern is a child that awaits Ctrl-C and
//! cancels the root scope, so every task unwinds through its cleanup.
//!
//! Threads started after `Signals::new` inherit the mask. Threads started before it (by other
//! libraries) do not, and the kernel may deliver the signal to one of them: create `Signals`
//! early, before spawning threads.
//!
//! Child processes inherit a blocked mask too (`exec` keeps it). quartet's own
//! [`Command`](crate::process::Command) clears the mask in the child before `exec`;
//! `std::process::Command` does not, so a child started with it while a `Signals` exists would
//! ignore SIGINT/SIGTERM. Start children with quartet's `Command`, or clear the mask yourself in a
//! `pre_exec` hook.
//!
//! [`Signals`] is also a [`Stream`] of signals, for code that consumes events with stream
//! combinators; to cancel a scope on Ctrl-C/SIGTERM, `quartet::cancel_on_signals` does the usual
//! wiring.

use crate::error::OpError;
use crate::fd::SharedFd;
use crate::op::{Op, OpData};
use crate::stable::Stable;
use futures_core::Stream;
use io_uring::{opcode, squeue, types};
use std::future::Future;
use std::io;
use std::mem::{size_of, zeroed};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A signal quartet can wait for.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::signal::{Signal, Signals};
/// # quartet_runtime::run(async {
/// let signals = Signals::new(&[Signal::Hangup, Signal::Terminate])?;
/// loop {
///     match signals.recv().await? {
///         Signal::Hangup => println!("reloading the configuration"),
///         _ => break, // SIGTERM: shut down
///     }
/// }
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP.
    Hangup,
    /// SIGUSR1.
    User1,
    /// SIGUSR2.
    User2,
}

impl Signal {
    pub(crate) fn number(self) -> libc::c_int {
        match self {
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Hangup => libc::SIGHUP,
            Signal::User1 => libc::SIGUSR1,
            Signal::User2 => libc::SIGUSR2,
        }
    }

    pub(crate) fn from_number(n: u32) -> Option<Signal> {
        [Signal::Interrupt, Signal::Terminate, Signal::Hangup, Signal::User1, Signal::User2]
            .into_iter()
            .find(|s| s.number() as u32 == n)
    }
}

/// A set of signals delivered through the ring: await [`recv`](Signals::recv), or use it as a
/// [`Stream`] of `Result<Signal, OpError>` (it never ends; in a cancelled scope it yields
/// `Err(Cancelled)`, having consumed no signal).
///
/// # Examples
/// ```no_run
/// use quartet_runtime::signal::{Signal, Signals};
/// # quartet_runtime::run(async {
/// let signals = Signals::new(&[Signal::Interrupt, Signal::Terminate])?;
/// let which = signals.recv().await?;
/// println!("got {which:?}, shutting down");
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub struct Signals {
    fd: SharedFd,
    /// Signals this value blocked that were not blocked before; unblocked again on drop.
    added: libc::sigset_t,
    /// The stream's read in flight, kept across polls.
    pending: Option<Op<ReadInfo>>,
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals").field("fd", &self.fd).finish_non_exhaustive()
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        // SAFETY: `added` is an initialised sigset_t; restoring the mask takes no other pointer.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &self.added, std::ptr::null_mut()) };
    }
}

impl Signals {
    /// Blocks `signals` on this thread and opens a signalfd for them. Dropping the value unblocks
    /// the signals it blocked (their default action applies again).
    ///
    /// # Errors
    /// The `sigprocmask` or `signalfd` error.
    ///
    /// ```
    /// use quartet_runtime::signal::{Signal, Signals};
    /// let usr1 = Signals::new(&[Signal::User1])?;
    /// drop(usr1); // SIGUSR1 is unblocked again
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(signals: &[Signal]) -> io::Result<Signals> {
        // SAFETY: sigset_t is plain data; sigemptyset initialises each set before use.
        let (mut set, mut prev, mut added): (libc::sigset_t, libc::sigset_t, libc::sigset_t) =
            unsafe { (zeroed(), zeroed(), zeroed()) };
        // SAFETY: the three sets are live, initialised by sigemptyset, and the pointers are valid.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigemptyset(&mut added);
            for s in signals {
                libc::sigaddset(&mut set, s.number());
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut prev);
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            for s in signals {
                if libc::sigismember(&prev, s.number()) == 0 {
                    libc::sigaddset(&mut added, s.number());
                }
            }
        }
        // SAFETY: `set` is initialised; -1 asks for a new fd.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            // SAFETY: `added` is initialised; this undoes the block above.
            unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &added, std::ptr::null_mut()) };
            return Err(e);
        }
        Ok(Signals { fd: SharedFd::new(fd), added, pending: None })
    }

    /// Waits for the next signal of the set.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no signal was consumed.
    ///
    /// ```
    /// use quartet_runtime::signal::{Signal, Signals};
    /// # quartet_runtime::run(async {
    /// let signals = Signals::new(&[Signal::User2])?;
    /// // SAFETY: sending a signal to our own process; SIGUSR2 is blocked and queued on the signalfd.
    /// unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
    /// assert_eq!(signals.recv().await?, Signal::User2);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn recv(&self) -> impl std::future::Future<Output = Result<Signal, OpError>> {
        crate::fused::once(async move {
            loop {
                let (res, data) = self.read_op().await;
                if let Some(s) = decode(res?, &data) {
                    return Ok(s);
                }
            }
        })
    }

    fn read_op(&self) -> Op<ReadInfo> {
        // SAFETY: signalfd_siginfo is plain data; all-zero is valid.
        let info: libc::signalfd_siginfo = unsafe { zeroed() };
        Op::new(ReadInfo { fd: self.fd.clone(), info: Stable::new(info) })
    }
}

/// The signal a completed read delivered, if it was a whole record of a signal we know.
fn decode(n: u32, data: &ReadInfo) -> Option<Signal> {
    (n as usize == size_of::<libc::signalfd_siginfo>()).then(|| Signal::from_number(data.info.ssi_signo)).flatten()
}

/// # Cancellation
/// Each poll is a checkpoint: `Some(Err(Cancelled))` means no signal was consumed.
impl Stream for Signals {
    type Item = Result<Signal, OpError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let op = match &mut this.pending {
                Some(op) => op,
                None => this.pending.insert(this.read_op()),
            };
            let (res, data) = std::task::ready!(Pin::new(op).poll(cx));
            this.pending = None;
            match res {
                Ok(n) => {
                    if let Some(s) = decode(n, &data) {
                        return Poll::Ready(Some(Ok(s)));
                    }
                }
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}

struct ReadInfo {
    fd: SharedFd,
    /// The record the kernel reads into; read (`decode`) after the final completion only.
    info: Stable<libc::signalfd_siginfo>,
}

// SAFETY: the SQE points at `info`, a `Stable` block `self` owns (its address does not change
// when `self` moves; freed only when `self` is dropped), with its exact size.
unsafe impl OpData for ReadInfo {
    const NAME: &'static str = "ReadInfo";
    fn sqe(&mut self) -> squeue::Entry {
        let ptr = self.info.as_ptr().cast::<u8>();
        opcode::Read::new(types::Fd(self.fd.raw()), ptr, size_of::<libc::signalfd_siginfo>() as u32).build()
    }
}
