//! The intrusive timer entries (runtime/src/time/entry.rs): a `Sleep`'s wheel entry lives inside
//! it and the wheel points to it, so every way a sleep can end must leave the wheel with no
//! pointer to freed memory. Run under ASan by scripts/test.sh: a use after free here is a crash,
//! not a wrong number. Sleeps dropped in flight (in the middle of a slot's list, on every level),
//! a sleep leaked while armed (the runtime's shutdown unlinks it), one leaked after it fired,
//! re-registration with another waker, deadlines beyond 584 years, cancellation before the
//! deadline, and sleeps dropped after they fired but before they were polled again.

use quartet::{
    Builder, CancelScope, Cancelled, SpawnError, now, nursery, sleep, sleep_until, stats, testing, yield_now,
};
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

const YEAR: Duration = Duration::from_secs(365 * 86400);

fn timers() -> usize {
    stats().unwrap().timers
}

fn mock() -> Builder {
    Builder::new().mock_clock(true).autojump(false)
}

/// Polls `f` once with the current task's waker.
async fn poll_once<F: Future + ?Sized>(mut f: Pin<&mut F>) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await
}

/// splitmix64: a fixed sequence.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[test]
fn sleeps_dropped_in_flight_leave_the_others_linked_and_firing() {
    mock()
        .run(async {
            let t0 = now();
            let mut rng = 3;
            // Many per slot (so drops unlink from the middle of lists), on levels 0-3 and overflow.
            let spans = [5u64, 200, 20_000, 3_000_000, 3 * 365 * 86_400_000];
            let mut sleeps: Vec<(Duration, Pin<Box<quartet::Sleep>>)> = (0..2_000)
                .map(|i| {
                    let span = spans[i % spans.len()];
                    let d = Duration::from_millis(next(&mut rng) % span) + Duration::from_micros(next(&mut rng) % 1000);
                    (d, Box::pin(sleep_until(t0 + d)))
                })
                .collect();
            for (_, s) in &mut sleeps {
                assert!(poll_once(s.as_mut()).await.is_pending());
            }
            assert_eq!(timers(), 2_000);
            // Drop every other one, in a scrambled order.
            let mut i = 0;
            sleeps.retain(|_| {
                i += 1;
                i % 2 == 0 || next(&mut rng) % 4 == 0
            });
            assert_eq!(timers(), sleeps.len());
            // The rest fire, each at or after its instant, as the clock steps through them all.
            sleeps.sort_by_key(|(d, _)| *d);
            for (d, s) in &mut sleeps {
                let target = t0 + *d;
                if now() < target {
                    testing::advance(target - now()).unwrap();
                }
                yield_now().await; // a tick: the kernel fires what is due
                assert!(matches!(poll_once(s.as_mut()).await, Poll::Ready(Ok(()))), "due at +{d:?}");
            }
            assert_eq!(timers(), 0);
        })
        .unwrap();
}

#[test]
fn a_sleep_leaked_while_armed_is_unlinked_at_shutdown() {
    // Its memory stays valid forever (pin's drop guarantee allows a leak, not a free), so the
    // wheel may keep it linked until the runtime ends: shutdown unlinks it and drops its waker.
    let woken = Rc::new(Cell::new(0));
    mock()
        .run(async {
            let mut leaked = Box::pin(sleep(Duration::from_secs(60)));
            assert!(poll_once(leaked.as_mut()).await.is_pending());
            let mut near = Box::pin(sleep(Duration::from_millis(1)));
            assert!(poll_once(near.as_mut()).await.is_pending());
            std::mem::forget(leaked);
            assert_eq!(timers(), 2);
            testing::advance(Duration::from_millis(2)).unwrap();
            near.await.unwrap(); // the wheel fires around the leaked entry
            assert_eq!(timers(), 1, "the leaked sleep stays linked");
            woken.set(1);
        })
        .unwrap();
    assert_eq!(woken.get(), 1);
    // A runtime on the same thread afterwards starts from an empty wheel.
    mock().run(async { assert_eq!(timers(), 0) }).unwrap();
}

#[test]
fn a_sleep_leaked_after_it_fired_holds_nothing() {
    mock()
        .run(async {
            let mut s = Box::pin(sleep(Duration::from_millis(2)));
            assert!(poll_once(s.as_mut()).await.is_pending());
            testing::advance(Duration::from_millis(3)).unwrap();
            yield_now().await;
            assert_eq!(timers(), 0, "fired: unlinked before it is polled again");
            std::mem::forget(s);
            let next = sleep(Duration::from_millis(5));
            testing::advance(Duration::from_millis(5)).unwrap();
            next.await.unwrap();
        })
        .unwrap();
}

#[test]
fn a_re_polled_sleep_wakes_only_its_latest_waker() {
    mock()
        .run(async {
            let first = Rc::new(Cell::new(false));
            let mut s = Box::pin(sleep(Duration::from_millis(10)));
            // First poll from a task whose waker sets `first`.
            {
                let f = first.clone();
                let w = std::task::Waker::from(std::sync::Arc::new(Flag(std::sync::atomic::AtomicBool::new(false))));
                let mut cx = std::task::Context::from_waker(&w);
                assert!(s.as_mut().poll(&mut cx).is_pending());
                drop(f);
            }
            // Then from this task: its waker replaces the other (one registration, not two).
            assert!(poll_once(s.as_mut()).await.is_pending());
            assert_eq!(timers(), 1);
            testing::advance(Duration::from_millis(10)).unwrap();
            s.await.unwrap();
            assert!(!first.get());
        })
        .unwrap();
}

struct Flag(std::sync::atomic::AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn deadlines_beyond_584_years_link_and_unlink() {
    mock()
        .run(async {
            let t0 = now();
            let mut far = Box::pin(sleep_until(t0 + 1000 * YEAR));
            let mut farther = Box::pin(sleep_until(t0 + 1200 * YEAR));
            let mut dropped = Box::pin(sleep_until(t0 + 1100 * YEAR));
            for s in [&mut far, &mut farther, &mut dropped] {
                assert!(poll_once(s.as_mut()).await.is_pending());
            }
            assert_eq!(timers(), 3);
            drop(dropped);
            assert_eq!(timers(), 2);
            // (The mock clock cannot jump 1000 years: the wheel's unit tests fire such entries.)
            let near = sleep(Duration::from_millis(3));
            testing::advance(Duration::from_millis(3)).unwrap();
            near.await.unwrap();
            assert!(poll_once(far.as_mut()).await.is_pending(), "still armed, not fired");
            assert_eq!(timers(), 2);
            drop(far);
            assert_eq!(timers(), 1);
            drop(farther);
            assert_eq!(timers(), 0);
        })
        .unwrap();
}

#[test]
fn a_sleep_cancelled_before_its_deadline_unlinks_itself() {
    mock()
        .run(async {
            let scope = CancelScope::new();
            let handle = scope.handle();
            let r = scope
                .run(async {
                    let mut s = Box::pin(sleep(Duration::from_secs(5)));
                    assert!(poll_once(s.as_mut()).await.is_pending());
                    assert_eq!(timers(), 1);
                    handle.cancel();
                    let r: Result<(), Cancelled> = s.as_mut().await;
                    assert!(r.is_err());
                    assert_eq!(timers(), 0, "cancelled: the entry left the wheel before the sleep was dropped");
                    drop(s);
                    Ok::<_, Cancelled>(())
                })
                .await;
            drop(r);
            assert_eq!(timers(), 0);
        })
        .unwrap();
}

type Slot = Option<Pin<Box<quartet::Sleep>>>;

#[test]
fn sleeps_fired_in_one_tick_and_dropped_by_a_sibling_before_their_poll() {
    // Ten children due in the same tick; the first to run drops the others' sleeps, which the
    // wheel already unlinked (fired) but nobody polled yet, and a later sleep still armed.
    let ran = mock()
        .run(async {
            let t0 = now();
            let slots: Rc<RefCell<Vec<Slot>>> = Rc::new(RefCell::new(Vec::new()));
            for i in 0..10 {
                slots.borrow_mut().push(Some(Box::pin(sleep_until(t0 + Duration::from_micros(500 + i)))));
            }
            slots.borrow_mut().push(Some(Box::pin(sleep_until(t0 + Duration::from_secs(9)))));
            let armed = poll_fn(|cx| {
                let mut v = slots.borrow_mut();
                Poll::Ready(v[10].as_mut().map(|s| s.as_mut().poll(cx).is_pending()))
            })
            .await;
            assert_eq!(armed, Some(true), "armed by the body, not by a child");
            let ran = Cell::new(0);
            nursery(async |n| {
                for i in 0..10 {
                    let (slots, ran) = (slots.clone(), &ran);
                    n.spawn(async move {
                        let mine = poll_fn(|cx| {
                            let mut v = slots.borrow_mut();
                            match v[i].as_mut() {
                                None => Poll::Ready(None),
                                Some(s) => match s.as_mut().poll(cx) {
                                    Poll::Ready(r) => Poll::Ready(Some(r)),
                                    Poll::Pending => Poll::Pending,
                                },
                            }
                        })
                        .await;
                        if let Some(r) = mine {
                            r?;
                            ran.set(ran.get() + 1);
                            // Drop every other sleep (fired or still armed) from inside the tick.
                            let taken: Vec<_> = slots.borrow_mut().iter_mut().map(Option::take).collect();
                            drop(taken);
                        }
                        Ok::<_, Cancelled>(())
                    })?;
                }
                yield_now().await;
                assert_eq!(timers(), 11);
                testing::advance(Duration::from_millis(1)).unwrap();
                Ok::<_, SpawnError>(())
            })
            .await
            .unwrap();
            assert_eq!(timers(), 0);
            ran.get()
        })
        .unwrap();
    assert_eq!(ran, 1, "one sleep ended normally, the others were dropped by it");
}

#[test]
fn moved_scope_deadlines_and_re_armed_timers_keep_one_registration() {
    // Scope deadlines and `Timer` use the pool's boxed entries: moving a deadline re-links one.
    mock()
        .run(async {
            let t0 = now();
            let scope = CancelScope::with_deadline(t0 + Duration::from_secs(60));
            let r = scope
                .run(async {
                    let mut s = Box::pin(sleep(Duration::from_secs(30)));
                    assert!(poll_once(s.as_mut()).await.is_pending());
                    assert_eq!(timers(), 2, "the sleep and the deadline");
                    scope.set_deadline(Some(t0 + Duration::from_secs(20)));
                    scope.set_deadline(Some(t0 + Duration::from_secs(10)));
                    yield_now().await;
                    assert_eq!(timers(), 2, "moved, not added");
                    let mut timer = quartet_runtime::Timer::new();
                    let waker = poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
                    let mut cx = std::task::Context::from_waker(&waker);
                    assert!(timer.poll_at(t0 + Duration::from_secs(5), &mut cx).is_pending());
                    assert!(timer.poll_at(t0 + Duration::from_secs(6), &mut cx).is_pending());
                    assert_eq!(timers(), 3, "re-armed, not added");
                    drop(timer);
                    testing::advance(Duration::from_secs(10)).unwrap();
                    s.as_mut().await
                })
                .await;
            assert!(matches!(r, Ok(None)), "the moved deadline cancelled the block: {r:?}");
            assert_eq!(timers(), 0);
        })
        .unwrap();
}
