//! The slow-poll detector: it names the task that blocked the loop (name or spawn location), blames
//! only that task and not its ancestors, and is on by default in debug builds with a conservative
//! threshold (100 ms), off with `slow_poll_threshold(None)`.

use quartet::monitor::{
    DEFAULT_SLOW_POLL_THRESHOLD, ENV_SLOW_POLL_MS, SlowPoll, SlowPollReporter, parse_slow_poll_ms, slow_poll_threshold,
    slow_polls,
};
use quartet::{Builder, Cancelled, SpawnError, nursery};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BLOCK: Duration = Duration::from_millis(100);
const THRESHOLD: Duration = Duration::from_millis(20);

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<SlowPoll>>>);

impl SlowPollReporter for Collect {
    fn report(&self, poll: &SlowPoll) {
        self.0.lock().unwrap().push(poll.clone());
    }
}

impl Collect {
    /// The reports that account for a deliberate block (an OS hiccup may add short ones).
    fn long(&self) -> Vec<SlowPoll> {
        self.0.lock().unwrap().iter().filter(|p| p.duration() >= BLOCK).cloned().collect()
    }
}

fn detecting(reporter: &Collect) -> Builder {
    Builder::new().slow_poll_threshold(Some(THRESHOLD)).slow_poll_reporter(reporter.clone())
}

#[test]
fn slow_named_child_is_reported_by_name_and_location() {
    let reports = Collect::default();
    let line = detecting(&reports)
        .run(async {
            let mut line = 0;
            nursery(async |n| {
                line = line!() + 1;
                n.spawn_named("hog", async {
                    std::thread::sleep(BLOCK); // blocks the loop
                    Ok::<_, Cancelled>(())
                })?;
                Ok::<_, SpawnError>(())
            })
            .await
            .unwrap();
            assert!(slow_polls().unwrap() >= 1);
            line
        })
        .unwrap();
    let long = reports.long();
    assert_eq!(long.len(), 1, "only the child is blamed, not its ancestors: {long:?}");
    let task = long[0].task().expect("a child task, not the root");
    assert_eq!(task.name(), Some("hog"));
    assert!(task.location().file().ends_with("monitor_slow_poll.rs"), "{}", task.location());
    assert_eq!(task.location().line(), line);
    assert_eq!(long[0].threshold(), THRESHOLD);
    let text = long[0].to_string();
    assert!(text.contains("'hog'") && text.contains("monitor_slow_poll.rs"), "{text}");
}

#[test]
fn slow_unnamed_child_is_reported_by_spawn_location() {
    let reports = Collect::default();
    let line = detecting(&reports)
        .run(async {
            let mut line = 0;
            nursery(async |n| {
                n.spawn(async {
                    nursery(async |inner| {
                        line = line!() + 1;
                        inner.spawn(async {
                            std::thread::sleep(BLOCK);
                            Ok::<_, Cancelled>(())
                        })?;
                        Ok::<_, SpawnError>(())
                    })
                    .await
                })?;
                Ok::<_, SpawnError>(())
            })
            .await
            .unwrap();
            line
        })
        .unwrap();
    let long = reports.long();
    assert_eq!(long.len(), 1, "the grandchild alone is blamed: {long:?}");
    let task = long[0].task().unwrap();
    assert_eq!(task.name(), None);
    assert_eq!(task.location().line(), line);
}

#[test]
fn slow_root_future_is_reported_as_the_root() {
    let reports = Collect::default();
    detecting(&reports).run(async { std::thread::sleep(BLOCK) }).unwrap();
    let long = reports.long();
    assert_eq!(long.len(), 1);
    assert!(long[0].task().is_none());
    assert!(long[0].to_string().contains("root future"), "{}", long[0]);
}

#[test]
fn detector_default_is_conservative_and_can_be_turned_off() {
    if std::env::var_os(ENV_SLOW_POLL_MS).is_some() {
        eprintln!("{ENV_SLOW_POLL_MS} is set in this environment; the default cannot be observed");
        return;
    }
    assert_eq!(DEFAULT_SLOW_POLL_THRESHOLD, cfg!(debug_assertions).then_some(Duration::from_millis(100)));
    let reports = Collect::default();
    Builder::new()
        .slow_poll_reporter(reports.clone())
        .run(async {
            assert_eq!(slow_poll_threshold(), DEFAULT_SLOW_POLL_THRESHOLD);
            std::thread::sleep(THRESHOLD); // well under the default: not reported
        })
        .unwrap();
    assert!(reports.0.lock().unwrap().is_empty());
    if cfg!(debug_assertions) {
        let caught = Collect::default();
        Builder::new().slow_poll_reporter(caught.clone()).run(async { std::thread::sleep(BLOCK + THRESHOLD) }).unwrap();
        assert_eq!(caught.long().len(), 1, "the default reports a poll that blocks for 120 ms");
    }
    let off = Collect::default();
    Builder::new()
        .slow_poll_threshold(None)
        .slow_poll_reporter(off.clone())
        .run(async {
            assert_eq!(slow_poll_threshold(), None);
            std::thread::sleep(BLOCK + THRESHOLD);
        })
        .unwrap();
    assert!(off.0.lock().unwrap().is_empty());
}

#[test]
fn threshold_parses_milliseconds_and_off() {
    assert_eq!(parse_slow_poll_ms("25"), Ok(Some(Duration::from_millis(25))));
    assert_eq!(parse_slow_poll_ms(" 0.5 "), Ok(Some(Duration::from_micros(500))));
    assert_eq!(parse_slow_poll_ms("0"), Ok(None));
    assert_eq!(parse_slow_poll_ms("off"), Ok(None));
    assert_eq!(parse_slow_poll_ms(""), Ok(None));
    for bad in ["-1", "ten", "1e400", "NaN", "5ms"] {
        let e = parse_slow_poll_ms(bad).unwrap_err();
        assert!(e.to_string().contains(ENV_SLOW_POLL_MS), "{e}");
    }
}
