//! Errors and panics (semantics §2): a child's `Err` or panic cancels the nursery; every failure is
//! reported once everything has finished, cancellations filtered out, each with its origin; a
//! panic is resumed in the owner with its original payload after all children are done.

use crate::nursery_support;

use nursery_support::run;
use quartet::{
    BoxError, CancelScope, Cancelled, NurseryError, Reason, SpawnError, checkpoint, nursery, sleep, yield_now,
};
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

fn io(msg: &str) -> std::io::Error {
    std::io::Error::other(msg.to_owned())
}

#[test]
fn child_error_cancels_siblings_and_body() {
    let sibling = RefCell::new(None);
    let body = RefCell::new(None);
    let err = run(async {
        nursery(async |n| {
            let sibling = &sibling;
            n.spawn(async move {
                let r = sleep(Duration::from_secs(3600)).await;
                *sibling.borrow_mut() = Some(r.clone());
                r
            })?;
            n.spawn_named("failer", async {
                checkpoint().await?;
                Err::<(), _>(io("boom"))
            })?;
            let r = sleep(Duration::from_secs(3600)).await;
            *body.borrow_mut() = Some(r.clone());
            r?;
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap_err();
    assert_eq!(err.failures().len(), 1, "{err}");
    for seen in [sibling.into_inner(), body.into_inner()] {
        let c = seen.expect("ran").expect_err("must be cancelled");
        assert!(matches!(c.reason(), Reason::SiblingFailed(who) if who.contains("failer")), "{c}");
    }
}

#[test]
fn child_panic_cancels_siblings_and_body() {
    let sibling = Cell::new(false);
    let body = Cell::new(false);
    let r = catch_unwind(AssertUnwindSafe(|| {
        run(async {
            nursery(async |n| {
                let sibling = &sibling;
                n.spawn(async move {
                    let r = sleep(Duration::from_secs(3600)).await;
                    sibling.set(r.is_err());
                    r
                })?;
                n.spawn(async {
                    checkpoint().await?;
                    panic!("child panics");
                    #[allow(unreachable_code)]
                    Ok::<_, Cancelled>(())
                })?;
                let r = sleep(Duration::from_secs(3600)).await;
                body.set(r.is_err());
                r?;
                Ok::<_, BoxError>(())
            })
            .await
        })
    }));
    assert!(r.is_err());
    assert!(sibling.get() && body.get(), "sibling cancelled: {}, body cancelled: {}", sibling.get(), body.get());
}

#[test]
fn every_failure_is_reported_and_cancellations_are_filtered_out() {
    let err = run(async {
        nursery(async |n| {
            for name in ["a", "b", "c"] {
                n.spawn_named(name, async move {
                    // each fails for real, after the nursery was cancelled by the first failure
                    let r = sleep(Duration::from_millis(if name == "a" { 1 } else { 3_600_000 })).await;
                    assert_eq!(r.is_err(), name != "a");
                    Err::<(), _>(io(&format!("{name} failed")))
                })?;
            }
            for _ in 0..5 {
                // these end with Cancelled: not failures
                n.spawn(async { sleep(Duration::from_secs(3600)).await })?;
            }
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap_err();
    let mut msgs: Vec<String> = err.failures().iter().map(|f| f.error().to_string()).collect();
    msgs.sort();
    assert_eq!(msgs, ["a failed", "b failed", "c failed"], "{err}");
    assert!(!err.is_cancelled());
    let text = err.to_string();
    for name in ["'a'", "'b'", "'c'"] {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn body_failure_is_reported_with_child_failures() {
    let err = run(async {
        nursery(async |n| {
            n.spawn_named("child", async {
                let _ = sleep(Duration::from_secs(3600)).await;
                Err::<(), _>(io("child cleanup failed"))
            })?;
            checkpoint().await?;
            Err::<(), BoxError>(io("body failed").into())
        })
        .await
    })
    .unwrap_err();
    let origins: Vec<&str> = err.failures().iter().map(|f| f.origin()).collect();
    assert_eq!(err.failures().len(), 2, "{err}");
    assert!(origins.iter().any(|o| o.contains("body")), "{origins:?}");
    assert!(origins.iter().any(|o| o.contains("child")), "{origins:?}");
}

#[test]
fn failure_names_the_child_by_name() {
    let err = run(async {
        nursery(async |n| {
            n.spawn_named("database writer", async { Err::<(), _>(io("disk full")) })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap_err();
    let f = &err.failures()[0];
    assert!(f.origin().contains("database writer"), "{}", f.origin());
    assert_eq!(f.error().to_string(), "disk full");
}

#[test]
fn failure_of_unnamed_child_names_its_spawn_location() {
    let mut line = 0;
    let err = run(async {
        nursery(async |n| {
            line = line!() + 1;
            n.spawn(async { Err::<(), _>(io("nameless")) })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap_err();
    let origin = err.failures()[0].origin().to_owned();
    assert!(origin.contains(&format!("{}:{line}:", file!())), "{origin} should name {}:{line}", file!());
}

#[test]
fn panic_is_resumed_with_original_payload_after_all_children_finish() {
    #[derive(Debug, PartialEq)]
    struct Payload(u32);
    let cleanup_done = Cell::new(false);
    let r = catch_unwind(AssertUnwindSafe(|| {
        run(async {
            nursery(async |n| {
                let cleanup_done = &cleanup_done;
                n.spawn(async move {
                    let r = sleep(Duration::from_secs(3600)).await;
                    // slow, shielded cleanup: the panic must wait for it
                    CancelScope::shielded()
                        .run(async {
                            for _ in 0..20 {
                                yield_now().await;
                            }
                            sleep(Duration::from_millis(10)).await
                        })
                        .await?;
                    cleanup_done.set(true);
                    r
                })?;
                n.spawn(async {
                    checkpoint().await?;
                    std::panic::panic_any(Payload(17));
                    #[allow(unreachable_code)]
                    Ok::<_, Cancelled>(())
                })?;
                Ok::<_, SpawnError>(())
            })
            .await
        })
    }));
    let payload = r.expect_err("panic must be resumed");
    assert_eq!(payload.downcast_ref::<Payload>(), Some(&Payload(17)), "payload changed");
    assert!(cleanup_done.get(), "the panic was resumed before every child finished");
}

#[test]
fn panic_in_body_is_resumed_after_children_finish() {
    let child_done = Cell::new(false);
    let r = catch_unwind(AssertUnwindSafe(|| {
        run(async {
            nursery(async |n| {
                let child_done = &child_done;
                n.spawn(async move {
                    let r = sleep(Duration::from_secs(3600)).await;
                    child_done.set(true);
                    r
                })?;
                checkpoint().await?;
                std::panic::panic_any("body panic");
                #[allow(unreachable_code)]
                Ok::<_, BoxError>(())
            })
            .await
        })
    }));
    assert_eq!(r.expect_err("resumed").downcast_ref::<&str>(), Some(&"body panic"));
    assert!(child_done.get());
}

#[test]
fn nested_nursery_failure_propagates_to_the_outer_nursery_with_its_origin() {
    let err = run(async {
        nursery(async |outer| {
            outer.spawn_named("middle", async {
                nursery(async |inner| {
                    inner.spawn_named("leaf", async { Err::<(), _>(io("leaf broke")) })?;
                    Ok::<_, SpawnError>(())
                })
                .await
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap_err();
    assert_eq!(err.failures().len(), 1, "{err}");
    let f = &err.failures()[0];
    assert!(f.origin().contains("middle"), "{}", f.origin());
    let inner = f.error().downcast_ref::<NurseryError>().expect("the inner nursery's error");
    assert!(inner.failures()[0].origin().contains("leaf"));
    assert!(err.to_string().contains("leaf broke") || inner.to_string().contains("leaf broke"));
}

#[test]
fn nothing_is_swallowed_when_a_failure_races_a_cancellation() {
    // A child that fails during its cancellation cleanup is still reported.
    let err = run(async {
        nursery(async |n| {
            n.spawn_named("cleanup-failer", async {
                let r = sleep(Duration::from_secs(3600)).await;
                assert!(r.is_err());
                Err::<(), _>(io("could not say goodbye"))
            })?;
            checkpoint().await?;
            n.cancel();
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap_err();
    assert_eq!(err.failures().len(), 1);
    assert!(err.failures()[0].origin().contains("cleanup-failer"));
}

/// Runs in a child process (see the next test): a child fails with an error, then a sibling
/// panics; the nursery resumes the panic and must say on stderr which failure it could not return.
#[test]
fn panic_over_other_failures_child_process() {
    if std::env::var_os("QUARTET_PANIC_REPORT_CHILD").is_none() {
        return;
    }
    let _ = run(async {
        nursery(async |n| {
            n.spawn_named("the-failer", async { Err::<(), _>(io("disk on fire")) })?;
            n.spawn_named("the-panicker", async {
                // Let the failer fail first: its error is recorded before the panic.
                yield_now().await;
                yield_now().await;
                std::panic::panic_any("original payload");
                #[allow(unreachable_code)]
                Ok::<_, BoxError>(())
            })?;
            Ok::<_, BoxError>(())
        })
        .await
    });
}

#[test]
fn a_resumed_panic_reports_the_other_failures_on_stderr() {
    let out = std::process::Command::new(std::env::current_exe().expect("current exe"))
        .args(["--exact", "nursery_errors::panic_over_other_failures_child_process", "--nocapture"])
        .args(["--test-threads=1"])
        .env("QUARTET_PANIC_REPORT_CHILD", "1")
        .output()
        .expect("re-run this test binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the panic reached the test: {stderr}");
    assert!(stderr.contains("original payload"), "the panic itself is the one resumed: {stderr}");
    let report =
        stderr.lines().skip_while(|l| !l.contains("resumes a panic; 1 other failure")).take(2).collect::<Vec<_>>();
    assert_eq!(report.len(), 2, "no report of the failure behind the panic: {stderr}");
    assert!(report[1].contains("'the-failer'") && report[1].contains("disk on fire"), "{stderr}");
}
