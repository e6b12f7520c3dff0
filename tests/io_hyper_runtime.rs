//! quartet's hyper runtime pieces (`quartet::io::hyper`): futures executed by hyper become
//! children of a nursery, whether handed over on the runtime thread (`NurseryExecutor`) or from
//! any thread (`send_executor`), and they are cancelled with that nursery; the timer's sleeps end.

use crate::nursery_support;

use hyper::rt::{Executor, Timer};
use nursery_support::run;
use quartet::io::hyper::{HyperTimer, NurseryExecutor, send_executor};
use quartet::{CancelScope, channel, nursery, sleep, to_thread};
use std::cell::Cell;
use std::time::Duration;

struct SetOnDrop<'a>(&'a Cell<bool>);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn nursery_executor_tasks_are_children_cancelled_with_the_nursery() {
    run(async {
        let (started, dropped) = (Cell::new(false), Cell::new(false));
        let out = nursery(async |n| {
            let exec = NurseryExecutor::new(n);
            exec.execute(async {
                let _guard = SetOnDrop(&dropped);
                started.set(true);
                let _ = sleep(Duration::from_secs(3600)).await;
            });
            quartet::checkpoint().await?;
            assert!(started.get(), "the executed future runs as a child");
            assert_eq!(n.live_children(), 1);
            n.cancel();
            Ok::<_, quartet::Cancelled>(())
        })
        .await;
        if let Err(e) = out {
            assert!(e.is_own_cancel(), "{e}");
        }
        assert!(dropped.get(), "the nursery did not return before the executed future ended");
    });
}

#[test]
fn send_executor_spawns_futures_sent_from_another_thread() {
    run(async {
        let (exec, task) = send_executor();
        let (tx, rx) = channel::<u32>(1);
        nursery(async |n| {
            n.spawn(task.run(n.clone()))?;
            let got = to_thread(move || {
                exec.execute(async move {
                    let _ = tx.send(42).await;
                });
                // `exec` is dropped here: once its future is spawned, the task ends.
            });
            got.await?;
            assert_eq!(rx.recv().await?, Some(42));
            Ok::<_, quartet::BoxError>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn hyper_timer_sleeps_end_and_end_at_once_when_cancelled() {
    run(async {
        HyperTimer.sleep(Duration::from_millis(1)).await;
        let scope = CancelScope::new();
        scope.cancel();
        // A sleep inside a cancelled scope ends at once (hyper then sees its timeout fire).
        let out = scope
            .run(async {
                HyperTimer.sleep(Duration::from_secs(3600)).await;
                Ok::<_, quartet::Cancelled>(())
            })
            .await;
        assert_eq!(out.unwrap(), Some(()));
    });
}
