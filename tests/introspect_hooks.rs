//! Instrumentation hooks: every hook is called, in order, on the kernel thread (issue 14,
//! semantics §7.2); the watchdog names a task stuck in a busy loop while it is stuck.

use quartet::introspect::{Instrument, OpInfo, StuckPoll, StuckPollReporter, TaskOutcome};
use quartet::task::TaskInfo;
use quartet::{BoxError, nursery};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Log(Mutex<Vec<String>>, Mutex<Vec<u64>>);

impl Log {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn name(t: &TaskInfo) -> &str {
    t.name().unwrap_or("?")
}

impl Instrument for Log {
    fn task_spawned(&self, task: &TaskInfo) {
        self.1.lock().unwrap().push(task.id());
        self.push(format!("spawned {}", name(task)));
    }
    fn task_scheduled(&self, task: u64) {
        let ids = self.1.lock().unwrap().clone();
        let which = if ids.first() == Some(&task) { "a" } else { "other" };
        self.push(format!("scheduled {which}"));
    }
    fn before_task_poll(&self, task: &TaskInfo) {
        self.push(format!("before poll {}", name(task)));
    }
    fn after_task_poll(&self, task: &TaskInfo) {
        self.push(format!("after poll {}", name(task)));
    }
    fn task_exited(&self, task: &TaskInfo, outcome: &TaskOutcome) {
        let o = match outcome {
            TaskOutcome::Completed => "completed".to_string(),
            TaskOutcome::Cancelled(_) => "cancelled".to_string(),
            TaskOutcome::Failed(e) => format!("failed {e}"),
            _ => "other".to_string(),
        };
        self.push(format!("exited {} {o}", name(task)));
    }
    fn before_io_wait(&self, _timeout: Option<Duration>) {
        self.push("before io wait".into());
    }
    fn after_io_wait(&self, _waited: Duration) {
        self.push("after io wait".into());
    }
    fn op_submitted(&self, _op: u64, info: &OpInfo) {
        self.push(format!("submitted {}", info.opcode()));
    }
    fn op_completed(&self, _op: u64, result: i32) {
        self.push(format!("completed op {result}"));
    }
}

/// Index of the first event equal to `e` at or after `from` (panics with the log otherwise).
fn find(events: &[String], e: &str, from: usize) -> usize {
    events[from..]
        .iter()
        .position(|x| x == e)
        .map(|i| i + from)
        .unwrap_or_else(|| panic!("no {e:?} after {from} in {events:#?}"))
}

#[test]
fn every_hook_is_called_in_order_for_a_task_that_does_one_nop() {
    let log = Arc::new(Log::default());
    quartet::Builder::new()
        .instrument(log.clone())
        .run(async {
            let r: Result<(), quartet::NurseryError> = nursery(async |n| -> Result<(), BoxError> {
                n.spawn_named("a", async {
                    quartet::nop().await.unwrap();
                })?;
                Ok(())
            })
            .await;
            r.unwrap();
        })
        .unwrap();
    let ev = log.events();
    let spawned = find(&ev, "spawned a", 0);
    let first_poll = find(&ev, "before poll a", spawned);
    let submitted = find(&ev, "submitted Nop", first_poll);
    let after_first = find(&ev, "after poll a", submitted);
    let wait = find(&ev, "before io wait", after_first);
    let back = find(&ev, "after io wait", wait);
    let completed = find(&ev, "completed op 0", back);
    let scheduled = find(&ev, "scheduled a", completed);
    let second_poll = find(&ev, "before poll a", scheduled);
    let after_second = find(&ev, "after poll a", second_poll);
    find(&ev, "exited a completed", after_second);
}

#[test]
fn exit_hook_reports_failure_and_cancellation() {
    let log = Arc::new(Log::default());
    quartet::Builder::new()
        .instrument(log.clone())
        .run(async {
            let _ = nursery(async |n| -> Result<(), BoxError> {
                n.spawn_named("sleeper", async {
                    quartet::sleep(Duration::from_secs(3600)).await?;
                    Ok::<(), BoxError>(())
                })?;
                n.spawn_named("failer", async {
                    quartet::yield_now().await;
                    Err::<(), BoxError>("boom".into())
                })?;
                Ok(())
            })
            .await;
        })
        .unwrap();
    let ev = log.events();
    find(&ev, "exited failer failed boom", 0);
    find(&ev, "exited sleeper cancelled", 0);
}

#[derive(Clone, Default)]
struct Reports {
    seen: Arc<Mutex<Vec<String>>>,
    release: Arc<AtomicBool>,
}

impl StuckPollReporter for Reports {
    fn report(&self, stuck: &StuckPoll) {
        let who = stuck.task().map(|t| format!("{} at {}", t.name().unwrap_or("?"), t.location()));
        self.seen.lock().unwrap().push(who.unwrap_or_else(|| "root".into()));
        if stuck.task().and_then(|t| t.name()) == Some("spinner") {
            self.release.store(true, Ordering::Release);
        }
    }
}

#[test]
fn watchdog_names_a_task_stuck_in_a_busy_loop_while_it_is_stuck() {
    let reports = Reports::default();
    let release = reports.release.clone();
    let spawn_line = line!() + 6;
    quartet::Builder::new()
        .watchdog(Duration::from_millis(20), reports.clone())
        .run(async move {
            let r: Result<(), quartet::NurseryError> = nursery(async |n| -> Result<(), BoxError> {
                let release = release.clone();
                n.spawn_named("spinner", async move {
                    // Never yields: only the watchdog's report (from its own thread) ends it.
                    while !release.load(Ordering::Acquire) {
                        std::hint::spin_loop();
                    }
                })?;
                Ok(())
            })
            .await;
            r.unwrap();
        })
        .unwrap();
    let seen = reports.seen.lock().unwrap().clone();
    let expected = format!("spinner at {}:{spawn_line}", file!());
    assert!(seen.iter().any(|s| s.starts_with(&expected)), "{seen:?} (expected {expected})");
}
