//! The worker pool behind `to_thread`: threads are started lazily, reused while idle, and exit
//! after [`IDLE_TIMEOUT`] without work. Loom-checked in `runtime/tests/loom_to_thread.rs`.
//!
//! The pool does not limit how many threads run: the [`CapacityLimiter`](super::CapacityLimiter)
//! that every `to_thread` call holds a token of does. The thread count can still exceed the
//! limiter's total for a moment: a job releases its token as soon as its closure returns, and the
//! next job may be submitted before that worker is back in the pool, so it gets a new thread; the
//! spare thread then idles and is reused or exits. Invariants (under the pool lock):
//! 1. `idle` counts workers that are waiting for work or have been woken and not yet relocked.
//!    Each of them checks the queue before it waits again or exits.
//! 2. A job is queued only if `idle > queued` (some idle worker is not yet spoken for);
//!    otherwise it goes straight to a new thread. So every queued job has a worker on its way.
//! 3. After [`Pool::close`], new jobs are refused and workers exit once the queue is empty. Nobody
//!    joins them: a job still running (an abandoned `to_thread`) finishes on its own thread.

use crate::sync::{Arc, Condvar, Mutex, lock, thread, wait_timeout};
use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

/// How long an idle worker waits for a new job before it exits (Trio's thread cache uses 10 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A job for a worker.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Why [`Pool::execute`] refused a job. The job has been dropped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The pool was closed (its runtime has shut down).
    #[error("the worker pool is closed: its runtime has shut down")]
    Closed,
    /// The OS refused to start a thread.
    #[error("could not start a worker thread: {0}")]
    Spawn(#[source] std::io::Error),
}

impl From<PoolError> for std::io::Error {
    fn from(e: PoolError) -> std::io::Error {
        match e {
            PoolError::Spawn(e) => e,
            e @ PoolError::Closed => std::io::Error::other(e),
        }
    }
}

/// Counters of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Worker threads alive.
    pub threads: usize,
    /// Of those, waiting for work.
    pub idle: usize,
    /// Jobs queued and not yet picked up.
    pub queued: usize,
    /// Threads started over the pool's life.
    pub started: u64,
}

struct State {
    jobs: VecDeque<Job>,
    idle: usize,
    threads: usize,
    started: u64,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    idle_timeout: Duration,
}

/// A lazily grown pool of worker threads. Cloning gives another handle to the same pool.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("stats", &self.stats()).finish()
    }
}

impl Pool {
    /// An empty pool whose idle workers exit after `idle_timeout`.
    pub fn new(idle_timeout: Duration) -> Pool {
        let state = State { jobs: VecDeque::new(), idle: 0, threads: 0, started: 0, closed: false };
        Pool { shared: Arc::new(Shared { state: Mutex::new(state), work: Condvar::new(), idle_timeout }) }
    }

    /// Runs `job` on an idle worker, or on a new thread if none is free.
    ///
    /// # Errors
    /// [`PoolError::Closed`] after [`close`](Self::close); [`PoolError::Spawn`] if a needed thread
    /// could not be started. Either way the job was dropped without running.
    pub fn execute(&self, job: Job) -> Result<(), PoolError> {
        let mut st = lock(&self.shared.state);
        if st.closed {
            return Err(PoolError::Closed);
        }
        if st.idle > st.jobs.len() {
            st.jobs.push_back(job);
            drop(st);
            self.shared.work.notify_one();
            return Ok(());
        }
        st.threads += 1;
        st.started += 1;
        drop(st);
        let shared = self.shared.clone();
        let spawned = thread::Builder::new().name("quartet-worker".into()).spawn(move || worker(shared, job));
        match spawned {
            Ok(_detached) => Ok(()),
            Err(e) => {
                lock(&self.shared.state).threads -= 1;
                Err(PoolError::Spawn(e))
            }
        }
    }

    /// Refuses new jobs and lets idle workers exit. Queued jobs still run; running ones finish.
    /// Does not wait for any thread.
    pub fn close(&self) {
        lock(&self.shared.state).closed = true;
        self.shared.work.notify_all();
    }

    /// Threads, idle threads and queued jobs, read at one instant.
    pub fn stats(&self) -> PoolStats {
        let st = lock(&self.shared.state);
        PoolStats { threads: st.threads, idle: st.idle, queued: st.jobs.len(), started: st.started }
    }
}

fn worker(shared: Arc<Shared>, first: Job) {
    run(first);
    let mut st = lock(&shared.state);
    loop {
        if let Some(job) = st.jobs.pop_front() {
            drop(st);
            run(job);
            st = lock(&shared.state);
            continue;
        }
        if st.closed {
            break;
        }
        st.idle += 1;
        let (guard, timed_out) = wait_timeout(&shared.work, st, shared.idle_timeout);
        st = guard;
        st.idle -= 1;
        if timed_out && st.jobs.is_empty() {
            break;
        }
    }
    st.threads -= 1;
}

fn run(job: Job) {
    // Jobs catch their own panics (to_thread sends them to the caller); this only keeps a worker
    // alive if a raw job panics anyway.
    let _ = catch_unwind(AssertUnwindSafe(job));
}
