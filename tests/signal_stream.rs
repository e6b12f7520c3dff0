//! `Signals` as a `Stream`, and `cancel_on_signals` cancelling a nursery with `Reason::Signal`.
//! Signals are sent to this thread only (`pthread_kill`), which blocks them while a `Signals`
//! exists, so the test harness's other threads never see them.

mod fs_support;

use fs_support::{Via, next, run_with};
use quartet::signal::{Signal, Signals};
use quartet::{BoxError, CancelScope, OpError, Reason, cancel_on_signals, nursery, sleep};
use std::time::Duration;

fn raise_here(sig: libc::c_int) {
    // SAFETY: pthread_kill to the calling thread with a valid signal number.
    assert_eq!(unsafe { libc::pthread_kill(libc::pthread_self(), sig) }, 0);
}

#[test]
fn the_signal_stream_yields_each_signal_sent() {
    run_with(Via::Ring, async {
        let mut signals = Signals::new(&[Signal::User1, Signal::User2]).unwrap();
        raise_here(libc::SIGUSR1);
        assert_eq!(next(&mut signals).await.unwrap().unwrap(), Signal::User1);
        raise_here(libc::SIGUSR2);
        assert_eq!(next(&mut signals).await.unwrap().unwrap(), Signal::User2);
        // and a stream poll that waits, then gets one
        let got = nursery(async |n| {
            n.spawn(async {
                sleep(Duration::from_millis(5)).await?;
                raise_here(libc::SIGUSR1);
                Ok::<_, OpError>(())
            })?;
            Ok::<_, BoxError>(next(&mut signals).await.unwrap()?)
        })
        .await
        .unwrap();
        assert_eq!(got, Signal::User1);
    });
}

#[test]
fn a_cancelled_stream_poll_consumes_no_signal() {
    run_with(Via::Ring, async {
        let mut signals = Signals::new(&[Signal::User1]).unwrap();
        raise_here(libc::SIGUSR1);
        let scope = CancelScope::new();
        scope.cancel();
        let r = scope.run(async { Ok::<_, OpError>(next(&mut signals).await) }).await.unwrap().unwrap();
        assert!(r.unwrap().unwrap_err().is_cancelled());
        assert_eq!(next(&mut signals).await.unwrap().unwrap(), Signal::User1, "the signal is still there");
    });
}

#[test]
fn cancel_on_signals_cancels_the_nursery_with_reason_signal() {
    run_with(Via::Ring, async {
        let mut watcher_saw = None;
        let mut body_saw = None;
        let r = nursery(async |n| {
            let on_signal = cancel_on_signals(&[Signal::User2], n.cancel_handle())?;
            let saw = &mut watcher_saw;
            n.spawn(async move {
                *saw = Some(on_signal.await?);
                Ok::<_, OpError>(())
            })?;
            raise_here(libc::SIGUSR2);
            let slept = sleep(Duration::from_secs(3600)).await;
            body_saw = slept.err().map(|c| c.reason().clone());
            Ok::<(), BoxError>(())
        })
        .await;
        // The nursery stopped itself (its own cancel handle): a unit-bodied nursery ends normally.
        r.expect("an own cancellation ends the nursery normally");
        assert_eq!(body_saw, Some(Reason::Signal), "the body's sleep was cancelled by the signal");
        assert_eq!(watcher_saw, Some(Signal::User2));
    });
}
