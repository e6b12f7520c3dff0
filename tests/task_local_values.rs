//! Task-local values: set for a block of async code, seen by everything polled inside it
//! (including children of nurseries opened inside it), shadowed and restored by nested scopes,
//! and never visible to siblings or to code outside the block.

use crate::nursery_support;

use nursery_support::run;
use quartet::{BoxError, checkpoint, nursery, task_local, yield_now};
use std::cell::RefCell;

task_local! {
    static REQUEST: u32;
    static USER: String;
}

#[test]
fn children_of_a_nursery_opened_inside_the_scope_inherit_the_value() {
    let seen = RefCell::new(Vec::new());
    run(REQUEST.scope(7, async {
        nursery(async |n| -> Result<(), BoxError> {
            for _ in 0..3 {
                n.spawn(async {
                    checkpoint().await?; // across suspensions, not only the first poll
                    seen.borrow_mut().push(REQUEST.get());
                    Ok::<_, BoxError>(())
                })?;
            }
            Ok(())
        })
        .await
    }))
    .unwrap();
    assert_eq!(seen.into_inner(), vec![Some(7); 3]);
}

#[test]
fn nested_scopes_shadow_and_restore() {
    let out = run(REQUEST.scope(1, async {
        let before = REQUEST.get();
        let inner = REQUEST
            .scope(2, async {
                yield_now().await;
                REQUEST.get()
            })
            .await;
        (before, inner, REQUEST.get())
    }));
    assert_eq!(out, (Some(1), Some(2), Some(1)));
    assert_eq!(REQUEST.get(), None, "nothing leaks out of run");
}

#[test]
fn siblings_never_see_each_others_values() {
    let seen = RefCell::new(Vec::new());
    run(nursery(async |n| -> Result<(), BoxError> {
        for (i, name) in ["ada", "bob"].into_iter().enumerate() {
            let seen = &seen;
            n.spawn(USER.scope(name.to_string(), async move {
                for round in 0..3 {
                    // interleave with the sibling at every round
                    checkpoint().await?;
                    seen.borrow_mut().push((i, round, USER.get()));
                }
                Ok::<_, BoxError>(())
            }))?;
        }
        n.spawn(async {
            checkpoint().await?;
            seen.borrow_mut().push((9, 0, USER.get())); // a sibling without a scope sees none
            Ok::<_, BoxError>(())
        })?;
        Ok(())
    }))
    .unwrap();
    let seen = seen.into_inner();
    assert_eq!(seen.len(), 7);
    for (i, _, v) in seen {
        let want = match i {
            0 => Some("ada".to_string()),
            1 => Some("bob".to_string()),
            _ => None,
        };
        assert_eq!(v, want);
    }
}

#[test]
fn value_follows_where_the_nursery_was_opened_not_the_spawner() {
    let seen = RefCell::new(None);
    run(nursery(async |outer| -> Result<(), BoxError> {
        REQUEST
            .scope(5, async {
                // spawned from inside the scope, but into a nursery opened outside it
                outer.spawn(async {
                    checkpoint().await?;
                    *seen.borrow_mut() = Some(REQUEST.get());
                    Ok::<_, BoxError>(())
                })?;
                Ok::<_, BoxError>(())
            })
            .await
    }))
    .unwrap();
    assert_eq!(seen.into_inner(), Some(None));
}

#[test]
fn dropping_a_scope_drops_its_future_with_the_value_set() {
    struct Probe<'a>(&'a RefCell<Option<Option<u32>>>);
    impl Drop for Probe<'_> {
        fn drop(&mut self) {
            *self.0.borrow_mut() = Some(REQUEST.get());
        }
    }
    let seen = RefCell::new(None);
    let probe = Probe(&seen);
    let fut = REQUEST.scope(3, async move {
        let _probe = probe;
        std::future::pending::<()>().await;
    });
    drop(fut);
    assert_eq!(seen.into_inner(), Some(Some(3)));
}
