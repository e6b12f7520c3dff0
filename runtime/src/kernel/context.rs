//! The per-thread kernel context: what an operation reads when it is polled.
//!
//! `run` puts its `Core` in a thread-local for as long as it drives the root future. Everything in
//! the core is touched only on that thread; wakers from other threads go through the remote queue.
//! The core's id tells a waker whether it is on its own kernel's thread, and tells an op whether
//! the runtime that submitted it is still the current one.

use crate::driver::Driver;
use crate::sync::Arc;
use crate::time::timers::Timers;
use crate::wake::msg_ring::CoreUnpark;
use crate::wake::remote::RemoteQueue;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub(crate) type Remote = RemoteQueue<CoreUnpark>;

/// Leaf polls per tick before the kernel goes back to the ring (H8). tokio and compio use 61.
pub(crate) const BUDGET: u32 = 61;

pub(crate) struct Core {
    pub id: u64,
    pub driver: RefCell<Driver>,
    pub timers: RefCell<Timers>,
    pub remote: Arc<Remote>,
    pub root_woken: Cell<bool>,
    pub budget: Cell<u32>,
    pub tick: Cell<Instant>,
    /// `tick` encoded for the cancel tree's leaves (`Since`), once per tick on first use: every
    /// wait parked in a tick shares it (encoding costs ~100 instructions). Reset with `tick`.
    pub tick_since: Cell<Option<crate::cancel::Since>>,
    pub threads: crate::thread::local::Local,
    pub monitor: crate::monitor::state::Monitor,
    /// The testing toolkit's state: all off unless the `Builder` asked for it.
    pub testing: crate::testing::state::TestState,
    pub introspect: crate::introspect::state::State,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

// The shim's thread-local: under loom each model thread has its own, so a model in which a waker
// runs on another thread sees "not my kernel", as it would in a real program.
crate::sync::thread_local! {
    static CORE: Cell<*const Core> = const { Cell::new(std::ptr::null()) };
}

crate::sync::thread_local! {
    /// The id of the kernel running on this thread (0: none). Set with `CORE`; kept apart so that
    /// wakers can be model-checked without a `Core` (which needs a ring).
    static KERNEL_ID: Cell<u64> = const { Cell::new(0) };
}

/// Runs `f` with this thread's core, if `run` is active here.
#[inline(always)]
pub(crate) fn with_core<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    let p = CORE.with(Cell::get);
    if p.is_null() {
        return None;
    }
    // SAFETY: `CoreGuard` sets the pointer to a `Core` that outlives the guard and clears it when
    // the guard drops (also on unwind), so a non-null pointer always names a live core on this
    // thread. Only shared references are handed out; mutation goes through Cell/RefCell.
    Some(f(unsafe { &*p }))
}

/// The id of the core running on this thread, or 0.
#[inline]
pub(crate) fn current_id() -> u64 {
    KERNEL_ID.with(Cell::get)
}

/// Marks this loom model thread as the kernel `id` until the guard drops, without a `Core`: the
/// wakers' thread checks then behave as on a kernel thread (see `runtime/tests/loom_waker.rs`).
#[cfg(loom)]
pub fn enter_model_kernel(id: u64) -> ModelKernel {
    ModelKernel { prev: KERNEL_ID.with(|k| k.replace(id)) }
}

/// The guard of [`enter_model_kernel`].
#[cfg(loom)]
#[derive(Debug)]
pub struct ModelKernel {
    prev: u64,
}

#[cfg(loom)]
impl Drop for ModelKernel {
    fn drop(&mut self) {
        KERNEL_ID.with(|k| k.set(self.prev));
    }
}

/// Installs a core in the thread-local for its lifetime.
pub(crate) struct CoreGuard<'a> {
    _core: &'a Core,
    /// This thread's MSG_RING outbox (the driver's), while the core is installed.
    _outbox: Option<crate::wake::msg_ring::Installed>,
}

impl<'a> CoreGuard<'a> {
    /// Returns `None` if a core is already installed (nested `run`).
    pub fn enter(core: &'a Core) -> Option<CoreGuard<'a>> {
        CORE.with(|c| {
            if !c.get().is_null() {
                return None;
            }
            c.set(core);
            KERNEL_ID.with(|k| k.set(core.id));
            let outbox = core.driver.borrow().outbox().map(crate::wake::msg_ring::install);
            Some(CoreGuard { _core: core, _outbox: outbox })
        })
    }
}

impl Drop for CoreGuard<'_> {
    fn drop(&mut self) {
        CORE.with(|c| c.set(std::ptr::null()));
        KERNEL_ID.with(|k| k.set(0));
    }
}

/// Ids of runtimes whose shutdown drain timed out: their ops' memory may still be used by the
/// kernel, so an op of theirs that is polled or dropped later must leak its data (H4). Rare, so a
/// plain list. (Not loom-modelled: it is only touched by runtime threads, under a std mutex.)
static UNCLEAN: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

pub(crate) fn mark_unclean(id: u64) {
    UNCLEAN.lock().unwrap_or_else(|e| e.into_inner()).push(id);
}

pub(crate) fn was_unclean(id: u64) -> bool {
    UNCLEAN.lock().unwrap_or_else(|e| e.into_inner()).contains(&id)
}
