//! The `tracing` instrument: a span per task with its name, spawn location and parent nursery,
//! entered around its polls; events for cancellations (with the reason) and failures. A
//! hand-written subscriber records what it is given.
#![cfg(feature = "tracing")]

use quartet::introspect::TracingInstrument;
use quartet::{BoxError, nursery};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

#[derive(Default)]
struct Fields(HashMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

#[derive(Default)]
struct Recorded {
    /// span id -> (name, fields)
    spans: HashMap<u64, (String, HashMap<String, String>)>,
    /// (span entered) in order
    entered: Vec<u64>,
    /// (parent span, message, fields)
    events: Vec<(Option<u64>, HashMap<String, String>)>,
}

#[derive(Clone, Default)]
struct Recorder {
    next: Arc<AtomicU64>,
    rec: Arc<Mutex<Recorded>>,
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut f = Fields::default();
        span.record(&mut f);
        self.rec.lock().unwrap().spans.insert(id, (span.metadata().name().to_string(), f.0));
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut f = Fields::default();
        event.record(&mut f);
        f.0.insert("target".into(), event.metadata().target().to_string());
        self.rec.lock().unwrap().events.push((event.parent().map(Id::into_u64), f.0));
    }
    fn enter(&self, span: &Id) {
        self.rec.lock().unwrap().entered.push(span.into_u64());
    }
    fn exit(&self, _: &Id) {}
}

#[test]
fn tracing_spans_name_each_task_and_events_report_cancellation_and_failure() {
    let recorder = Recorder::default();
    let dispatch = tracing::Dispatch::new(recorder.clone());
    tracing::dispatcher::with_default(&dispatch, || {
        quartet::Builder::new()
            // Threshold zero: every poll is "slow", so the event's presence is not a timing test.
            .instrument(Arc::new(TracingInstrument::new().slow_poll(Duration::ZERO)))
            .run(async {
                let _ = nursery(async |n| -> Result<(), BoxError> {
                    n.spawn_named("sleeper", async {
                        quartet::sleep(Duration::from_secs(3600)).await?;
                        Ok::<(), BoxError>(())
                    })?;
                    n.spawn_named("failer", async {
                        std::thread::sleep(Duration::from_millis(1)); // a poll that takes some time
                        quartet::yield_now().await;
                        Err::<(), BoxError>("boom".into())
                    })?;
                    Ok(())
                })
                .await;
            })
            .unwrap();
    });
    let rec = recorder.rec.lock().unwrap();
    let span_of = |name: &str| {
        rec.spans
            .iter()
            .find(|(_, (n, f))| n == "runtime.spawn" && f.get("task.name").map(String::as_str) == Some(name))
            .map(|(id, (_, f))| (*id, f.clone()))
            .unwrap_or_else(|| panic!("no span for {name}: {:?}", rec.spans))
    };
    let (sleeper, fields) = span_of("sleeper");
    assert_eq!(fields.get("kind").map(String::as_str), Some("task"));
    assert_eq!(fields.get("loc.file").map(String::as_str), Some(file!()));
    assert!(fields.contains_key("loc.line") && fields.contains_key("task.id"), "{fields:?}");
    assert_eq!(fields.get("parent_nursery").map(String::as_str), Some("root"));
    let (failer, _) = span_of("failer");
    // Each task's span is entered for its polls.
    assert!(rec.entered.contains(&sleeper) && rec.entered.contains(&failer), "{:?}", rec.entered);
    let failed =
        rec.events.iter().find(|(p, f)| *p == Some(failer) && f.get("message").is_some_and(|m| m == "task failed"));
    assert!(failed.is_some_and(|(_, f)| f.get("error").is_some_and(|e| e == "boom")), "{:?}", rec.events);
    let cancelled =
        rec.events.iter().find(|(p, f)| *p == Some(sleeper) && f.get("message").is_some_and(|m| m == "task cancelled"));
    assert!(cancelled.is_some_and(|(_, f)| f.contains_key("reason")), "{:?}", rec.events);
    let slow =
        rec.events.iter().find(|(p, f)| *p == Some(failer) && f.get("message").is_some_and(|m| m == "slow poll"));
    assert!(slow.is_some_and(|(_, f)| f.contains_key("duration")), "{:?}", rec.events);
    // Wakes follow tokio-console's waker events.
    assert!(
        rec.events.iter().any(|(_, f)| f.get("target").is_some_and(|t| t == "runtime::waker")
            && f.get("op").is_some_and(|o| o == "waker.wake")),
        "{:?}",
        rec.events
    );
}
