//! An [`Instrument`] that reports to `tracing` (feature `tracing`): one span per task, entered
//! around each of its polls, and events for slow polls, cancellations (with their reasons) and
//! failures.
//!
//! The spans follow tokio-console's conventions where quartet can meet them: the span is named
//! `runtime.spawn` with `kind = "task"`, `task.name`, `task.id`, `loc.file`, `loc.line`,
//! `loc.col` (what `console-subscriber` reads for its task list, busy/idle time and poll counts),
//! and each wake is an event with target `runtime::waker`, `op = "waker.wake"` and `task.id` set
//! to the task span's id. What cannot be met is in ARCHITECTURE.md ("Introspection").

use super::{Instrument, OpInfo, TaskOutcome};
use crate::task::TaskInfo;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::Span;

/// Reports tasks to `tracing` (see the module docs).
///
/// # Examples
/// ```no_run
/// use quartet_runtime::introspect::TracingInstrument;
/// use std::sync::Arc;
/// use std::time::Duration;
/// // with a subscriber installed (tracing-subscriber, or console-subscriber for tokio-console)
/// quartet_runtime::Builder::new()
///     .instrument(Arc::new(TracingInstrument::new().slow_poll(Duration::from_millis(10))))
///     .run(async {})
///     .unwrap();
/// ```
#[derive(Debug)]
pub struct TracingInstrument {
    slow_poll: Option<Duration>,
    tasks: Mutex<HashMap<u64, Task>>,
}

#[derive(Debug)]
struct Task {
    span: Span,
    poll_start: Option<Instant>,
}

impl Default for TracingInstrument {
    fn default() -> Self {
        TracingInstrument::new()
    }
}

impl TracingInstrument {
    /// An instrument with no slow-poll events.
    pub fn new() -> TracingInstrument {
        TracingInstrument { slow_poll: None, tasks: Mutex::new(HashMap::new()) }
    }

    /// Emits a `WARN` event (in the task's span) for each poll longer than `threshold`.
    pub fn slow_poll(mut self, threshold: Duration) -> TracingInstrument {
        self.slow_poll = Some(threshold);
        self
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<u64, Task>) -> R) -> R {
        f(&mut self.tasks.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Instrument for TracingInstrument {
    fn task_spawned(&self, task: &TaskInfo) {
        let loc = task.location();
        let parent = task.parent().map(ToString::to_string).unwrap_or_else(|| "root".to_string());
        let span = tracing::trace_span!(
            target: "quartet::task",
            parent: None,
            "runtime.spawn",
            kind = "task",
            task.name = task.name().unwrap_or(""),
            task.id = task.id(),
            loc.file = loc.file(),
            loc.line = loc.line(),
            loc.col = loc.column(),
            parent_nursery = parent.as_str(),
        );
        self.with(|t| t.insert(task.id(), Task { span, poll_start: None }));
    }

    fn task_scheduled(&self, task: u64) {
        let id = self.with(|t| t.get(&task).and_then(|t| t.span.id()));
        if let Some(id) = id {
            tracing::trace!(target: "runtime::waker", op = "waker.wake", task.id = id.into_u64());
        }
    }

    fn before_task_poll(&self, task: &TaskInfo) {
        let span = self.with(|t| {
            let e = t.get_mut(&task.id())?;
            e.poll_start = self.slow_poll.map(|_| Instant::now());
            Some(e.span.clone())
        });
        if let Some(id) = span.as_ref().and_then(Span::id) {
            tracing::dispatcher::get_default(|d| d.enter(&id));
        }
    }

    fn after_task_poll(&self, task: &TaskInfo) {
        let found = self.with(|t| t.get_mut(&task.id()).map(|e| (e.span.clone(), e.poll_start.take())));
        let Some((span, start)) = found else { return };
        if let Some(id) = span.id() {
            tracing::dispatcher::get_default(|d| d.exit(&id));
        }
        if let (Some(threshold), Some(start)) = (self.slow_poll, start) {
            let took = start.elapsed();
            if took > threshold {
                tracing::warn!(target: "quartet::task", parent: &span, duration = ?took, threshold = ?threshold, "slow poll");
            }
        }
    }

    fn task_exited(&self, task: &TaskInfo, outcome: &TaskOutcome) {
        let Some(e) = self.with(|t| t.remove(&task.id())) else { return };
        let span = &e.span;
        match outcome {
            TaskOutcome::Completed => {}
            TaskOutcome::Cancelled(reason) => {
                tracing::info!(target: "quartet::task", parent: span, reason = %reason, "task cancelled");
            }
            TaskOutcome::Failed(error) => {
                tracing::error!(target: "quartet::task", parent: span, error = %error, "task failed");
            }
            TaskOutcome::Panicked => tracing::error!(target: "quartet::task", parent: span, "task panicked"),
        }
    }

    fn op_submitted(&self, _op: u64, _info: &OpInfo) {}
}
