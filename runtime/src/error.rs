//! Error types of the runtime: startup failures, cancellation, and the result of an I/O op.
//!
//! `Cancelled` is its own type and is never folded into `io::Error`: the scope that catches a
//! cancellation recognises it by type (see [`is_cancellation`]).

use std::error::Error as StdError;
use std::fmt;
use std::io;

/// Why quartet could not start or keep running.
///
/// `Debug` prints the same text as `Display` (cause and remedy), because that is what a
/// `fn main() -> Result<(), quartet::Error>` shows the user.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// io_uring cannot be used on this machine.
    #[error("io_uring is unavailable: {0}")]
    Unavailable(#[from] Unavailable),
    /// `run` was called on a thread that is already inside `run`.
    #[error("quartet::run was called from inside a running quartet runtime; nest scopes with nurseries instead")]
    NestedRuntime,
    /// The ring failed while the runtime was running.
    #[error("io_uring_enter failed: {0}")]
    Ring(#[source] io::Error),
    /// A builder setting is out of range.
    #[error("invalid runtime configuration: {0}")]
    Config(String),
}

/// The cause of an unusable io_uring, and what to do about it.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Unavailable {
    /// `io_uring_setup` does not exist (ENOSYS): the kernel is too old or built without io_uring.
    #[error(
        "the kernel has no io_uring (ENOSYS); remedy: run on Linux >= 5.19 (6.1 or newer recommended) built with CONFIG_IO_URING=y"
    )]
    NotSupported,
    /// The `kernel.io_uring_disabled` sysctl forbids io_uring for this process.
    #[error(
        "io_uring is disabled by the sysctl kernel.io_uring_disabled={value} (EPERM); remedy: `sysctl -w kernel.io_uring_disabled=0`, or with value 1 add this user to the group in kernel.io_uring_group"
    )]
    DisabledBySysctl {
        /// The sysctl's value (1 or 2).
        value: u8,
    },
    /// A seccomp filter (for example Docker's default profile) refused `io_uring_setup`.
    #[error(
        "io_uring_setup was refused (EPERM) while kernel.io_uring_disabled allows it, most likely by a seccomp filter such as a container runtime's default profile; remedy: allow the io_uring_setup, io_uring_enter and io_uring_register syscalls (e.g. `docker run --security-opt seccomp=<profile allowing io_uring>`)"
    )]
    Forbidden,
    /// The ring's memory could not be locked (ENOMEM), typical of old kernels with a low memlock limit.
    #[error(
        "io_uring_setup failed with ENOMEM: the locked-memory limit is too low (`ulimit -l` = {limit_kib} KiB); remedy: raise it (`ulimit -l unlimited`, or LimitMEMLOCK= in a systemd unit), or use a smaller ring via Builder::entries"
    )]
    MemLock {
        /// The soft RLIMIT_MEMLOCK in KiB at the time of failure.
        limit_kib: u64,
    },
    /// The kernel lacks an opcode quartet needs.
    #[error("the kernel's io_uring lacks the {0} opcode; remedy: run on Linux >= 5.19 (6.1 or newer recommended)")]
    MissingOpcode(&'static str),
    /// The kernel lacks a ring feature quartet needs.
    #[error("the kernel's io_uring lacks the {0} feature; remedy: run on Linux >= 5.19 (6.1 or newer recommended)")]
    MissingFeature(&'static str),
    /// `io_uring_register` was refused (EPERM/EACCES), typically by a seccomp filter that allows
    /// only part of the io_uring syscalls.
    #[error(
        "io_uring_register was refused (EPERM) after the ring was created, most likely by a seccomp filter; remedy: allow the io_uring_setup, io_uring_enter and io_uring_register syscalls"
    )]
    RegisterForbidden,
    /// Any other setup failure.
    #[error("io_uring_setup failed: {0}")]
    Other(#[source] io::Error),
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Debug for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Why a cancel scope was cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// `cancel()` was called on the scope or one of its handles.
    Explicit,
    /// The scope's deadline passed.
    Deadline,
    /// A sibling task failed; the text names it.
    SiblingFailed(String),
    /// A signal (Ctrl-C / SIGTERM) asked the program to stop.
    Signal,
    /// The runtime is shutting down.
    Shutdown,
    /// A graceful cancellation's grace period ended before the code inside finished.
    GracePeriodEnded,
    /// A graceful cancellation reached a scope that ends on shutdown requests
    /// (`move_on_shutdown`): the wait inside it was idle work to give up.
    ShutdownRequested,
    /// A reason given by the program.
    Other(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Explicit => f.write_str("cancel() was called"),
            Reason::Deadline => f.write_str("deadline expired"),
            Reason::SiblingFailed(who) => write!(f, "sibling task {who} failed"),
            Reason::Signal => f.write_str("signal received"),
            Reason::Shutdown => f.write_str("runtime shutting down"),
            Reason::GracePeriodEnded => f.write_str("the grace period of a graceful cancellation ended"),
            Reason::ShutdownRequested => f.write_str("a graceful shutdown was requested"),
            Reason::Other(s) => f.write_str(s),
        }
    }
}

/// The operation was cancelled by an enclosing cancel scope, and did nothing.
///
/// Cancellation is level-triggered: every checkpoint inside a cancelled scope keeps returning
/// `Cancelled` until the code leaves that scope, where the scope absorbs it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cancelled: {reason}")]
pub struct Cancelled {
    reason: Reason,
}

impl Cancelled {
    /// A `Cancelled` with the given reason.
    pub fn new(reason: Reason) -> Self {
        Cancelled { reason }
    }

    /// Why the scope was cancelled.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }
}

/// The error of a runtime I/O operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// An enclosing scope was cancelled before the operation did anything.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    /// The kernel reported an error.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The operation was used outside `quartet::run`.
    #[error("no quartet runtime on this thread: call this inside quartet::run")]
    NoRuntime,
}

impl OpError {
    /// True if this is a cancellation.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, OpError::Cancelled(_))
    }

    /// The underlying `io::Error`, if this is one.
    pub fn as_io(&self) -> Option<&io::Error> {
        match self {
            OpError::Io(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn from_errno(errno: i32) -> Self {
        OpError::Io(io::Error::from_raw_os_error(errno))
    }
}

impl From<OpError> for io::Error {
    /// Converts to `io::Error`, keeping a cancellation recognisable by [`is_cancellation`].
    fn from(e: OpError) -> io::Error {
        match e {
            OpError::Io(e) => e,
            OpError::Cancelled(c) => io::Error::new(io::ErrorKind::Interrupted, c),
            OpError::NoRuntime => io::Error::other(OpError::NoRuntime),
        }
    }
}

/// True if `err`, or any error in its `source()` chain, is a [`Cancelled`].
///
/// This is how cancel scopes and nurseries tell a cancellation from a real failure, whatever error
/// type the program wraps it in: wrap `Cancelled` (or `OpError`) as a `#[source]` and it is seen.
pub fn is_cancellation(err: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<Cancelled>() {
            return true;
        }
        if let Some(op) = e.downcast_ref::<OpError>() {
            match op {
                OpError::Cancelled(_) => return true,
                // An `io::Error` made from a `Cancelled` (e.g. `?` through `io::Result`).
                OpError::Io(io) => return io.get_ref().is_some_and(|inner| is_cancellation(inner)),
                _ => return false,
            }
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if let Some(inner) = io.get_ref() {
                if is_cancellation(inner) {
                    return true;
                }
            }
        }
        cur = e.source();
    }
    false
}

/// The cancellation inside `err`'s chain, if any (see [`is_cancellation`]).
pub fn find_cancelled(err: &(dyn StdError + 'static)) -> Option<Cancelled> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<Cancelled>() {
            return Some(c.clone());
        }
        match e.downcast_ref::<OpError>() {
            Some(OpError::Cancelled(c)) => return Some(c.clone()),
            Some(OpError::Io(io)) => return io.get_ref().and_then(|inner| find_cancelled(inner)),
            Some(_) => return None,
            None => {}
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            if let Some(c) = find_cancelled(inner) {
                return Some(c);
            }
        }
        cur = e.source();
    }
    None
}
