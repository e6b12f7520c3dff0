//! Deadlines (semantics §4): absolute instants owned by scopes, changeable while the scope is open;
//! `move_on_*` return `None` on expiry, `fail_*` return `TooSlow`; `current_effective_deadline`.

use crate::nursery_support;

use nursery_support::run;
use quartet::net::TcpListener;
use quartet::{
    CancelScope, Cancelled, Instant, OpError, Reason, SpawnError, TooSlow, checkpoint, current_effective_deadline,
    fail_after, fail_at, move_on_after, move_on_at, nursery, shield, sleep,
};
use std::cell::Cell;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

/// A caller's error type: a cancellation (as its source) or a timeout.
#[derive(Debug)]
enum E {
    Cancelled(Cancelled),
    TooSlow(TooSlow),
}

impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for E {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            E::Cancelled(c) => Some(c),
            E::TooSlow(_) => None,
        }
    }
}

impl From<Cancelled> for E {
    fn from(c: Cancelled) -> E {
        E::Cancelled(c)
    }
}

impl From<TooSlow> for E {
    fn from(t: TooSlow) -> E {
        E::TooSlow(t)
    }
}

#[test]
fn move_on_after_returns_none_on_expiry() {
    let r = run(move_on_after(Duration::from_millis(5), sleep(LONG)));
    assert_eq!(r, Ok(None));
}

#[test]
fn move_on_after_returns_the_value_when_in_time() {
    let r = run(move_on_after(LONG, async {
        sleep(Duration::from_millis(1)).await?;
        Ok::<_, Cancelled>(3)
    }));
    assert_eq!(r, Ok(Some(3)));
}

#[test]
fn move_on_at_returns_none_on_expiry() {
    let r = run(async { move_on_at(Instant::now() + Duration::from_millis(5), sleep(LONG)).await });
    assert_eq!(r, Ok(None));
}

#[test]
fn move_on_at_a_past_instant_cancels_at_the_first_checkpoint() {
    let reached = Cell::new(false);
    let r = run(move_on_at(Instant::now() - Duration::from_millis(1), async {
        reached.set(true);
        checkpoint().await
    }));
    assert_eq!(r, Ok(None));
    assert!(reached.get());
}

#[test]
fn fail_after_gives_too_slow() {
    let r: Result<(), E> = run(fail_after(Duration::from_millis(5), async { Ok(sleep(LONG).await?) }));
    assert!(matches!(r, Err(E::TooSlow(TooSlow))), "{r:?}");
}

#[test]
fn fail_at_gives_too_slow() {
    let r: Result<(), E> =
        run(async { fail_at(Instant::now() + Duration::from_millis(5), async { Ok(sleep(LONG).await?) }).await });
    assert!(matches!(r, Err(E::TooSlow(TooSlow))), "{r:?}");
}

#[test]
fn fail_after_passes_the_value_through_when_in_time() {
    let r: Result<u8, E> = run(fail_after(LONG, async { Ok(9) }));
    assert_eq!(r.unwrap(), 9);
}

#[test]
fn fail_after_with_op_errors_reports_too_slow_directly() {
    let r = run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        fail_after(Duration::from_millis(5), listener.accept()).await.map(drop)
    });
    let e = r.unwrap_err();
    assert!(!e.is_cancelled(), "TooSlow is an error, not a cancellation: {e:?}");
    assert!(matches!(e, OpError::TooSlow(TooSlow)), "{e:?}");
    // Through io::Error it is a TimedOut error.
    assert_eq!(std::io::Error::from(e).kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn deadline_is_the_absolute_instant_that_was_set() {
    let t = Instant::now() + Duration::from_millis(1234);
    let scope = CancelScope::with_deadline(t);
    assert_eq!(scope.deadline(), Some(t));
    let earlier = Instant::now() - Duration::from_secs(1);
    scope.set_deadline(Some(earlier));
    assert_eq!(scope.deadline(), Some(earlier));
    scope.set_deadline(None);
    assert_eq!(scope.deadline(), None);
}

#[test]
fn deadline_extended_while_open_delays_the_cancel() {
    let scope = CancelScope::new();
    let r = run(async {
        scope.set_deadline(Some(Instant::now() + Duration::from_millis(300)));
        nursery(async |n| {
            let scope = &scope;
            let h = n.spawn(async move { scope.run(sleep(Duration::from_millis(600))).await })?;
            // another task extends the deadline while the sleep is blocked inside the scope
            checkpoint().await?;
            scope.set_deadline(Some(Instant::now() + LONG));
            Ok::<_, quartet::BoxError>(h.await?)
        })
        .await
    });
    assert_eq!(r.unwrap(), Some(()), "the extended deadline must not cancel the sleep");
    assert!(!scope.cancelled_caught());
}

#[test]
fn deadline_shortened_while_open_cancels_sooner() {
    let scope = CancelScope::with_deadline(Instant::now() + LONG);
    let r = run(async {
        nursery(async |n| {
            let scope = &scope;
            let h = n.spawn(async move { scope.run(sleep(LONG)).await })?;
            sleep(Duration::from_millis(2)).await?;
            scope.set_deadline(Some(Instant::now() + Duration::from_millis(2)));
            Ok::<_, quartet::BoxError>(h.await?)
        })
        .await
    });
    assert_eq!(r.unwrap(), None);
    assert!(scope.cancelled_caught());
    assert_eq!(scope.reason(), Some(Reason::Deadline));
}

#[test]
fn deadline_removed_while_open_never_fires() {
    let scope = CancelScope::new();
    let r = run(async {
        scope.set_deadline(Some(Instant::now() + Duration::from_millis(200)));
        scope
            .run(async {
                scope.set_deadline(None);
                sleep(Duration::from_millis(400)).await?;
                Ok::<_, Cancelled>("done")
            })
            .await
    });
    assert_eq!(r, Ok(Some("done")));
}

#[test]
fn deadline_set_on_a_scope_created_without_one_fires() {
    let scope = CancelScope::new();
    let r = run(scope.run(async {
        scope.set_deadline(Some(Instant::now() + Duration::from_millis(5)));
        sleep(LONG).await
    }));
    assert_eq!(r, Ok(None));
}

#[test]
fn nursery_scope_deadline_cancels_body_and_children() {
    let cancelled = Cell::new(0);
    let r = run(async {
        nursery(async |n| {
            n.cancel_scope().set_deadline(Some(Instant::now() + Duration::from_millis(5)));
            for _ in 0..3 {
                let cancelled = &cancelled;
                n.spawn(async move {
                    let r = sleep(LONG).await;
                    cancelled.set(cancelled.get() + u32::from(r.is_err()));
                    r
                })?;
            }
            let r = sleep(LONG).await;
            cancelled.set(cancelled.get() + u32::from(r.is_err()));
            Ok::<_, SpawnError>(())
        })
        .await
    });
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(cancelled.get(), 4, "the nursery's own deadline must cancel body and children");
}

#[test]
fn effective_deadline_is_none_outside_any_deadline() {
    let d = run(async { current_effective_deadline() });
    assert_eq!(d, None);
    let d = run(CancelScope::new().run(async { Ok::<_, Cancelled>(current_effective_deadline()) }));
    assert_eq!(d, Ok(Some(None)));
}

#[test]
fn effective_deadline_is_the_earliest_enclosing_deadline() {
    let outer_t = Instant::now() + Duration::from_secs(100);
    let inner_t = Instant::now() + Duration::from_secs(200);
    let (outer, inner) = (CancelScope::with_deadline(outer_t), CancelScope::with_deadline(inner_t));
    let (seen_inner, seen_outer) = run(outer.run(async {
        let seen_inner = inner.run(async { Ok::<_, Cancelled>(current_effective_deadline()) }).await?;
        Ok::<_, Cancelled>((seen_inner.unwrap(), current_effective_deadline()))
    }))
    .unwrap()
    .unwrap();
    assert_eq!(seen_inner, Some(outer_t), "the outer deadline is earlier");
    assert_eq!(seen_outer, Some(outer_t));
}

#[test]
fn shield_hides_outer_deadlines_from_effective_deadline() {
    let outer_t = Instant::now() + Duration::from_secs(100);
    let seen = run(CancelScope::with_deadline(outer_t)
        .run(async { shield(async { Ok::<_, Cancelled>(current_effective_deadline()) }).await }));
    assert_eq!(seen, Ok(Some(Some(None))));
}

#[test]
fn cancelled_scope_puts_the_effective_deadline_in_the_past() {
    let scope = CancelScope::new();
    let seen = run(scope.run(async {
        scope.cancel();
        Ok::<_, Cancelled>(current_effective_deadline())
    }))
    .unwrap()
    .unwrap();
    assert!(seen.is_some_and(|d| d <= Instant::now()), "{seen:?}");
}

#[test]
fn child_sees_the_nurserys_effective_deadline_not_the_spawners() {
    let nursery_t = Instant::now() + Duration::from_secs(100);
    let seen = Cell::new(None);
    run(CancelScope::with_deadline(nursery_t).run(async {
        nursery(async |n| {
            let seen = &seen;
            let handle = n.clone();
            n.spawn(async move {
                move_on_after(Duration::from_secs(10), async {
                    handle.spawn(async move {
                        seen.set(current_effective_deadline());
                        Ok::<_, Cancelled>(())
                    })?;
                    Ok::<_, SpawnError>(())
                })
                .await
                .map(drop)
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
    }))
    .unwrap();
    assert_eq!(seen.get(), Some(nursery_t));
}

#[test]
fn library_operations_are_bounded_by_the_callers_scope() {
    // No timeout arguments: any op is bounded by wrapping it.
    let r = run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        move_on_after(Duration::from_millis(5), listener.accept()).await.map(|o| o.is_none())
    });
    assert!(matches!(r, Ok::<bool, OpError>(true)));
}

#[test]
fn fail_after_around_a_bare_sleep_reports_too_slow_as_its_reason() {
    let r = run(fail_after(Duration::from_millis(5), sleep(LONG)));
    let c = r.unwrap_err();
    assert_eq!(c.reason(), &Reason::TooSlow, "{c}");
}
