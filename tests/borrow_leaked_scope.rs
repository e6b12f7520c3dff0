//! Borrowing children are sound under `mem::forget` (semantics §1.6, the scoped-task trilemma): a
//! nursery future leaked mid-flight never polls (or drops) its children again, so they cannot touch
//! the data they borrowed after it is freed, however long the runtime keeps running.
//!
//! Run it under AddressSanitizer to see any use-after-free directly (leaks are expected here):
//! `ASAN_OPTIONS=detect_leaks=0 RUSTFLAGS=-Zsanitizer=address CARGO_TARGET_DIR=target/asan
//! cargo +nightly test --target x86_64-unknown-linux-gnu --test borrow_leaked_scope`

use crate::nursery_support;

use nursery_support::{poll_noop, run, tcp_pair};
use quartet::{BoxError, CancelScope, Cancelled, SpawnError, TaskStatus, checkpoint, nop, nursery, sleep, yield_now};
use std::cell::Cell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

/// Keeps the runtime busy after a leak: timers firing, ring I/O, and fresh allocations (which
/// reuse the freed memory, so a stray write would corrupt them).
async fn keep_running_for_a_while(canary: &[Cell<u64>]) {
    let (a, b) = tcp_pair().await.unwrap();
    for round in 0..20u8 {
        sleep(Duration::from_millis(1)).await.unwrap();
        for _ in 0..5 {
            nop().await.unwrap();
        }
        let (r, _) = a.send_all(vec![round; 32]).await;
        r.unwrap();
        let (r, _) = b.recv(Vec::with_capacity(64)).await;
        r.unwrap();
        // new children in a new nursery, polled by the same kernel
        nursery(async |n| {
            for _ in 0..4 {
                n.spawn(async {
                    let v = vec![0x5au8; 64 * 8];
                    checkpoint().await?;
                    assert!(v.iter().all(|&b| b == 0x5a));
                    Ok::<_, Cancelled>(())
                })?;
            }
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
        assert!(canary.iter().all(|c| c.get() == 0xC0FFEE), "freed borrowed memory was written after the leak");
    }
}

#[test]
fn leaked_nursery_never_polls_its_children_again() {
    // Owned by the test, outlives the borrowed data: counts child steps.
    let steps = Rc::new(Cell::new(0u64));
    run(async {
        let before_leak;
        {
            // The data the children borrow. Freed right after the leak.
            let data: Vec<Cell<u64>> = (0..64).map(|_| Cell::new(0)).collect();
            let mut fut = Box::pin(nursery(async |n| {
                for i in 0..8usize {
                    let (data, steps) = (&data, steps.clone());
                    n.spawn(async move {
                        loop {
                            // every kind of wait: timer, ring op, plain yield
                            match i % 3 {
                                0 => sleep(Duration::from_micros(200)).await?,
                                1 => nop().await.map_err(|_| Cancelled::new(quartet::Reason::Explicit))?,
                                _ => yield_now().await,
                            }
                            // write into the borrowed data, and count the step
                            data[i * 8].set(data[i * 8].get() + 1);
                            steps.set(steps.get() + 1);
                        }
                        #[allow(unreachable_code)]
                        Ok::<_, Cancelled>(())
                    })?;
                }
                // the body keeps borrowing too
                loop {
                    sleep(Duration::from_micros(300)).await?;
                    data[63].set(data[63].get() + 1);
                }
                #[allow(unreachable_code)]
                Ok::<_, BoxError>(())
            }));
            // Poll it by hand with a waker that does nothing, letting the kernel run in between.
            for _ in 0..20 {
                poll_fn(|_cx| {
                    assert!(poll_noop(fut.as_mut()).is_pending());
                    Poll::Ready(())
                })
                .await;
                sleep(Duration::from_millis(1)).await.unwrap();
            }
            before_leak = steps.get();
            assert!(before_leak > 0, "the children never ran before the leak");
            assert!(data.iter().any(|c| c.get() > 0));
            std::mem::forget(fut);
            drop(data); // the borrow ended with the leak: the data is freed now
        }
        // Reuse the freed memory right away.
        let canary: Vec<Cell<u64>> = (0..64).map(|_| Cell::new(0xC0FFEE)).collect();
        keep_running_for_a_while(&canary).await;
        assert_eq!(steps.get(), before_leak, "a child of the leaked nursery ran after the leak");
    });
    assert_eq!(Rc::strong_count(&steps) - 1, 8, "the leaked children are never dropped either");
}

#[test]
fn leaked_cancel_scope_and_start_never_run_their_code_again() {
    let steps = Rc::new(Cell::new(0u64));
    run(async {
        let before_leak;
        {
            let data: Vec<Cell<u64>> = (0..16).map(|_| Cell::new(0)).collect();
            let steps2 = steps.clone();
            let data_ref = &data;
            let mut fut = Box::pin(nursery(async move |n| {
                // a started child and a scoped block with a deadline, both borrowing
                n.start(|status: TaskStatus<()>| {
                    let steps = steps2.clone();
                    async move {
                        status.started(());
                        loop {
                            sleep(Duration::from_micros(100)).await?;
                            data_ref[0].set(data_ref[0].get() + 1);
                            steps.set(steps.get() + 1);
                        }
                        #[allow(unreachable_code)]
                        Ok::<_, Cancelled>(())
                    }
                })
                .await?;
                let scope = CancelScope::with_deadline(quartet::Instant::now() + Duration::from_millis(5));
                scope
                    .run(async {
                        loop {
                            yield_now().await;
                            data_ref[1].set(data_ref[1].get() + 1);
                            steps2.set(steps2.get() + 1);
                            checkpoint().await?;
                        }
                        #[allow(unreachable_code)]
                        Ok::<_, Cancelled>(())
                    })
                    .await?;
                Ok::<_, BoxError>(())
            }));
            for _ in 0..10 {
                poll_fn(|_cx| Poll::Ready(poll_noop(fut.as_mut()).is_pending())).await;
                nop().await.unwrap();
            }
            before_leak = steps.get();
            assert!(before_leak > 0, "nothing ran before the leak");
            std::mem::forget(fut);
            drop(data);
        }
        let canary: Vec<Cell<u64>> = (0..16).map(|_| Cell::new(0xC0FFEE)).collect();
        keep_running_for_a_while(&canary).await;
        assert_eq!(steps.get(), before_leak, "leaked code ran after the leak");
    });
}
