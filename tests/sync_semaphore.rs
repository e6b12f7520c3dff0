//! `Semaphore`: FIFO hand-off of units, `try_acquire`, `release`, `Permit::forget`, statistics.
use quartet::sync::{Semaphore, WouldBlock};
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
                sem.release();
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
    sem.release();
    let s = sem.statistics();
    assert_eq!((s.value, s.waiting), (2, 0));
}
