//! Cancellation is recognised whatever error type carries it, a cancelled parked send reports
//! `Cancelled` (not `Broken`), and a nursery tells its own cancellation from an outer one.

use quartet::channel::SendError;
use quartet::{
    BoxError, Cancelled, NurseryError, OpError, SpawnError, TooSlow, channel, fail_after, is_cancellation, nursery,
    run, sleep, yield_now,
};
use std::time::Duration;

#[test]
fn cancellation_wrapped_in_io_error_inside_op_error_is_still_a_cancellation() {
    let wrapped = OpError::from(std::io::Error::from(Cancelled::new(quartet::Reason::Explicit)));
    assert!(is_cancellation(&wrapped), "{wrapped:?}");
    assert!(quartet::find_cancelled(&wrapped).is_some());
    let plain = OpError::from(std::io::Error::other("disk on fire"));
    assert!(!is_cancellation(&plain));
}

#[test]
fn child_cancelled_through_an_io_result_is_not_reported_as_a_failure() {
    async fn helper() -> std::io::Result<()> {
        sleep(Duration::from_secs(3600)).await?;
        Ok(())
    }
    let r = run(async {
        nursery(async |n| {
            n.spawn_named("child", async { helper().await.map_err(OpError::from) })?;
            sleep(Duration::from_millis(5)).await?;
            n.cancel();
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap();
    assert!(r.is_ok(), "a cancelled child is not a failure: {r:?}");
}

#[test]
fn parked_send_in_a_cancelled_scope_reports_cancelled_even_if_receivers_are_gone() {
    let out = run(async {
        let (tx, rx) = channel::<u32>(0);
        let mut seen = None;
        let _ = nursery(async |n| {
            let (tx, seen) = (&tx, &mut seen);
            n.spawn(async move {
                *seen = Some(tx.send(1).await);
                Ok::<_, Cancelled>(())
            })?;
            // Let the send park, then drop the only receiver and cancel in the same step.
            for _ in 0..3 {
                yield_now().await;
            }
            drop(rx);
            n.cancel();
            Ok::<_, SpawnError>(())
        })
        .await;
        seen
    })
    .unwrap();
    match out {
        Some(Err(SendError::Cancelled { value: 1, .. })) => {}
        other => panic!("expected Cancelled with the value back, got {other:?}"),
    }
}

#[test]
fn nursery_stopped_by_its_own_cancel_is_distinguished_from_an_outer_deadline() {
    let (own, outer) = run(async {
        let own = nursery(async |n| -> Result<(), BoxError> {
            n.cancel();
            sleep(Duration::from_secs(3600)).await?;
            Ok(())
        })
        .await;
        let outer: Result<(), NurseryError> = fail_after(
            Duration::from_millis(5),
            nursery(async |_n| -> Result<(), BoxError> {
                sleep(Duration::from_secs(3600)).await?;
                Ok(())
            }),
        )
        .await;
        (own, outer)
    })
    .unwrap();
    assert!(own.is_ok(), "stopped from inside, a nursery exits normally: {own:?}");
    let outer = outer.unwrap_err();
    assert!(!outer.is_own_cancel(), "{outer}");
    assert!(outer.failures().iter().any(|f| f.error().is::<TooSlow>()), "fail_after reports TooSlow: {outer}");
}
