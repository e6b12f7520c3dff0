//! Errors of nurseries, spawns, joins, starts and deadlines.

use quartet_runtime::Cancelled;
pub use quartet_runtime::TooSlow;
use std::error::Error as StdError;
use std::fmt;

/// A boxed error from a child task.
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// fn parse(s: &str) -> Result<u16, BoxError> {
///     let n: u16 = s.trim().parse()?; // ParseIntError -> BoxError
///     if n == 0 {
///         return Err("port 0 is not allowed".into()); // &str -> BoxError
///     }
///     Ok(n)
/// }
/// assert_eq!(parse("80").unwrap(), 80);
/// assert!(parse("0").is_err());
/// ```
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// One child's (or the body's) failure, with where it came from.
///
/// `{:?}` prints the same readable line as `{}` (`origin: error`); `{:#?}` prints the fields.
///
/// # Examples
/// ```
/// # quartet_runtime::run(async {
/// use quartet_nursery::{BoxError, nursery};
/// let err = nursery(async |n| -> Result<(), BoxError> {
///     n.spawn_named("db", async { Err::<(), _>(std::io::Error::other("connection refused")) })?;
///     Ok(())
/// })
/// .await
/// .unwrap_err();
/// let failure = &err.failures()[0];
/// assert!(failure.origin().contains("'db'"));
/// assert_eq!(failure.error().to_string(), "connection refused");
/// # }).unwrap();
/// ```
pub struct Failure {
    origin: String,
    error: BoxError,
}

impl Failure {
    pub(crate) fn new(origin: String, error: BoxError) -> Failure {
        Failure { origin, error }
    }

    /// The task's name and spawn location, e.g. `'db' (spawned at src/main.rs:10:5)`.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let err = nursery(async |n| -> Result<(), BoxError> {
    ///     n.spawn_named("worker", async { Err::<(), BoxError>("oops".into()) })?;
    ///     Ok(())
    /// })
    /// .await
    /// .unwrap_err();
    /// assert!(err.failures()[0].origin().starts_with("'worker' (spawned at "));
    /// # }).unwrap();
    /// ```
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The error the task returned.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let err = nursery(async |n| -> Result<(), BoxError> {
    ///     n.spawn(async { Err::<(), _>(std::io::Error::from(std::io::ErrorKind::TimedOut)) })?;
    ///     Ok(())
    /// })
    /// .await
    /// .unwrap_err();
    /// let io = err.failures()[0].error().downcast_ref::<std::io::Error>().unwrap();
    /// assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    /// # }).unwrap();
    /// ```
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.error
    }

    /// Takes the error out.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let err = nursery(async |n| -> Result<(), BoxError> {
    ///     n.spawn(async { Err::<(), BoxError>("first".into()) })?;
    ///     Ok(())
    /// })
    /// .await
    /// .unwrap_err();
    /// let errors: Vec<BoxError> = err.into_failures().into_iter().map(Failure::into_error).collect();
    /// assert_eq!(errors[0].to_string(), "first");
    /// # }).unwrap();
    /// ```
    pub fn into_error(self) -> BoxError {
        self.error
    }
}

/// Says on stderr which failures a resumed panic leaves behind (semantics §2: nothing is lost
/// silently). A nursery whose task panicked resumes that panic with its original payload, so
/// `catch_unwind`, `#[should_panic(expected = ..)]` and downcasts keep working; the `Err`s other
/// tasks returned cannot ride along in the payload, and without this they would vanish. Other
/// panics need no report here: the panic hook printed each one when it happened. Never panics,
/// even if stderr is closed.
pub(crate) fn report_failures_behind_panic(what: &str, failures: &[Failure]) {
    use std::io::Write;
    if failures.is_empty() {
        return;
    }
    let mut text = format!(
        "quartet: {what} resumes a panic; {} other failure{} of its tasks cannot be returned with it:\n",
        failures.len(),
        if failures.len() == 1 { "" } else { "s" }
    );
    for f in failures {
        text += &format!("  - {f}\n");
    }
    // One write, so the lines stay together when several threads print.
    let _ = std::io::stderr().write_all(text.as_bytes());
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.error)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.debug_struct("Failure").field("origin", &self.origin).field("error", &self.error).finish()
        } else {
            fmt::Display::fmt(self, f)
        }
    }
}

/// Why a nursery did not return its body's value.
///
/// Either one or more tasks failed (every failure is listed, cancellations are filtered out), or
/// the body ended with a cancellation and nothing failed ([`NurseryError::cancelled`]). In the
/// latter case the error's `source()` is the [`Cancelled`], so an enclosing cancel scope that owns
/// the cancellation catches it like any other.
///
/// `{:?}` prints the same readable text as `{}`, so an error returned from `main` reads
/// `Error: 1 task(s) failed: [1] 'db' (spawned at src/main.rs:9:11): connection refused`;
/// `{:#?}` prints the fields.
///
/// # Examples
/// ```
/// # quartet_runtime::run(async {
/// use quartet_nursery::{BoxError, nursery};
/// let err = nursery(async |n| -> Result<(), BoxError> {
///     n.spawn_named("db", async { Err::<(), _>(std::io::Error::other("connection refused")) })?;
///     Ok(())
/// })
/// .await
/// .unwrap_err();
/// assert_eq!(err.failures().len(), 1);
/// assert!(!err.is_cancelled());
/// assert_eq!(format!("{err:?}"), format!("{err}"));
/// assert!(err.to_string().contains("'db'") && err.to_string().contains("connection refused"));
/// # }).unwrap();
/// ```
pub struct NurseryError {
    failures: Vec<Failure>,
    cancelled: Option<Cancelled>,
    /// The cancellation belongs to the nursery's own scope (no outer one reached it).
    own: bool,
}

impl NurseryError {
    pub(crate) fn failed(failures: Vec<Failure>) -> NurseryError {
        NurseryError { failures, cancelled: None, own: false }
    }

    pub(crate) fn from_cancel(c: Cancelled, own: bool) -> NurseryError {
        NurseryError { failures: Vec::new(), cancelled: Some(c), own }
    }

    /// True if the nursery ended because its *own* scope was cancelled ([`Nursery::cancel`],
    /// its deadline) and no enclosing scope's cancellation reached it.
    ///
    /// A nursery stopped from inside exits normally (as in Trio): if its body's value is `()` it
    /// returns `Ok(())` whether or not the body had returned. Only a body with a value to return
    /// (`Result<u32, _>`, say) that was cancelled before returning it ends with this error. A
    /// cancellation from an enclosing scope (a `fail_after` around the nursery, say) is not "own"
    /// and keeps propagating.
    ///
    /// ```
    /// # quartet_runtime::run(async {
    /// use quartet_nursery::{BoxError, nursery};
    /// let stopped = nursery(async |n| -> Result<(), BoxError> {
    ///     n.cancel(); // e.g. on a shutdown request
    ///     quartet_runtime::checkpoint().await?;
    ///     Ok(())
    /// })
    /// .await;
    /// assert!(stopped.is_ok()); // stopped from inside: a normal exit
    /// let no_value = nursery(async |n| -> Result<u32, BoxError> {
    ///     n.cancel();
    ///     quartet_runtime::checkpoint().await?;
    ///     Ok(5)
    /// })
    /// .await;
    /// assert!(no_value.unwrap_err().is_own_cancel()); // the 5 never came
    /// # }).unwrap();
    /// ```
    ///
    /// [`Nursery::cancel`]: crate::Nursery::cancel
    pub fn is_own_cancel(&self) -> bool {
        self.is_cancelled() && self.own
    }

    /// Every failure, in the order they happened.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let err = nursery(async |n| -> Result<(), BoxError> {
    ///     n.spawn(async { Err::<(), BoxError>("a".into()) })?;
    ///     n.spawn(async { Err::<(), BoxError>("b".into()) })?; // fails in the same round
    ///     Ok(())
    /// })
    /// .await
    /// .unwrap_err();
    /// assert_eq!(err.failures().len(), 2);
    /// # }).unwrap();
    /// ```
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// Takes the failures out.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let err = nursery(async |n| -> Result<(), BoxError> {
    ///     n.spawn_named("x", async { Err::<(), BoxError>("bad".into()) })?;
    ///     Ok(())
    /// })
    /// .await
    /// .unwrap_err();
    /// for f in err.into_failures() {
    ///     let origin = f.origin().to_string();
    ///     let error = f.into_error(); // owned: keep it, wrap it, send it elsewhere
    ///     eprintln!("{origin}: {error}");
    /// }
    /// # }).unwrap();
    /// ```
    pub fn into_failures(self) -> Vec<Failure> {
        self.failures
    }

    /// The cancellation, if the nursery ended because it (or an enclosing scope) was cancelled.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let scope = CancelScope::new();
    /// let inner = scope
    ///     .run(async {
    ///         scope.cancel();
    ///         let r = nursery(async |_n| {
    ///             quartet_runtime::checkpoint().await?;
    ///             Ok::<(), BoxError>(())
    ///         })
    ///         .await;
    ///         let e = r.unwrap_err();
    ///         assert!(e.cancelled().is_some() && e.failures().is_empty());
    ///         Err::<(), _>(e) // pass the cancellation on to the scope that owns it
    ///     })
    ///     .await;
    /// assert!(matches!(inner, Ok(None)));
    /// # }).unwrap();
    /// ```
    pub fn cancelled(&self) -> Option<&Cancelled> {
        self.cancelled.as_ref()
    }

    /// True if this is a cancellation and not a failure.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let e = move_on_after(std::time::Duration::from_millis(1), async {
    ///     let r = nursery(async |_n| {
    ///         quartet_runtime::sleep(std::time::Duration::from_secs(60)).await?;
    ///         Ok::<(), BoxError>(())
    ///     })
    ///     .await;
    ///     assert!(r.as_ref().unwrap_err().is_cancelled()); // cancelled by the deadline, nothing failed
    ///     r
    /// })
    /// .await;
    /// assert!(matches!(e, Ok(None)));
    /// # }).unwrap();
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.failures.is_empty() && self.cancelled.is_some()
    }
}

impl fmt::Display for NurseryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = self.cancelled.as_ref().filter(|_| self.failures.is_empty()) {
            return write!(f, "nursery {c}");
        }
        write!(f, "{} task(s) failed", self.failures.len())?;
        for (i, fail) in self.failures.iter().enumerate() {
            write!(f, "{} [{}] {}", if i == 0 { ":" } else { ";" }, i + 1, fail)?;
        }
        Ok(())
    }
}

impl fmt::Debug for NurseryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.debug_struct("NurseryError")
                .field("failures", &self.failures)
                .field("cancelled", &self.cancelled)
                .field("own", &self.own)
                .finish()
        } else {
            fmt::Display::fmt(self, f)
        }
    }
}

impl StdError for NurseryError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match (&self.cancelled, self.failures.first()) {
            (_, Some(f)) => Some(&*f.error),
            (Some(c), None) => Some(c),
            (None, None) => None,
        }
    }
}

/// Spawning into a nursery that has already finished.
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// # quartet_runtime::run(async {
/// let mut kept = None;
/// nursery(async |n| {
///     kept = Some(n.clone()); // a handle that outlives the nursery
///     Ok::<(), BoxError>(())
/// })
/// .await?;
/// let late = kept.unwrap().spawn(async { Ok::<(), BoxError>(()) });
/// assert_eq!(late.unwrap_err(), SpawnError);
/// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot spawn into a closed nursery (it has already finished)")]
pub struct SpawnError;

/// Why a [`JoinHandle`](crate::JoinHandle) has no value.
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// # quartet_runtime::run(async {
/// nursery(async |n| -> Result<(), BoxError> {
///     let ok = n.spawn(async { Ok::<_, BoxError>(1) })?;
///     assert_eq!(ok.await?, 1);
///     let stopped = n.spawn(quartet_runtime::sleep(std::time::Duration::from_secs(60)))?;
///     n.cancel();
///     assert!(matches!(stopped.await, Err(JoinError::Cancelled(_)))); // *we* are cancelled too
///     Ok(())
/// })
/// .await
/// .or_else(|e| if e.is_own_cancel() { Ok(()) } else { Err(e) })?;
/// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// The child failed; its error went to the nursery, which reports it.
    #[error("the child task failed (its error is reported by the nursery)")]
    Failed,
    /// The child panicked; the nursery resumes the panic in its owner.
    #[error("the child task panicked (the panic is resumed by the nursery)")]
    Panicked,
    /// The child ended by cancellation.
    #[error("the child task was cancelled")]
    ChildCancelled,
    /// The child was dropped before finishing (its nursery was dropped).
    #[error("the child task was dropped before it finished")]
    Dropped,
    /// The handle was awaited again after it had already returned the child's outcome.
    #[error("the child task was already joined through this handle")]
    AlreadyJoined,
    /// The task awaiting the handle was cancelled (the child keeps running).
    ///
    /// The [`Cancelled`] is this error's `source()`, so cancel scopes recognise it.
    #[error("awaiting the join handle was cancelled")]
    Cancelled(#[from] Cancelled),
}

/// Why [`Nursery::start`](crate::Nursery::start) did not return a value.
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// # quartet_runtime::run(async {
/// nursery(async |n| -> Result<(), BoxError> {
///     let r = n.start(|_status: TaskStatus<u16>| async { Err::<(), BoxError>("no free port".into()) }).await;
///     assert!(matches!(r, Err(StartError::Failed(_)))); // reported here, not by the nursery
///     let r = n.start(|_status: TaskStatus<u16>| async { Ok::<(), BoxError>(()) }).await;
///     assert!(matches!(r, Err(StartError::ExitedWithoutStarting)));
///     Ok(())
/// })
/// .await?;
/// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The nursery has already finished.
    #[error(transparent)]
    Closed(#[from] SpawnError),
    /// The child returned an error before calling `started`.
    #[error("task failed before it started: {0}")]
    Failed(#[source] BoxError),
    /// The child returned `Ok` without calling `started`.
    #[error("task exited without calling TaskStatus::started")]
    ExitedWithoutStarting,
    /// The caller of `start` was cancelled (the child was cancelled too, and has finished).
    ///
    /// The [`Cancelled`] is this error's `source()`, so cancel scopes recognise it.
    #[error("start() was cancelled")]
    Cancelled(#[from] Cancelled),
}

/// So that `fail_after(d, nursery(..))` works: the timeout is reported like a failure.
impl NurseryError {
    /// A misuse refused before anything ran (a cancel scope run inside its own block), as the
    /// one failure: not a cancellation.
    pub(crate) fn refused(refused: Cancelled) -> NurseryError {
        NurseryError::failed(vec![Failure::new("cancel scope".into(), Box::new(refused))])
    }
}

impl quartet_runtime::fused::PolledAgain for NurseryError {
    /// A nursery (or `race`) polled again after it returned: one failure, the misuse error
    /// (`Cancelled` with `Reason::PolledAfterCompletion`, not a cancellation).
    fn polled_again() -> Self {
        let misuse = <Cancelled as quartet_runtime::fused::PolledAgain>::polled_again();
        NurseryError::failed(vec![Failure::new("nursery".into(), Box::new(misuse))])
    }
}

impl From<TooSlow> for NurseryError {
    fn from(e: TooSlow) -> NurseryError {
        NurseryError::failed(vec![Failure::new("fail_after/fail_at".into(), Box::new(e))])
    }
}
