//! Stress: nurseries and cancel scopes nested five levels deep, with shields at levels 2 and 4.
//! For every single level and every pair of levels, cancel (explicitly or by deadline) and check
//! that exactly the right sleepers are cancelled, with the right reason, and that each
//! cancellation is caught by the right scope and no other.

mod nursery_support;

use nursery_support::run;
use quartet::{BoxError, CancelScope, Instant, NurseryError, Reason, SpawnError, nursery, sleep, yield_now};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

const LEVELS: usize = 5;
const SHIELDED: [bool; LEVELS + 1] = [false, false, true, false, true, false]; // index = level

/// What each level's sleeper saw.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Running,
    Released,
    Cancelled(Reason),
}

struct Tree {
    scopes: Vec<CancelScope>, // index 1..=LEVELS
    outcomes: RefCell<Vec<Outcome>>,
    sleeping: Cell<usize>,
    released: Cell<bool>,
}

/// Level `k`: scope k around a nursery holding level k's sleeper and level k+1.
fn level(tree: &Tree, k: usize) -> Pin<Box<dyn Future<Output = Result<(), NurseryError>> + '_>> {
    Box::pin(async move {
        tree.scopes[k]
            .run(nursery(async |n| {
                n.spawn_named(format!("sleeper {k}"), async move {
                    tree.sleeping.set(tree.sleeping.get() + 1);
                    loop {
                        if let Err(c) = sleep(Duration::from_micros(300)).await {
                            tree.outcomes.borrow_mut()[k] = Outcome::Cancelled(c.reason().clone());
                            return Err(c);
                        }
                        if tree.released.get() {
                            tree.outcomes.borrow_mut()[k] = Outcome::Released;
                            return Ok(());
                        }
                    }
                })?;
                if k < LEVELS {
                    n.spawn_named(format!("level {}", k + 1), level(tree, k + 1))?;
                }
                Ok::<_, SpawnError>(())
            }))
            .await?;
        Ok(())
    })
}

/// Whether a cancellation of scope `c` reaches level `k` (no shield in `(c, k]`).
fn reaches(c: usize, k: usize) -> bool {
    c <= k && !(c + 1..=k).any(|j| SHIELDED[j])
}

fn check(cancelled: &[usize], by_deadline: bool) {
    let tree = Tree {
        scopes: (0..=LEVELS).map(|k| if SHIELDED[k] { CancelScope::shielded() } else { CancelScope::new() }).collect(),
        outcomes: RefCell::new(vec![Outcome::Running; LEVELS + 1]),
        sleeping: Cell::new(0),
        released: Cell::new(false),
    };
    let reason_of = |c: usize| if by_deadline { Reason::Deadline } else { Reason::Other(format!("level {c}")) };
    run(async {
        nursery(async |n| {
            let tree = &tree;
            n.spawn_named("tree", level(tree, 1))?;
            while tree.sleeping.get() < LEVELS {
                yield_now().await;
            }
            for &c in cancelled {
                if by_deadline {
                    tree.scopes[c].set_deadline(Some(Instant::now()));
                } else {
                    tree.scopes[c].cancel_with(reason_of(c));
                }
            }
            // let the cancellation reach everything it can reach, then release the rest
            for _ in 0..5 {
                sleep(Duration::from_millis(1)).await?;
            }
            tree.released.set(true);
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap_or_else(|e| panic!("cancelled {cancelled:?}: the tree leaked an error: {e}"));

    let outcomes = tree.outcomes.borrow();
    for k in 1..=LEVELS {
        // the innermost cancelled scope that reaches k is the one whose reason k sees (the
        // checkpoint walks the scopes from the inside out)
        let expected = match cancelled.iter().copied().filter(|&c| reaches(c, k)).max() {
            Some(c) => Outcome::Cancelled(reason_of(c)),
            None => Outcome::Released,
        };
        let expected = match (&expected, by_deadline) {
            (Outcome::Cancelled(_), true) => Outcome::Cancelled(Reason::Deadline),
            _ => expected,
        };
        assert_eq!(outcomes[k], expected, "cancelled {cancelled:?} (deadline: {by_deadline}): sleeper {k}");
    }
    for k in 1..=LEVELS {
        let is_cancelled = cancelled.contains(&k);
        // a cancelled scope catches its own cancellation unless an outer cancelled scope reaches it
        let outer_reaches = cancelled.iter().any(|&c| c < k && reaches(c, k));
        let expect_caught = is_cancelled && !outer_reaches;
        let s = &tree.scopes[k];
        assert_eq!(s.cancel_called(), is_cancelled, "cancelled {cancelled:?}: scope {k} cancel_called");
        assert_eq!(s.cancelled_caught(), expect_caught, "cancelled {cancelled:?}: scope {k} cancelled_caught");
    }
}

#[test]
fn five_levels_with_shields_each_cancel_is_caught_by_the_right_scope() {
    let mut runs = 0;
    for by_deadline in [false, true] {
        for a in 1..=LEVELS {
            check(&[a], by_deadline);
            runs += 1;
            for b in a + 1..=LEVELS {
                check(&[a, b], by_deadline);
                runs += 1;
            }
        }
    }
    assert_eq!(runs, 30);
}

#[test]
fn without_shields_an_outer_cancel_reaches_every_level_and_only_its_scope_catches() {
    let t = Tree {
        scopes: (0..=LEVELS).map(|_| CancelScope::new()).collect(),
        outcomes: RefCell::new(vec![Outcome::Running; LEVELS + 1]),
        sleeping: Cell::new(0),
        released: Cell::new(false),
    };
    let r = run(async {
        nursery(async |n| {
            let t = &t;
            n.spawn(level(t, 1))?;
            while t.sleeping.get() < LEVELS {
                yield_now().await;
            }
            t.scopes[1].cancel();
            Ok::<_, BoxError>(())
        })
        .await
    });
    assert!(r.is_ok(), "{r:?}");
    let outcomes = t.outcomes.borrow();
    assert!(outcomes[1..].iter().all(|o| *o == Outcome::Cancelled(Reason::Explicit)), "{outcomes:?}");
    assert!(t.scopes[1].cancelled_caught());
    assert!(t.scopes[2..].iter().all(|s| !s.cancelled_caught() && !s.cancel_called()));
}
