//! The kernel side of `from_thread`: a queue of jobs submitted from other threads, and the
//! "system tasks" the kernel runs them as. Loom-checked in `runtime/tests/loom_from_thread.rs`.
//!
//! A job is a `Send` closure that builds a future *on the kernel thread* (so the future itself may
//! use the runtime's `!Send` types). The kernel takes new jobs and polls its system tasks once per
//! tick when they were woken; they all share one waker, which marks them woken (remote-safe: off
//! the kernel thread it goes through the remote-wake queue).
//!
//! Shutdown protocol (why a submitter never hangs): `submit` pushes under the queue lock only
//! while the queue is open; [`SystemQueue::close`] closes it and takes what was queued under the
//! same lock, and the kernel drops those jobs and every running system task. A job's result
//! sender lives inside the job, so dropping it wakes the blocked submitter with an error. So a
//! job is either run (its result is sent) or dropped (its sender is dropped) - never kept.

use crate::sync::{Arc, Mutex, lock};
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A future built on the kernel thread; it need not be `Send`.
pub type LocalTask = Pin<Box<dyn Future<Output = ()>>>;

/// A `from_thread` job: builds its system task on the kernel thread.
pub type SystemJob = Box<dyn FnOnce() -> LocalTask + Send + 'static>;

/// The queue was closed: the runtime has shut down. The job was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the quartet runtime has shut down")]
pub struct Closed;

/// Jobs submitted to a kernel from other threads.
pub struct SystemQueue {
    jobs: Mutex<Option<Vec<SystemJob>>>,
    kernel: Waker,
    core_id: u64,
}

impl fmt::Debug for SystemQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemQueue").field("core_id", &self.core_id).field("closed", &self.is_closed()).finish()
    }
}

impl SystemQueue {
    /// An open queue. `kernel` wakes the kernel that runs the jobs (from any thread); `core_id`
    /// names that kernel (0 if none), so that a blocking call on its own thread can be refused.
    pub fn new(kernel: Waker, core_id: u64) -> Arc<SystemQueue> {
        Arc::new(SystemQueue { jobs: Mutex::new(Some(Vec::new())), kernel, core_id })
    }

    /// Queues `job` and wakes the kernel.
    ///
    /// # Errors
    /// [`Closed`] once the kernel has shut down; the job is dropped.
    pub fn submit(&self, job: SystemJob) -> Result<(), Closed> {
        {
            let mut q = lock(&self.jobs);
            match q.as_mut() {
                Some(q) => q.push(job),
                None => return Err(Closed),
            }
        }
        self.kernel.wake_by_ref();
        Ok(())
    }

    /// Kernel side: moves the queued jobs into `out`.
    pub fn take(&self, out: &mut Vec<SystemJob>) {
        if let Some(q) = lock(&self.jobs).as_mut() {
            out.append(q);
        }
    }

    /// Kernel side, at shutdown: later submissions fail. Returns the jobs still queued, for the
    /// caller to drop.
    pub fn close(&self) -> Vec<SystemJob> {
        lock(&self.jobs).take().unwrap_or_default()
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        lock(&self.jobs).is_none()
    }

    /// The id of the kernel that runs the jobs (0 if none).
    pub fn core_id(&self) -> u64 {
        self.core_id
    }
}

/// The kernel's set of running system tasks. Lives on the kernel thread.
pub struct SystemRunner {
    queue: Arc<SystemQueue>,
    tasks: Vec<LocalTask>,
    new: Vec<SystemJob>,
}

impl fmt::Debug for SystemRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemRunner").field("tasks", &self.tasks.len()).finish()
    }
}

impl SystemRunner {
    /// A runner for `queue`'s jobs.
    pub fn new(queue: Arc<SystemQueue>) -> SystemRunner {
        SystemRunner { queue, tasks: Vec::new(), new: Vec::new() }
    }

    /// Starts newly submitted jobs and polls every system task once with `waker`. Returns how many
    /// are still running.
    pub fn run(&mut self, waker: &Waker) -> usize {
        self.queue.take(&mut self.new);
        for job in self.new.drain(..) {
            if let Ok(task) = catch_unwind(AssertUnwindSafe(job)) {
                self.tasks.push(task);
            }
        }
        let mut cx = Context::from_waker(waker);
        self.tasks.retain_mut(|t| {
            // A system task catches its own panics (see `task`); this is a backstop.
            !matches!(catch_unwind(AssertUnwindSafe(|| t.as_mut().poll(&mut cx))), Ok(Poll::Ready(())) | Err(_))
        });
        self.tasks.len()
    }

    /// Closes the queue and drops every queued job and running task (their submitters get an
    /// error). Returns how many were dropped.
    pub fn shutdown(&mut self) -> usize {
        let queued = self.queue.close();
        let n = queued.len() + self.tasks.len() + self.new.len();
        drop(queued);
        self.new.clear();
        self.tasks.clear();
        n
    }
}
