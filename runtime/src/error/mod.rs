//! Error types of the runtime: startup failures, cancellation, and the result of an I/O op.
//!
//! `Cancelled` is its own type and is never folded into `io::Error`: the scope that catches a
//! cancellation recognises it by type (see [`is_cancellation`]).

use std::error::Error as StdError;
use std::fmt;
use std::io;

mod reason;
pub use reason::Reason;

/// Why quartet could not start or keep running.
///
/// `Debug` prints the same text as `Display` (cause and remedy), because that is what a
/// `fn main() -> Result<(), quartet::Error>` shows the user.
///
/// # Examples
/// ```
/// match quartet_runtime::run(async { 1 }) {
///     Ok(v) => assert_eq!(v, 1),
///     Err(quartet_runtime::Error::Unavailable(why)) => eprintln!("no io_uring here: {why}"),
///     Err(e) => panic!("{e}"),
/// }
/// // `run` inside `run` is refused rather than deadlocking:
/// let nested = quartet_runtime::run(async { quartet_runtime::run(async {}) });
/// assert!(matches!(nested, Ok(Err(quartet_runtime::Error::NestedRuntime))));
/// ```
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
///
/// # Examples
/// ```
/// use quartet_runtime::{Error, Unavailable};
/// if let Err(Error::Unavailable(why)) = quartet_runtime::run(async {}) {
///     // The message names the cause and the remedy, e.g. for a container's seccomp profile.
///     eprintln!("{why}");
///     let in_a_container = matches!(why, Unavailable::Forbidden | Unavailable::RegisterForbidden);
///     # let _ = in_a_container;
/// }
/// ```
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

/// The operation was cancelled by an enclosing cancel scope, and did nothing.
///
/// Cancellation is level-triggered: every checkpoint inside a cancelled scope keeps returning
/// `Cancelled` until the code leaves that scope, where the scope absorbs it.
///
/// One reason is not a cancellation: [`Reason::NoRuntime`], returned by a checkpoint polled outside
/// `quartet::run` (it did nothing either). It converts to [`OpError::NoRuntime`].
///
/// ```
/// // Outside a runtime a sleep fails at once instead of never waking.
/// let waker = std::task::Waker::noop();
/// let mut cx = std::task::Context::from_waker(&waker);
/// let mut nap = std::pin::pin!(quartet_runtime::sleep(std::time::Duration::from_secs(1)));
/// let std::task::Poll::Ready(Err(c)) = nap.as_mut().poll(&mut cx) else { panic!("pending") };
/// assert_eq!(c.reason(), &quartet_runtime::Reason::NoRuntime);
/// assert!(matches!(quartet_runtime::OpError::from(c), quartet_runtime::OpError::NoRuntime));
/// ```
///
/// # Examples
/// ```
/// use quartet_runtime::{Cancelled, Reason, is_cancellation};
/// let c = Cancelled::new(Reason::Deadline);
/// assert_eq!(c.reason(), &Reason::Deadline);
/// // Wrapped in an io::Error (what `?` does in an `io::Result` function), it is still recognised.
/// let io: std::io::Error = c.into();
/// assert!(is_cancellation(&io));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    reason: Reason,
}

impl Cancelled {
    /// A `Cancelled` with the given reason.
    ///
    /// ```
    /// use quartet_runtime::{Cancelled, Reason};
    /// // E.g. in a test double that must behave like a cancelled operation:
    /// let c = Cancelled::new(Reason::Explicit);
    /// assert!(quartet_runtime::is_cancellation(&c));
    /// ```
    pub fn new(reason: Reason) -> Self {
        Cancelled { reason }
    }

    /// Why the scope was cancelled.
    ///
    /// ```
    /// use quartet_runtime::{Cancelled, Reason};
    /// # quartet_runtime::run(async {
    /// let r = quartet_runtime::sleep(std::time::Duration::from_secs(1));
    /// # drop(r);
    /// let c = Cancelled::new(Reason::Signal);
    /// if *c.reason() == Reason::Signal {
    ///     eprintln!("stopping: {c}");
    /// }
    /// # }).unwrap();
    /// ```
    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    /// True unless this is [`Reason::NoRuntime`], [`Reason::ScopeReentered`],
    /// [`Reason::PolledAfterCompletion`] or [`Reason::LockReacquired`], which are not
    /// cancellations but misuse reported as one.
    fn is_real(&self) -> bool {
        !matches!(
            self.reason,
            Reason::NoRuntime | Reason::ScopeReentered | Reason::PolledAfterCompletion | Reason::LockReacquired
        )
    }
}

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_real() { write!(f, "cancelled: {}", self.reason) } else { self.reason.fmt(f) }
    }
}

impl StdError for Cancelled {}

/// What a checkpoint outside a runtime reports: the cause and the remedy.
pub(crate) const NO_RUNTIME: &str = "not inside quartet::run: this operation needs a quartet runtime on this thread; call it \
                          from a future driven by quartet::run (or Builder::run)";

/// The error of a runtime I/O operation.
///
/// # Examples
/// ```
/// use quartet_runtime::{OpError, fs::File};
/// # quartet_runtime::run(async {
/// match File::open("/no/such/file").await {
///     Ok(_) => unreachable!(),
///     Err(OpError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
///     Err(e) if e.is_cancelled() => { /* an enclosing scope was cancelled: pass it up */ }
///     Err(e) => panic!("{e}"),
/// }
/// # }).unwrap();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// An enclosing scope was cancelled before the operation did anything.
    #[error(transparent)]
    Cancelled(Cancelled),
    /// The kernel reported an error.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The operation was used outside `quartet::run`.
    #[error("no quartet runtime on this thread: call this inside quartet::run")]
    NoRuntime,
    /// A `fail_after`/`fail_at` deadline around the operation passed.
    #[error(transparent)]
    TooSlow(#[from] TooSlow),
}

/// A `fail_after` / `fail_at` deadline expired.
///
/// `fail_after` converts it into the body's error type, where it can be matched directly:
/// `OpError::TooSlow(_)`; an `io::Error` of kind `TimedOut` wrapping it; a `Cancelled` whose
/// reason is [`Reason::TooSlow`]; a `BoxError`/`anyhow::Error` for which `is::<TooSlow>()`; a
/// `NurseryError` failure.
///
/// # Examples
/// ```
/// use quartet_runtime::{Cancelled, OpError, Reason, TooSlow};
/// assert!(matches!(OpError::from(TooSlow), OpError::TooSlow(_)));
/// assert_eq!(std::io::Error::from(TooSlow).kind(), std::io::ErrorKind::TimedOut);
/// assert_eq!(Cancelled::from(TooSlow).reason(), &Reason::TooSlow);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline exceeded (fail_after/fail_at)")]
pub struct TooSlow;

impl From<TooSlow> for io::Error {
    fn from(e: TooSlow) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, e)
    }
}

/// So that `fail_after(d, sleep(..))` (a body whose error is `Cancelled`) compiles; the reason
/// tells the timeout apart from a cancellation by a scope.
impl From<TooSlow> for Cancelled {
    fn from(_: TooSlow) -> Cancelled {
        Cancelled::new(Reason::TooSlow)
    }
}

impl From<Cancelled> for OpError {
    /// `Cancelled`, except that [`Reason::NoRuntime`] becomes [`OpError::NoRuntime`] and the
    /// other misuse reasons ([`Reason::ScopeReentered`], [`Reason::PolledAfterCompletion`],
    /// [`Reason::LockReacquired`]) an
    /// [`OpError::Io`] wrapping the `Cancelled` (not a cancellation: no scope absorbs it).
    fn from(c: Cancelled) -> OpError {
        match c.reason {
            _ if c.is_real() => OpError::Cancelled(c),
            Reason::NoRuntime => OpError::NoRuntime,
            _ => OpError::Io(io::Error::other(c)),
        }
    }
}

impl OpError {
    /// True if this is a cancellation.
    ///
    /// ```
    /// use quartet_runtime::{Cancelled, OpError, Reason};
    /// assert!(OpError::from(Cancelled::new(Reason::Explicit)).is_cancelled());
    /// assert!(!OpError::NoRuntime.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, OpError::Cancelled(_))
    }

    /// The underlying `io::Error`, if this is one.
    ///
    /// ```
    /// use quartet_runtime::OpError;
    /// let e = OpError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    /// assert_eq!(e.as_io().map(|e| e.kind()), Some(std::io::ErrorKind::ConnectionReset));
    /// ```
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
            // Not `Interrupted`: std's and many crates' loops retry that kind, and a cancelled
            // scope fails every retry at once (level-triggered), so they would spin forever.
            OpError::Cancelled(c) => io::Error::other(c),
            OpError::NoRuntime => io::Error::other(OpError::NoRuntime),
            OpError::TooSlow(t) => t.into(),
        }
    }
}

/// A write that a cancellation stopped after part of the buffer had gone out (`send_all`,
/// `write_all`, `write_all_at`, the buffered writers).
///
/// It is not a [`Cancelled`]: an operation that reports `Cancelled` did nothing, and this one sent
/// [`written`](Self::written) bytes, so the stream's framing is broken. Its cause is a
/// cancellation, though: [`is_cancellation`] sees it (through `source()`), so a cancelled scope or
/// nursery does not report it as a failure. It travels as an [`OpError::Io`] of kind
/// [`Other`](io::ErrorKind::Other), never `Interrupted` (which retry loops would spin on).
///
/// # Examples
/// ```
/// use quartet_runtime::{Cancelled, OpError, PartialWrite, Reason, is_cancellation};
/// let e = OpError::from(PartialWrite::new("send_all", 10, 100, Cancelled::new(Reason::Explicit)));
/// assert!(is_cancellation(&e));
/// let OpError::Io(io) = &e else { panic!() };
/// let partial = io.get_ref().and_then(|e| e.downcast_ref::<PartialWrite>()).unwrap();
/// assert_eq!((partial.written(), partial.total()), (10, 100));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what} interrupted by a cancellation after {written} of {total} bytes")]
pub struct PartialWrite {
    what: &'static str,
    written: usize,
    total: usize,
    #[source]
    cause: Cancelled,
}

impl PartialWrite {
    /// `what` names the call (`"send_all"`), `written` of `total` bytes went out before `cause`.
    pub fn new(what: &'static str, written: usize, total: usize, cause: Cancelled) -> PartialWrite {
        PartialWrite { what, written, total, cause }
    }

    /// How many bytes went out before the cancellation.
    pub fn written(&self) -> usize {
        self.written
    }

    /// How many bytes the call was asked to write.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The cancellation that stopped the write.
    pub fn cancelled(&self) -> &Cancelled {
        &self.cause
    }
}

impl From<PartialWrite> for OpError {
    fn from(p: PartialWrite) -> OpError {
        OpError::Io(io::Error::other(p))
    }
}

/// True if `err`, or any error in its `source()` chain, is a [`Cancelled`].
///
/// This is how cancel scopes and nurseries tell a cancellation from a real failure, whatever error
/// type the program wraps it in: wrap `Cancelled` (or `OpError`) as a `#[source]` and it is seen.
///
/// # Examples
/// ```
/// use quartet_runtime::{Cancelled, Reason, is_cancellation};
/// #[derive(Debug, thiserror::Error)]
/// enum AppError {
///     #[error("fetch failed")]
///     Fetch(#[source] Cancelled),
///     #[error("bad input")]
///     BadInput,
/// }
/// assert!(is_cancellation(&AppError::Fetch(Cancelled::new(Reason::Explicit))));
/// assert!(!is_cancellation(&AppError::BadInput));
/// ```
pub fn is_cancellation(err: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<Cancelled>() {
            return c.is_real();
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
///
/// # Examples
/// ```
/// use quartet_runtime::{Cancelled, OpError, Reason, find_cancelled};
/// let e = OpError::from(Cancelled::new(Reason::Signal));
/// assert_eq!(find_cancelled(&e).map(|c| c.reason().clone()), Some(Reason::Signal));
/// ```
pub fn find_cancelled(err: &(dyn StdError + 'static)) -> Option<Cancelled> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<Cancelled>() {
            return c.is_real().then(|| c.clone());
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
