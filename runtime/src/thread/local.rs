//! The per-runtime thread state kept in the kernel's `Core`: the worker pool (started on first
//! use), the default limiter, and the `from_thread` system tasks. Touched only on the kernel
//! thread, except through the `Send` pieces it hands out (pool, limiter, system queue). A data
//! structure: it never reaches into the kernel (the system tasks' waker, which does, is made by
//! the front-end, `thread::system_waker`).

use super::limiter::CapacityLimiter;
use super::pool::{IDLE_TIMEOUT, Pool};
use super::system::{SystemQueue, SystemRunner};
use crate::sync::Arc;
use std::cell::{Cell, OnceCell, RefCell};
use std::task::Waker;

/// The default limiter's size (Trio's default thread limit).
///
/// # Examples
/// ```
/// use quartet_runtime::thread::{DEFAULT_THREAD_LIMIT, default_limiter};
/// let total = quartet_runtime::run(async { default_limiter().unwrap().total() }).unwrap();
/// assert_eq!(total, DEFAULT_THREAD_LIMIT);
/// ```
pub const DEFAULT_THREAD_LIMIT: usize = 40;

pub(crate) struct Local {
    pool: OnceCell<Pool>,
    limiter: OnceCell<CapacityLimiter>,
    limit: usize,
    queue: Arc<SystemQueue>,
    runner: RefCell<SystemRunner>,
    pub(super) woken: Cell<bool>,
    waker: Waker,
}

impl Local {
    /// The thread state of kernel `core_id`; `waker` wakes its system tasks (see
    /// `thread::system_waker`).
    pub fn new(core_id: u64, waker: Waker, limit: usize) -> Local {
        let queue = SystemQueue::new(waker.clone(), core_id);
        Local {
            pool: OnceCell::new(),
            limiter: OnceCell::new(),
            limit,
            runner: RefCell::new(SystemRunner::new(queue.clone())),
            queue,
            woken: Cell::new(false),
            waker,
        }
    }

    pub fn pool(&self) -> Pool {
        self.pool.get_or_init(|| Pool::new(IDLE_TIMEOUT)).clone()
    }

    pub fn pool_stats(&self) -> super::pool::PoolStats {
        match self.pool.get() {
            Some(p) => p.stats(),
            None => super::pool::PoolStats { threads: 0, idle: 0, queued: 0, started: 0 },
        }
    }

    pub fn limiter(&self) -> CapacityLimiter {
        self.limiter.get_or_init(|| CapacityLimiter::new(self.limit)).clone()
    }

    pub fn system_queue(&self) -> Arc<SystemQueue> {
        self.queue.clone()
    }

    /// True if system tasks were woken and wait to be polled.
    pub fn system_woken(&self) -> bool {
        self.woken.get()
    }

    /// Kernel loop: polls the system tasks if they were woken.
    pub fn run_system(&self) {
        if self.woken.replace(false) {
            self.runner.borrow_mut().run(&self.waker);
        }
    }

    /// Kernel shutdown: `from_thread` callers get `Shutdown`, idle workers exit. Running jobs are
    /// not waited for.
    pub fn shutdown(&self) {
        // Swapped out first, so that the tasks are dropped without the runner borrowed.
        let mut runner = self.runner.replace(SystemRunner::new(self.queue.clone()));
        runner.shutdown();
        drop(runner);
        if let Some(p) = self.pool.get() {
            p.close();
        }
    }
}
