//! [`race`]: the first future to succeed wins, the others are cancelled and awaited.
//!
//! What users reach for instead of `select!`, without giving up the structured guarantees: the
//! contestants are children of an internal nursery, so when one wins the others are cancelled *and
//! awaited* (their cleanup runs before `race` returns), a contestant's failure is reported like any
//! child's, and a panic is resumed in the caller. Built only on the public nursery API.

use crate::error::{BoxError, Failure, NurseryError};
use crate::nursery::nursery;
use quartet_runtime::Reason;
use std::cell::RefCell;
use std::future::Future;

/// Runs every future in `contestants` concurrently, as children of an internal nursery; the first
/// to return `Ok(v)` wins: the others are cancelled, `race` waits for them to finish, and returns
/// `Ok(v)`.
///
/// A contestant that returns `Err` (other than by being cancelled) is a failure, as in any
/// nursery: it cancels the others and `race` returns the [`NurseryError`] that lists it, even if
/// another contestant had already won (a loser failing during its cleanup is not lost). A panic is
/// resumed in the caller once every contestant has finished.
///
/// For futures of different types, box them:
/// `Box::pin(a) as Pin<Box<dyn Future<Output = Result<T, E>> + '_>>`.
///
/// # Errors
/// The [`NurseryError`] of the internal nursery: the contestants' failures; a cancellation of
/// the caller's scope (which keeps propagating, [`NurseryError::is_cancelled`]); or, if
/// `contestants` is empty, a failure saying so.
///
/// # Cancellation
/// If the caller's scope is cancelled, every contestant is cancelled and awaited, and `race`
/// returns a `NurseryError` whose `source()` is the `Cancelled`.
///
/// # Examples
/// ```
/// use quartet_nursery::race;
/// use quartet_runtime::{Cancelled, sleep};
/// use std::time::Duration;
/// # quartet_runtime::run(async {
/// let fastest = race([30, 10, 20].map(|ms| async move {
///     sleep(Duration::from_millis(ms)).await?;
///     Ok::<_, Cancelled>(ms)
/// }))
/// .await?;
/// assert_eq!(fastest, 10); // the other two were cancelled and have finished
/// # Ok::<(), quartet_nursery::NurseryError>(())
/// # }).unwrap().unwrap();
/// ```
///
/// Futures of different types (a happy-eyeballs style race between two sources):
/// ```
/// use quartet_nursery::{BoxError, race};
/// use quartet_runtime::sleep;
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::time::Duration;
/// type Contestant<'a> = Pin<Box<dyn Future<Output = Result<String, BoxError>> + 'a>>;
/// # quartet_runtime::run(async {
/// let cache: Contestant<'_> = Box::pin(async { Ok("from cache".to_string()) });
/// let origin: Contestant<'_> = Box::pin(async {
///     sleep(Duration::from_millis(50)).await?;
///     Ok("from origin".to_string())
/// });
/// assert_eq!(race([cache, origin]).await?, "from cache");
/// # Ok::<(), quartet_nursery::NurseryError>(())
/// # }).unwrap().unwrap();
/// ```
pub fn race<I, F, T, E>(contestants: I) -> impl std::future::Future<Output = Result<T, NurseryError>>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    quartet_runtime::fused::once(async move {
        let winner: RefCell<Option<T>> = RefCell::new(None);
        let winner = &winner;
        let out = nursery(async |n| -> Result<(), BoxError> {
            let mut any = false;
            for fut in contestants {
                any = true;
                let stop = n.cancel_scope();
                n.spawn_named("race contestant", async move {
                    let v = fut.await.map_err(Into::into)?;
                    let mut w = winner.borrow_mut();
                    if w.is_none() {
                        *w = Some(v);
                        stop.cancel_with(Reason::Other("another contestant of the race won".into()));
                    }
                    Ok::<(), BoxError>(())
                })?;
            }
            if !any {
                return Err(NoWinner.into());
            }
            Ok(())
        })
        .await;
        match out {
            Err(e) if !e.is_own_cancel() => Err(e),
            // The nursery ended cleanly only because a contestant won (an empty race fails above).
            _ => winner
                .borrow_mut()
                .take()
                .ok_or_else(|| NurseryError::failed(vec![Failure::new("race".into(), Box::new(NoWinner))])),
        }
    })
}

/// `race` was given no futures, so nothing could win.
#[derive(Debug, thiserror::Error)]
#[error("race() was given no futures, so nothing could win")]
struct NoWinner;
