//! Wakers: the root task's, and the per-child ready queues that nurseries poll from.
//!
//! A waker is `Send + Sync` as `std::task::Waker` requires. Woken on its kernel's thread it acts
//! at once (marks the root, or queues a child and wakes the child's parent). Woken anywhere else
//! it goes through the remote queue and acts when the kernel re-wakes it on its own thread.
//!
//! Children are named by their slot index in the nursery. A stale wake (the slot now holds another
//! child) costs at most a spurious poll, which futures must tolerate anyway; so no generation is
//! needed and one waker per slot can be reused by every child that lives in it.

use super::context::{Remote, current_id, with_core};
use std::cell::UnsafeCell;
use std::collections::VecDeque;
// std's Arc, not the shim's: `std::task::Wake` is only implemented for std's Arc. The cross-thread
// part of waking is the remote queue, which is loom-checked on its own.
use std::sync::Arc;
use std::task::{RawWaker, RawWakerVTable, Wake, Waker};

pub(crate) struct RootWake {
    pub core_id: u64,
    pub remote: crate::sync::Arc<Remote>,
}

impl Wake for RootWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if current_id() == self.core_id {
            with_core(|c| c.root_woken.set(true));
        } else {
            self.remote.push(Waker::from(self.clone()));
        }
    }
}

/// A FIFO queue of ready children, owned by one nursery and touched only on its kernel's thread.
///
/// `push` deduplicates (a child is queued at most once) and wakes the nursery's own waker the first
/// time something is queued after [`ReadyQueue::set_parent`].
pub struct ReadyQueue {
    core_id: u64,
    remote: crate::sync::Arc<Remote>,
    inner: UnsafeCell<Ready>,
    /// An instrument wants `task_scheduled` events (read once, at creation).
    instrumented: bool,
}

struct Ready {
    queue: VecDeque<usize>,
    queued: Vec<bool>,
    parent: Option<Waker>,
    parent_woken: bool,
    /// Schedule exploration: pop a seeded-random ready slot instead of the oldest.
    explore: bool,
    /// Task ids per slot, for the instrument's `task_scheduled` (set only when instrumented).
    labels: Vec<u64>,
}

// `inner` is only accessed by methods that first check that they run on the thread of the kernel
// identified by `core_id` (one kernel per thread at a time, ids never reused).
// SAFETY: so `inner` is never accessed from two threads; its contents are `Send`, so dropping the
// last `Arc` on another thread is fine.
unsafe impl Sync for ReadyQueue {}

impl std::fmt::Debug for ReadyQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyQueue").field("core_id", &self.core_id).finish_non_exhaustive()
    }
}

impl ReadyQueue {
    /// A queue bound to the kernel running on this thread; `None` outside `run`.
    pub fn new() -> Option<Arc<ReadyQueue>> {
        let (core_id, remote, explore, instrumented) =
            with_core(|c| (c.id, c.remote.clone(), c.testing.explore.is_some(), c.introspect.instrument.is_some()))?;
        Some(Arc::new(ReadyQueue {
            core_id,
            remote,
            inner: UnsafeCell::new(Ready {
                queue: VecDeque::new(),
                queued: Vec::new(),
                parent: None,
                parent_woken: false,
                explore,
                labels: Vec::new(),
            }),
            instrumented,
        }))
    }

    /// A queue for kernel `core_id` that wakes remotely through `remote`, for loom models (which
    /// have no `Core`; see [`enter_model_kernel`](crate::model::enter_model_kernel)).
    #[cfg(loom)]
    pub fn for_model(core_id: u64, remote: crate::sync::Arc<Remote>) -> Arc<ReadyQueue> {
        Arc::new(ReadyQueue {
            core_id,
            remote,
            inner: UnsafeCell::new(Ready {
                queue: VecDeque::new(),
                queued: Vec::new(),
                parent: None,
                parent_woken: false,
                explore: false,
                labels: Vec::new(),
            }),
            instrumented: false,
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut Ready) -> R) -> Option<R> {
        if current_id() != self.core_id {
            return None;
        }
        // We are on the owning kernel's thread (checked above), so no other thread can touch
        // `inner`. `f` is one of the closures in this impl, none of which calls, clones or drops
        // a waker or runs user code (wakers are cloned before and dropped after `with`).
        // SAFETY: so this is the only `&mut Ready`, and nothing can re-enter while `f` runs.
        Some(f(unsafe { &mut *self.inner.get() }))
    }

    /// The waker for the child in slot `index`.
    pub fn waker(self: &Arc<Self>, index: usize) -> Waker {
        Waker::from(Arc::new(ChildWake { queue: self.clone(), index }))
    }

    /// Queues slot `index` unless it is queued already.
    pub fn push(&self, index: usize) {
        let instrumented = self.instrumented;
        let pushed = self.with(|r| {
            if r.queued.len() <= index {
                r.queued.resize(index.saturating_add(1), false);
            }
            if std::mem::replace(&mut r.queued[index], true) {
                return (0, None);
            }
            r.queue.push_back(index);
            let label = if instrumented { r.labels.get(index).copied().unwrap_or(0) } else { 0 };
            (label, if std::mem::replace(&mut r.parent_woken, true) { None } else { r.parent.take() })
        });
        let Some((label, parent)) = pushed else { return };
        if label != 0 {
            crate::introspect::state::scheduled(label);
        }
        let Some(parent) = parent else { return };
        // The waker runs with no borrow of `inner` alive (it may re-enter this queue).
        parent.wake_by_ref();
        let unused = self.with(move |r| if r.parent.is_none() { r.parent.replace(parent) } else { Some(parent) });
        // Dropped here, outside `with`: a waker's `Drop` may run user code.
        drop(unused);
    }

    /// Names the task in slot `index` for the instrument's `task_scheduled` events.
    pub(crate) fn label(&self, index: usize, task: u64) {
        self.with(|r| {
            if r.labels.len() <= index {
                r.labels.resize(index.saturating_add(1), 0);
            }
            r.labels[index] = task;
        });
    }

    /// Whether slot `index` is queued (for the task-tree dump).
    pub(crate) fn is_queued(&self, index: usize) -> bool {
        self.with(|r| r.queued.get(index).copied().unwrap_or(false)).unwrap_or(false)
    }

    /// The next ready slot: the oldest, or under schedule exploration (`Builder::seed`) one drawn
    /// from the seeded PRNG.
    pub fn pop(&self) -> Option<usize> {
        self.with(|r| {
            let i = if r.explore {
                // Reads the testing state's PRNG (a `Cell`): no waker, no user code.
                let k = with_core(|c| c.testing.pick(r.queue.len())).unwrap_or(0);
                r.queue.remove(k)?
            } else {
                r.queue.pop_front()?
            };
            r.queued[i] = false;
            Some(i)
        })
        .flatten()
    }

    /// How many slots are queued.
    pub fn len(&self) -> usize {
        self.with(|r| r.queue.len()).unwrap_or(0)
    }

    /// True if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records the waker of the task that polls this queue; the next push wakes it.
    pub fn set_parent(&self, waker: &Waker) {
        let same = self.with(|r| {
            r.parent_woken = false;
            matches!(&r.parent, Some(p) if p.will_wake(waker))
        });
        if same == Some(false) {
            // Clone and drop outside `with`: cloning or dropping a waker may run user code.
            let new = waker.clone();
            let old = self.with(move |r| r.parent.replace(new));
            drop(old);
        }
    }
}

impl ReadyQueue {
    /// Runs `f` with a waker for slot `index`. If `cached` holds one it is used; otherwise `f` gets
    /// a borrowed waker that allocates the slot's real waker only if it is cloned (a child that
    /// finishes without storing its waker never allocates one), and the real waker, if made, is
    /// left in `cached` for later polls.
    pub fn with_waker<R>(self: &Arc<Self>, index: usize, cached: &mut Option<Waker>, f: impl FnOnce(&Waker) -> R) -> R {
        if let Some(w) = cached {
            return f(w);
        }
        let lazy = LazyWake { queue: self, index, made: std::cell::Cell::new(None) };
        let raw = RawWaker::new((&lazy as *const LazyWake<'_>).cast(), &LAZY_VTABLE);
        // SAFETY: the vtable's functions uphold the RawWaker contract for `lazy` (see
        // `LAZY_VTABLE`). The waker is only lent to `f` by reference, so it cannot outlive `lazy`:
        // any waker that escapes is a clone, which is a real, independently owned waker.
        let waker = unsafe { Waker::from_raw(raw) };
        let r = f(&waker);
        drop(waker);
        *cached = lazy.made.take();
        r
    }
}

/// A waker borrowed for one poll (see [`ReadyQueue::with_waker`]).
struct LazyWake<'a> {
    queue: &'a Arc<ReadyQueue>,
    index: usize,
    /// The real waker, once a clone was asked for on the kernel thread. Only touched on that thread.
    made: std::cell::Cell<Option<Waker>>,
}

impl LazyWake<'_> {
    fn real(&self) -> Waker {
        if current_id() != self.queue.core_id {
            // A clone from another thread (e.g. a scoped thread borrowing the waker): hand out an
            // independent waker and leave `made` alone (it is not thread-safe).
            return self.queue.waker(self.index);
        }
        let w = self.made.take().unwrap_or_else(|| self.queue.waker(self.index));
        self.made.set(Some(w.clone()));
        w
    }
}

static LAZY_VTABLE: RawWakerVTable = RawWakerVTable::new(lazy_clone, lazy_wake, lazy_wake_by_ref, lazy_drop);

// SAFETY (all four): `p` is the `LazyWake` that `with_waker` keeps alive on its stack for as long
// as the borrowed waker exists. They only read its immutable fields from any thread, and touch
// `made` only on the kernel thread (checked in `real`).
unsafe fn lazy_clone(p: *const ()) -> RawWaker {
    // SAFETY: see above.
    let lazy = unsafe { &*p.cast::<LazyWake<'_>>() };
    let w = std::mem::ManuallyDrop::new(lazy.real());
    RawWaker::new(w.data(), w.vtable())
}

unsafe fn lazy_wake(p: *const ()) {
    // SAFETY: see above. (Unreachable in practice: the borrowed waker is never owned by value.)
    unsafe { lazy_wake_by_ref(p) }
}

unsafe fn lazy_wake_by_ref(p: *const ()) {
    // SAFETY: see above.
    let lazy = unsafe { &*p.cast::<LazyWake<'_>>() };
    if current_id() == lazy.queue.core_id {
        lazy.queue.push(lazy.index);
    } else {
        lazy.queue.remote.push(lazy.queue.waker(lazy.index));
    }
}

unsafe fn lazy_drop(_: *const ()) {}

struct ChildWake {
    queue: Arc<ReadyQueue>,
    index: usize,
}

impl Wake for ChildWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Planted bug (scripts/mutants.sh): the on-thread path taken from any thread.
        if current_id() == self.queue.core_id || cfg!(quartet_mutant = "waker_remote_no_push") {
            self.queue.push(self.index);
        } else {
            self.queue.remote.push(Waker::from(self.clone()));
        }
    }
}
