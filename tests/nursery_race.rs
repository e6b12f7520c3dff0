//! `race`: the first contestant to succeed wins; the others are cancelled and awaited before
//! `race` returns; a contestant's failure (before or after the win) is reported, a cancellation is
//! not; a panic is resumed in the caller.

use crate::nursery_support;

use nursery_support::run;
use quartet::{BoxError, CancelScope, Cancelled, checkpoint, race, sleep};
use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::time::Duration;

type Contestant<'a> = Pin<Box<dyn Future<Output = Result<u32, BoxError>> + 'a>>;
type Cancellable<'a> = Pin<Box<dyn Future<Output = Result<u32, Cancelled>> + 'a>>;

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn first_to_succeed_wins_and_losers_are_cancelled_and_joined() {
    let cleaned_up = Cell::new(0);
    let won = run(async {
        let loser = |id: u32| -> Contestant<'_> {
            let cleaned_up = &cleaned_up;
            Box::pin(async move {
                let r = sleep(LONG).await;
                assert!(r.is_err(), "a loser is cancelled");
                cleaned_up.set(cleaned_up.get() + 1); // cleanup ran before race returned
                r?;
                Ok(id)
            })
        };
        let winner: Contestant<'_> = Box::pin(async {
            checkpoint().await?;
            Ok(7)
        });
        race([loser(1), winner, loser(2)]).await
    })
    .unwrap();
    assert_eq!(won, 7);
    assert_eq!(cleaned_up.get(), 2);
}

#[test]
fn loser_failing_during_cleanup_is_reported() {
    let err = run(async {
        let winner: Contestant<'_> = Box::pin(async { Ok(1) });
        let bad_loser: Contestant<'_> = Box::pin(async {
            let _ = sleep(LONG).await; // cancelled when the winner wins
            Err(std::io::Error::other("cleanup failed").into())
        });
        race([winner, bad_loser]).await
    })
    .unwrap_err();
    assert_eq!(err.failures().len(), 1, "{err}");
    assert_eq!(err.failures()[0].error().to_string(), "cleanup failed");
}

#[test]
fn failure_before_any_win_cancels_the_rest_and_is_reported() {
    let slow_cancelled = Cell::new(false);
    let err = run(async {
        let failing: Contestant<'_> = Box::pin(async {
            checkpoint().await?;
            Err(std::io::Error::other("boom").into())
        });
        let slow: Contestant<'_> = Box::pin(async {
            let r = sleep(LONG).await;
            slow_cancelled.set(r.is_err());
            r?;
            Ok(2)
        });
        race([failing, slow]).await
    })
    .unwrap_err();
    assert!(slow_cancelled.get());
    assert_eq!(err.failures().len(), 1, "{err}");
    assert!(err.to_string().contains("boom"), "{err}");
}

#[test]
fn contestant_panic_is_resumed_in_the_caller() {
    let other_cancelled = Cell::new(false);
    let r = catch_unwind(AssertUnwindSafe(|| {
        run(async {
            let panicking: Contestant<'_> = Box::pin(async {
                checkpoint().await?;
                panic!("contestant panicked");
            });
            let other: Contestant<'_> = Box::pin(async {
                let r = sleep(LONG).await;
                other_cancelled.set(r.is_err());
                r?;
                Ok(2)
            });
            race([panicking, other]).await
        })
    }));
    let payload = r.expect_err("the panic is resumed");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"contestant panicked"));
    assert!(other_cancelled.get(), "the other contestant was cancelled before the panic was resumed");
}

#[test]
fn outer_cancellation_cancels_every_contestant_and_propagates() {
    let cancelled = Cell::new(0);
    let scope = CancelScope::new();
    let out = run(scope.run(async {
        let c = || async {
            let r = sleep(LONG).await;
            if r.is_err() {
                cancelled.set(cancelled.get() + 1);
            }
            r?;
            Ok::<u32, Cancelled>(0)
        };
        let stop = async {
            checkpoint().await?;
            scope.cancel();
            sleep(LONG).await?;
            Ok::<u32, Cancelled>(1)
        };
        let all: Vec<Cancellable<'_>> = vec![Box::pin(c()), Box::pin(c()), Box::pin(stop)];
        race(all).await
    }));
    assert!(matches!(out, Ok(None)), "the scope caught its own cancellation: {out:?}");
    assert_eq!(cancelled.get(), 2);
}

#[test]
fn empty_race_fails_instead_of_hanging() {
    let err = run(race(Vec::<Contestant<'_>>::new())).unwrap_err();
    assert!(err.to_string().contains("no futures"), "{err}");
}
