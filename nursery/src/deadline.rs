//! Deadlines (semantics §4): scopes that cancel themselves at an instant.
//!
//! Library functions take no timeout arguments; callers wrap them in one of these.

use crate::error::TooSlow;
use crate::scope::CancelScope;
use crate::scope_error::ScopeError;
use quartet_runtime::Instant;
use std::future::Future;
use std::time::Duration;

fn after(d: Duration) -> Instant {
    let now = quartet_runtime::now();
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(86400 * 365 * 30))
}

/// Runs `fut`, giving up when `d` has passed: `Ok(None)` if the deadline cancelled it.
///
/// # Examples
/// ```no_run
/// use std::time::Duration;
/// use quartet_runtime::{run, sleep};
/// run(async {
///     let r = quartet_nursery::move_on_after(Duration::from_millis(10), sleep(Duration::from_secs(5))).await;
///     assert_eq!(r, Ok(None));
/// }).unwrap();
/// ```
pub fn move_on_after<T, E, F, Via>(d: Duration, fut: F) -> impl std::future::Future<Output = Result<Option<T>, E>>
where
    F: Future<Output = Result<T, E>>,
    E: ScopeError<Via>,
{
    quartet_runtime::fused::once_pending(async move { CancelScope::with_deadline(after(d)).run(fut).await })
}

/// Like [`move_on_after`] with an absolute deadline.
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// # quartet_runtime::run(async {
/// use quartet_runtime::{Instant, sleep};
/// use std::time::Duration;
/// let deadline = Instant::now() + Duration::from_millis(5);
/// // Several steps share one absolute deadline.
/// let first = move_on_at(deadline, async { sleep(Duration::from_millis(1)).await.map(|_| 1) }).await;
/// let second = move_on_at(deadline, sleep(Duration::from_secs(60))).await;
/// assert_eq!((first, second), (Ok(Some(1)), Ok(None)));
/// # }).unwrap();
/// ```
pub fn move_on_at<T, E, F, Via>(deadline: Instant, fut: F) -> impl std::future::Future<Output = Result<Option<T>, E>>
where
    F: Future<Output = Result<T, E>>,
    E: ScopeError<Via>,
{
    quartet_runtime::fused::once_pending(async move { CancelScope::with_deadline(deadline).run(fut).await })
}

/// Runs `fut`, failing with [`TooSlow`] (converted into `E`) if `d` passes first.
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// # quartet_runtime::run(async {
/// use quartet_runtime::{OpError, TooSlow, fs::File};
/// use std::time::Duration;
/// let r = fail_after(Duration::from_secs(5), async {
///     let f = File::open("/proc/self/stat").await?;
///     Ok::<_, OpError>(f.metadata().await?.len())
/// })
/// .await;
/// match r {
///     Ok(_) => {}
///     Err(OpError::TooSlow(TooSlow)) => eprintln!("the disk is too slow"), // matchable directly
///     Err(e) => panic!("{e}"),
/// }
/// # }).unwrap();
/// ```
pub fn fail_after<T, E, F, Via>(d: Duration, fut: F) -> impl std::future::Future<Output = Result<T, E>>
where
    F: Future<Output = Result<T, E>>,
    E: ScopeError<Via> + From<TooSlow>,
{
    quartet_runtime::fused::once_pending(async move { fail_at(after(d), fut).await })
}

/// Like [`fail_after`] with an absolute deadline.
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// # quartet_runtime::run(async {
/// use quartet_runtime::{Instant, Reason, sleep};
/// use std::time::Duration;
/// let r = fail_at(Instant::now() + Duration::from_millis(1), sleep(Duration::from_secs(60))).await;
/// assert_eq!(r.unwrap_err().reason(), &Reason::TooSlow);
/// # }).unwrap();
/// ```
pub fn fail_at<T, E, F, Via>(deadline: Instant, fut: F) -> impl std::future::Future<Output = Result<T, E>>
where
    F: Future<Output = Result<T, E>>,
    E: ScopeError<Via> + From<TooSlow>,
{
    quartet_runtime::fused::once_pending(async move {
        match CancelScope::with_deadline(deadline).run(fut).await? {
            Some(v) => Ok(v),
            None => Err(E::from(TooSlow)),
        }
    })
}

/// Runs `fut`, giving up as soon as a graceful shutdown is requested for the calling code
/// ([`CancelScope::cancel_gracefully`] on an enclosing scope, a nursery or the root): `Ok(None)`
/// then. For the *idle* waits of a server (the next request on a connection, the next `accept`):
/// work already in hand is not interrupted by a graceful request, but waiting for new work is.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::net::TcpStream;
/// use quartet_nursery::move_on_shutdown;
/// use quartet_runtime::OpError;
/// async fn serve(stream: TcpStream) -> Result<(), OpError> {
///     let mut buf = Vec::with_capacity(4096);
///     loop {
///         buf.clear();
///         // idle: ends on a graceful shutdown request
///         let Some((n, b)) = move_on_shutdown(async { let (n, b) = stream.recv(buf).await; n.map(|n| (n, b)) }).await? else {
///             return Ok(());
///         };
///         buf = b;
///         if n == 0 {
///             return Ok(());
///         }
///         // busy: finishes even if a shutdown was requested meanwhile
///         let (r, b) = stream.send_all(buf).await;
///         buf = b;
///         r?;
///     }
/// }
/// ```
pub fn move_on_shutdown<T, E, F, Via>(fut: F) -> impl std::future::Future<Output = Result<Option<T>, E>>
where
    F: Future<Output = Result<T, E>>,
    E: ScopeError<Via>,
{
    quartet_runtime::fused::once_pending(async move {
        let scope = CancelScope::new();
        scope.set_cancel_on_shutdown_request();
        scope.run(fut).await
    })
}

/// The earliest deadline that applies to the calling code (Trio's `current_effective_deadline`);
/// `None` if nothing bounds it. Inside a cancelled scope it is in the past.
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// # quartet_runtime::run(async {
/// use std::time::Duration;
/// assert_eq!(current_effective_deadline(), None); // nothing bounds the caller
/// let inner = move_on_after(Duration::from_secs(10), async {
///     Ok::<_, quartet_runtime::Cancelled>(current_effective_deadline())
/// })
/// .await;
/// assert!(inner.unwrap().unwrap().is_some());
/// # }).unwrap();
/// ```
pub fn current_effective_deadline() -> Option<Instant> {
    quartet_runtime::cancel::effective_deadline()
}
