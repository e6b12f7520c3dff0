//! H7, the edge case: a burst that fills the submission queue exactly (or one short, or one over)
//! never makes the loop block while woken work is pending. The wake read the driver keeps armed
//! is what overflows: it goes to the backlog, flushing the backlog submits and reaps the burst,
//! and the loop must then run the tasks it woke instead of waiting for a completion that already
//! came. Checked for ring sizes 1, 2, 4 and the default, with and without a timer pending, on the
//! first tick and on the tick right after a remote wake (when the wake read is re-armed).

use crate::hazard_support;

use hazard_support::watchdog;
use quartet::{Builder, OpError, nop, sleep};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

/// The SQ size of `Builder::new()`.
const DEFAULT_ENTRIES: u32 = 256;

type Nop = Pin<Box<dyn Future<Output = Result<(), OpError>>>>;

/// Submits `n` nops in one poll and waits for all of them.
async fn burst(n: usize) -> Result<(), OpError> {
    let mut ops: Vec<Option<Nop>> = (0..n).map(|_| Some(Box::pin(nop()) as Nop)).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut ops {
            if let Some(op) = slot {
                match op.as_mut().poll(cx) {
                    Poll::Ready(r) => {
                        r?;
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(Ok(())) }
    })
    .await
}

/// Waits for a wake from another thread, so the driver's wake read completes and is re-armed.
async fn remote_wake() {
    let mut sent = false;
    poll_fn(|cx| {
        if std::mem::replace(&mut sent, true) {
            return Poll::Ready(());
        }
        let w = cx.waker().clone();
        std::thread::spawn(move || w.wake());
        Poll::Pending
    })
    .await
}

/// Bursts of `entries - 1`, `entries` and `entries + 1` nops on a ring of `entries`, each on the
/// first tick of a runtime and again right after a remote wake; optionally with an hour-long
/// timer pending, so a blocking park would not be rescued by a near timeout either.
/// `None` uses the default builder, whose SQ has [`DEFAULT_ENTRIES`].
fn bursts_complete(entries: Option<u32>, timer_pending: bool) {
    let _w = watchdog(Duration::from_secs(60), "a burst that fills the SQ");
    let n = entries.unwrap_or(DEFAULT_ENTRIES) as usize;
    for size in [n.saturating_sub(1), n, n + 1] {
        let builder = match entries {
            Some(e) => Builder::new().entries(e),
            None => Builder::new(),
        };
        let done = builder
            .run(async {
                let mut timer = Box::pin(sleep(Duration::from_secs(3600)));
                if timer_pending {
                    assert!(hazard_support::poll_once(timer.as_mut()).await.is_pending());
                }
                burst(size).await?;
                remote_wake().await;
                burst(size).await?;
                remote_wake().await;
                burst(size).await?;
                Ok::<_, OpError>(quartet::stats().unwrap().live_ops)
            })
            .unwrap()
            .unwrap();
        assert_eq!(done, 0, "every nop of the bursts of {size} on a {n}-entry ring completed");
    }
}

#[test]
fn one_entry_ring_runs_bursts_without_blocking() {
    bursts_complete(Some(1), false);
}

#[test]
fn one_entry_ring_runs_bursts_with_a_timer_pending() {
    bursts_complete(Some(1), true);
}

#[test]
fn two_entry_ring_runs_bursts_without_blocking() {
    bursts_complete(Some(2), false);
}

#[test]
fn two_entry_ring_runs_bursts_with_a_timer_pending() {
    bursts_complete(Some(2), true);
}

#[test]
fn four_entry_ring_runs_bursts_without_blocking() {
    bursts_complete(Some(4), false);
}

#[test]
fn four_entry_ring_runs_bursts_with_a_timer_pending() {
    bursts_complete(Some(4), true);
}

#[test]
fn default_ring_runs_bursts_without_blocking() {
    bursts_complete(None, false);
}

#[test]
fn default_ring_runs_bursts_with_a_timer_pending() {
    bursts_complete(None, true);
}

/// The simplest form of the hang: a single `nop()` on a one-entry ring.
#[test]
fn single_nop_on_a_one_entry_ring_completes() {
    let _w = watchdog(Duration::from_secs(30), "one nop on a one-entry ring");
    Builder::new().entries(1).run(nop()).unwrap().unwrap();
}
