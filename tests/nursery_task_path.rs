//! A failure's origin names the whole task path (`'server' > 'conn ..' > 'reader' (spawned at
//! ..)`): each child's parent is the task that opened its nursery.

use crate::nursery_support;

use nursery_support::run;
use quartet::{BoxError, checkpoint, nursery};

#[test]
fn failure_origin_is_the_full_task_path() {
    let err = run(nursery(async |n| -> Result<(), BoxError> {
        n.spawn_named("server", async {
            nursery(async |conns| -> Result<(), BoxError> {
                conns.spawn_named("conn 127.0.0.1:5000", async {
                    nursery(async |parts| -> Result<(), BoxError> {
                        parts.spawn_named("reader", async {
                            checkpoint().await?;
                            Err::<(), BoxError>("bad frame".into())
                        })?;
                        Ok(())
                    })
                    .await
                })?;
                Ok(())
            })
            .await
        })?;
        Ok(())
    }))
    .unwrap_err();
    // The failure travels up as each nursery's failure; the innermost origin is the full path.
    let mut e: &(dyn std::error::Error + 'static) = &err;
    let mut innermost = None;
    while let Some(n) = e.downcast_ref::<quartet::NurseryError>() {
        innermost = Some(n.failures()[0].origin().to_string());
        e = n.failures()[0].error();
    }
    let origin = innermost.expect("a nursery failure");
    assert!(
        origin.starts_with("'server' > 'conn 127.0.0.1:5000' > 'reader' (spawned at tests/nursery_task_path.rs:"),
        "{origin}"
    );
    assert_eq!(e.to_string(), "bad frame");
}

#[test]
fn unnamed_ancestors_show_their_spawn_location() {
    let err = run(nursery(async |n| -> Result<(), BoxError> {
        n.spawn(async {
            nursery(async |inner| -> Result<(), BoxError> {
                inner.spawn_named("leaf", async { Err::<(), BoxError>("x".into()) })?;
                Ok(())
            })
            .await
        })?;
        Ok(())
    }))
    .unwrap_err();
    let inner = err.failures()[0].error().downcast_ref::<quartet::NurseryError>().expect("nested failure");
    let origin = inner.failures()[0].origin();
    assert!(origin.starts_with("task at tests/nursery_task_path.rs:"), "{origin}");
    assert!(origin.contains(" > 'leaf' (spawned at "), "{origin}");
}
