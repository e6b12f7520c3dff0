//! `Semaphore`: FIFO hand-off of units, `try_acquire`, `release`, `Permit::forget`, statistics.
use quartet::sync::{Permit, Semaphore, SemaphoreError, WouldBlock};
use quartet::{BoxError, Cancelled, nursery, run, yield_now};
use std::cell::{Cell, RefCell};

#[test]
fn units_are_handed_out_in_the_order_tasks_started_waiting() {
    let order = RefCell::new(Vec::new());
    run(async {
        let sem = Semaphore::new(0);
        nursery(async |n| {
            for id in 0..5 {
                let (sem, order) = (&sem, &order);
                n.spawn(async move {
                    sem.acquire().await?.forget();
                    order.borrow_mut().push(id);
                    Ok::<_, Cancelled>(())
                })?;
            }
            yield_now().await;
            assert_eq!(sem.statistics().waiting, 5);
            for _ in 0..5 {
                sem.release().unwrap();
                // a released unit goes to the oldest waiter, not into the pool
                assert_eq!(sem.value(), 0);
                assert_eq!(sem.try_acquire().err(), Some(WouldBlock));
            }
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
    assert_eq!(order.into_inner(), [0, 1, 2, 3, 4]);
}

#[test]
fn permits_bound_concurrency_and_give_units_back_on_drop() {
    let running = Cell::new(0);
    let peak = Cell::new(0);
    run(async {
        let sem = Semaphore::new(3);
        nursery(async |n| {
            for _ in 0..20 {
                let (sem, running, peak) = (&sem, &running, &peak);
                n.spawn(async move {
                    let _permit = sem.acquire().await?;
                    running.set(running.get() + 1);
                    peak.set(peak.get().max(running.get()));
                    yield_now().await;
                    running.set(running.get() - 1);
                    Ok::<_, Cancelled>(())
                })?;
            }
            Ok::<_, quartet::SpawnError>(())
        })
        .await?;
        assert_eq!(sem.value(), 3, "every unit came back");
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
    assert_eq!(peak.get(), 3);
}

#[test]
fn try_acquire_forget_and_release_adjust_the_value() {
    let sem = Semaphore::new(2);
    let a = sem.try_acquire().unwrap();
    sem.try_acquire().unwrap().forget();
    assert_eq!(sem.value(), 0);
    assert!(sem.try_acquire().is_err());
    drop(a);
    assert_eq!(sem.value(), 1);
    sem.release().unwrap();
    let s = sem.statistics();
    assert_eq!((s.value, s.waiting), (2, 0));
}

/// Trio's `test_Semaphore_bounded`: a bounded semaphore refuses an initial value above its
/// maximum and a release past it, and changes nothing when it refuses.
#[test]
fn bounded_semaphore_refuses_to_be_released_past_its_maximum() {
    assert_eq!(Semaphore::bounded(2, 1).err(), Some(SemaphoreError::InitialAboveMax { value: 2, max_value: 1 }));
    let bs = Semaphore::bounded(1, 1).unwrap();
    assert_eq!(bs.max_value(), Some(1));
    assert_eq!(bs.statistics().max_value, Some(1));
    assert_eq!(bs.release(), Err(SemaphoreError::ReleasedTooManyTimes { max_value: 1 }));
    assert_eq!(bs.value(), 1);
    bs.try_acquire().unwrap().forget();
    assert_eq!(bs.value(), 0);
    bs.release().unwrap();
    assert_eq!(bs.value(), 1);
    assert_eq!(Semaphore::new(1).max_value(), None);
    // a zero maximum: nothing can ever be released, even with tasks waiting
    let zero = Semaphore::bounded(0, 0).unwrap();
    assert_eq!(zero.release(), Err(SemaphoreError::ReleasedTooManyTimes { max_value: 0 }));
}

/// An unbounded semaphore at `usize::MAX` reports the extra release instead of saturating
/// silently (which would lose the unit without telling anyone).
#[test]
fn release_at_usize_max_is_an_error_not_a_silent_saturation() {
    let sem = Semaphore::new(usize::MAX);
    assert_eq!(sem.release(), Err(SemaphoreError::ReleasedTooManyTimes { max_value: usize::MAX }));
    assert_eq!(sem.value(), usize::MAX);
    let p = sem.try_acquire().unwrap();
    assert_eq!(sem.value(), usize::MAX - 1);
    drop(p);
    assert_eq!(sem.value(), usize::MAX);
}

/// A permit dropped after an unbalanced release finds the value at its maximum: its unit is
/// discarded (a drop cannot fail) and the bound holds.
#[test]
fn permit_dropped_at_the_maximum_keeps_the_bound() {
    let bs = Semaphore::bounded(1, 1).unwrap();
    let p = bs.try_acquire().unwrap();
    bs.release().unwrap(); // unbalanced: the permit still holds its unit
    assert_eq!(bs.value(), 1);
    drop(p);
    assert_eq!(bs.value(), 1, "the value never passes max_value");
    assert_eq!(bs.release(), Err(SemaphoreError::ReleasedTooManyTimes { max_value: 1 }));
}

/// A release at the maximum hands nothing to waiters: with a bounded semaphore at 0/0 the
/// waiter stays parked (and leaves when its scope is cancelled).
#[test]
fn refused_release_wakes_no_waiter() {
    run(async {
        let sem = Semaphore::bounded(0, 0).unwrap();
        nursery(async |n| {
            let sem = &sem;
            n.spawn(async move { sem.acquire().await.map(Permit::forget) })?;
            yield_now().await;
            assert_eq!(sem.statistics().waiting, 1);
            assert!(sem.release().is_err());
            yield_now().await;
            assert_eq!(sem.statistics().waiting, 1, "still parked");
            n.cancel();
            Ok::<_, BoxError>(())
        })
        .await?;
        assert_eq!(sem.statistics().waiting, 0);
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
}
