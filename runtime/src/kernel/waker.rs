//! Wakers: the root task's, and the per-child ready queues that nurseries poll from.
//!
//! A waker is `Send + Sync` as `std::task::Waker` requires. Woken on its kernel's thread it acts
//! at once (marks the root, or queues a child and wakes the child's parent). Woken anywhere else
//! it goes through the remote queue and acts when the kernel re-wakes it on its own thread.
//!
//! Children are named by their slot index in the nursery. A stale wake (the slot now holds another
//! child) costs at most a spurious poll, which futures must tolerate anyway; so no generation is
//! needed and one waker per slot can be reused by every child that lives in it.
//!
//! A child's waker allocates nothing and its slot costs no memory: it points into the address
//! range of a [`SlotWake`] block header (queue, first slot) that covers [`BLOCK`] slots, at the
//! slot's offset, and holds a strong count of the queue's `Arc` (tokio's waker over the task
//! header, with the queue in the header's place). The header is aligned to `BLOCK` bytes, so
//! masking the waker's address finds it and the masked-off bits are the slot (a 16-byte target
//! per slot cost a nursery of 100,000 sleeping children 1.6 MB). A poll borrows a stack waker that costs
//! nothing unless cloned; a clone the child keeps (a sleep's timer, a parked wait) is the slot's
//! waker, an atomic increment. An earlier
//! design allocated each slot's waker (an `Arc` per slot, lazily on the first clone): ~290
//! instructions and 48 bytes for every child that ever slept or waited.

use super::context::{Remote, current_id, with_core};
use std::cell::UnsafeCell;
use std::collections::VecDeque;
// std's Arc, not the shim's: `std::task::Wake` is only implemented for std's Arc. The cross-thread
// part of waking is the remote queue, which is loom-checked on its own.
use std::mem::ManuallyDrop;
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
    /// Slot indices as `u32` (a nursery's slots are numbered so): 4 bytes per queued child,
    /// and a nursery that spawns 100,000 children queues them all before it polls one.
    queue: VecDeque<u32>,
    queued: Vec<bool>,
    parent: Option<Waker>,
    parent_woken: bool,
    /// Schedule exploration: pop a seeded-random ready slot instead of the oldest.
    explore: bool,
    /// Task ids per slot, for the instrument's `task_scheduled` (set only when instrumented).
    labels: Vec<u64>,
    /// What the slots' wakers point into: a header per block of [`BLOCK`] slots (see
    /// `SlotWake`), made on first use and freed only with the queue.
    targets: Targets,
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
                targets: Targets(Vec::new()),
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
                targets: Targets(Vec::new()),
            }),
            instrumented: false,
        })
    }

    #[inline]
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

    /// The waker for the child in slot `index`: the slot's `SlotWake` waker on the kernel's
    /// thread (no allocation), an allocated one elsewhere.
    #[inline]
    pub fn waker(self: &Arc<Self>, index: usize) -> Waker {
        match self.target(index) {
            Some(target) => {
                // SAFETY: `target` lives as long as the queue (see `SlotWake`); the strong count
                // taken here is owned by the new waker and released by `slot_drop`.
                unsafe {
                    Arc::increment_strong_count(Arc::as_ptr(self));
                    Waker::from_raw(RawWaker::new(target.cast(), &SLOT_VTABLE))
                }
            }
            None => Waker::from(Arc::new(ChildWake { queue: self.clone(), index })),
        }
    }

    /// Queues slot `index` unless it is queued already.
    #[inline]
    pub fn push(&self, index: usize) {
        let instrumented = self.instrumented;
        let more = self.with(|r| {
            if r.queued.len() <= index {
                r.queued.resize(index.saturating_add(1), false);
            }
            if std::mem::replace(&mut r.queued[index], true) {
                return false;
            }
            r.queue.push_back(u32::try_from(index).expect("fewer than 2^32 slots"));
            // The parent is woken once per poll of it, and only an instrument wants labels: the
            // usual push ends here.
            instrumented || !r.parent_woken
        });
        if more == Some(true) {
            self.pushed(index);
        }
    }

    /// The rest of a push that must tell someone: the instrument's `task_scheduled`, and the
    /// parent's wake (the first push since it polled this queue). Out of line, off the hot path.
    #[inline(never)]
    fn pushed(&self, index: usize) {
        let instrumented = self.instrumented;
        let pushed = self.with(|r| {
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
    #[inline]
    pub fn pop(&self) -> Option<usize> {
        self.with(|r| {
            let i = if r.explore {
                // Reads the testing state's PRNG (a `Cell`): no waker, no user code.
                let k = with_core(|c| c.testing.pick(r.queue.len())).unwrap_or(0);
                r.queue.remove(k)?
            } else {
                r.queue.pop_front()?
            };
            let i = i as usize;
            r.queued[i] = false;
            Some(i)
        })
        .flatten()
    }

    /// The slot `k` places from the front of the queue (0: the next [`pop`](Self::pop), unless
    /// schedule exploration picks another): a hint for prefetching what its poll will touch.
    #[inline]
    pub fn peek(&self, k: usize) -> Option<usize> {
        self.with(|r| r.queue.get(k).map(|&i| i as usize)).flatten()
    }

    /// How many slots are queued.
    #[inline]
    pub fn len(&self) -> usize {
        self.with(|r| r.queue.len()).unwrap_or(0)
    }

    /// True if nothing is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records the waker of the task that polls this queue; the next push wakes it.
    #[inline]
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
    /// Runs `f` with a waker for slot `index`. If `cached` holds one it is used; otherwise `f`
    /// borrows a waker that costs nothing unless it is cloned: a clone on the kernel's thread is
    /// the slot's `SlotWake` waker (no allocation, one count). `cached` is left as it was.
    pub fn with_waker<R>(self: &Arc<Self>, index: usize, cached: &mut Option<Waker>, f: impl FnOnce(&Waker) -> R) -> R {
        if let Some(w) = cached {
            return f(w);
        }
        let borrowed = Borrowed { queue: self, index };
        let raw = RawWaker::new((&borrowed as *const Borrowed<'_>).cast(), &BORROWED_VTABLE);
        // SAFETY: the vtable's functions uphold the RawWaker contract for `borrowed` (see
        // `BORROWED_VTABLE`). The waker is only lent to `f` by reference and is `ManuallyDrop`,
        // so it cannot outlive `borrowed`; any waker that escapes is a clone, an owned waker.
        let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw) });
        f(&waker)
    }

    /// The address of slot `index`'s `SlotWake`, made on first use; `None` off the kernel thread.
    #[inline]
    fn target(self: &Arc<Self>, index: usize) -> Option<*const ()> {
        let queue = Arc::as_ptr(self);
        self.with(|r| r.targets.target(queue, index))
    }
}

/// What waking `w` reads first, to prefetch: a child's waker its block's header (its own
/// address holds nothing), any other waker its data.
#[inline]
pub(crate) fn wake_record(w: &Waker) -> *const () {
    if std::ptr::eq(w.vtable(), &SLOT_VTABLE) { SlotWake::of(w.data()).0.cast() } else { w.data() }
}

/// Slots per block of waker targets, and the alignment (in bytes) of a block's header: a waker
/// for slot `i` points `i % BLOCK` bytes past its block's header, so its address masked with
/// `!(BLOCK - 1)` is the header and the bits masked off are the slot's offset. 256: a header's
/// aligned allocation stays on malloc's small-request path (a nursery makes one on its first
/// child waker), and 100,000 slots need 391 of them.
const BLOCK: usize = 256;

/// A block header: what the wakers of `BLOCK` consecutive slots point into (at offsets 0 to
/// `BLOCK - 1` past it, addresses no other header's wakers use: every header is `BLOCK`-aligned,
/// so their ranges are disjoint). Made on the kernel's thread when a slot of its block first
/// needs a waker, never changed, moved or freed while the queue lives (`Targets`). A waker holds
/// one strong count of the queue's `Arc` (tokio's task-header waker, with the queue as the
/// header): cloning one costs an atomic increment and no allocation, so a child that stores its
/// waker (every sleep, every op) allocates nothing, and a slot costs no memory at all.
struct SlotWake {
    queue: *const ReadyQueue,
    /// The block's first slot.
    base: usize,
}

impl SlotWake {
    /// The allocation of a header: 16 bytes, `BLOCK`-aligned.
    const LAYOUT: std::alloc::Layout = match std::alloc::Layout::new::<SlotWake>().align_to(BLOCK) {
        Ok(l) => l,
        Err(_) => panic!("BLOCK is a power of two"),
    };

    /// The header a slot waker's pointer `p` points into, and the slot.
    #[inline]
    fn of(p: *const ()) -> (*const SlotWake, usize) {
        let header = p.cast::<u8>().map_addr(|a| a & !(BLOCK - 1)).cast::<SlotWake>();
        (header, p.addr() & (BLOCK - 1))
    }
}

/// The block headers of a queue's slot wakers, by block.
struct Targets(Vec<std::ptr::NonNull<SlotWake>>);

impl Targets {
    /// The waker pointer of slot `index`, making its block's header on first use.
    #[inline]
    fn target(&mut self, queue: *const ReadyQueue, index: usize) -> *const () {
        let block = index / BLOCK;
        while self.0.len() <= block {
            // SAFETY: `LAYOUT` has a non-zero size.
            let header = unsafe { std::alloc::alloc(SlotWake::LAYOUT) }.cast::<SlotWake>();
            let Some(header) = std::ptr::NonNull::new(header) else { std::alloc::handle_alloc_error(SlotWake::LAYOUT) };
            // SAFETY: a fresh allocation of a `SlotWake`'s size and (more than its) alignment.
            unsafe { header.write(SlotWake { queue, base: self.0.len() * BLOCK }) };
            self.0.push(header);
        }
        // Out of the header's bounds for offsets past 16, hence `wrapping_add`: the pointer is
        // only ever masked back to the header (`SlotWake::of`) before it is dereferenced.
        self.0[block].as_ptr().cast::<u8>().cast_const().wrapping_add(index % BLOCK).cast()
    }
}

impl Drop for Targets {
    fn drop(&mut self) {
        for header in self.0.drain(..) {
            // SAFETY: allocated by `target` with this layout, freed once (drained). The queue is
            // being dropped: no waker holds a count of it, so none points here any more.
            unsafe { std::alloc::dealloc(header.as_ptr().cast(), SlotWake::LAYOUT) };
        }
    }
}

// The headers are plain data owned by the queue, freed once, in `Drop`, on whichever thread
// drops the last count of it; from any thread a header is only read, `queue` to adjust the
// strong count of the `Arc` it came from (atomic) and to call the queue's thread-checked methods.
// SAFETY: so moving the owner to another thread moves only that right to free (`ReadyQueue` is `Sync`).
unsafe impl Send for Targets {}

/// The waker a poll borrows (see [`ReadyQueue::with_waker`]): on the stack, made owned only
/// when cloned.
struct Borrowed<'a> {
    queue: &'a Arc<ReadyQueue>,
    index: usize,
}

static BORROWED_VTABLE: RawWakerVTable =
    RawWakerVTable::new(borrowed_clone, borrowed_wake_by_ref, borrowed_wake_by_ref, borrowed_drop);

// SAFETY (all three): `p` is the `Borrowed` that `with_waker` keeps alive on its stack for as
// long as the borrowed waker exists. They only read its immutable fields, from any thread.
unsafe fn borrowed_clone(p: *const ()) -> RawWaker {
    // SAFETY: see above.
    let b = unsafe { &*p.cast::<Borrowed<'_>>() };
    // The slot's waker (on the kernel thread) or an allocated one (elsewhere: `targets` may only
    // be touched there); its count or allocation is owned by the clone.
    let w = ManuallyDrop::new(b.queue.waker(b.index));
    RawWaker::new(w.data(), w.vtable())
}

// Also `wake` by value: unreachable in practice (the borrowed waker is never owned), and there
// is nothing to release.
unsafe fn borrowed_wake_by_ref(p: *const ()) {
    // SAFETY: see above.
    let b = unsafe { &*p.cast::<Borrowed<'_>>() };
    // Planted bug (scripts/mutants.sh): the on-thread path taken from any thread.
    if current_id() == b.queue.core_id || crate::mutant::planted("waker_remote_no_push") {
        b.queue.push(b.index);
    } else {
        b.queue.remote.push(b.queue.waker(b.index));
    }
}

unsafe fn borrowed_drop(_: *const ()) {}

static SLOT_VTABLE: RawWakerVTable = RawWakerVTable::new(slot_clone, slot_wake, slot_wake_by_ref, slot_drop);

// SAFETY (all four): `p` points into the range of a `SlotWake` header (`SlotWake::of` finds it)
// of a queue whose `Arc` has a strong count held by this waker, so the queue and its headers are
// alive. `queue` came from `Arc::as_ptr` of that `Arc` (the pointer `Arc::into_raw` would give),
// so the count functions may adjust it.
unsafe fn slot_clone(p: *const ()) -> RawWaker {
    // SAFETY: see above; the new waker owns the count taken here.
    unsafe { Arc::increment_strong_count((*SlotWake::of(p).0).queue) };
    RawWaker::new(p, &SLOT_VTABLE)
}

unsafe fn slot_wake(p: *const ()) {
    // SAFETY: see above; this waker's count is released after the wake.
    unsafe {
        slot_wake_by_ref(p);
        slot_drop(p);
    }
}

unsafe fn slot_wake_by_ref(p: *const ()) {
    let (header, offset) = SlotWake::of(p);
    // SAFETY: see above.
    let t = unsafe { &*header };
    // SAFETY: the queue is alive (see above).
    let queue = unsafe { &*t.queue };
    // Planted bug (scripts/mutants.sh): the on-thread path taken from any thread.
    if current_id() == queue.core_id || crate::mutant::planted("waker_remote_no_push") {
        queue.push(t.base + offset);
    } else {
        // SAFETY: a clone takes its own count (see above), which the remote queue then owns.
        let w = unsafe { Waker::from_raw(slot_clone(p)) };
        queue.remote.push(w);
    }
}

unsafe fn slot_drop(p: *const ()) {
    // SAFETY: see above. The count this waker held is released; the header is not touched
    // afterwards (the queue, and its headers, may be freed by this decrement).
    unsafe { Arc::decrement_strong_count((*SlotWake::of(p).0).queue) };
}

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
        if current_id() == self.queue.core_id || crate::mutant::planted("waker_remote_no_push") {
            self.queue.push(self.index);
        } else {
            self.queue.remote.push(Waker::from(self.clone()));
        }
    }
}

#[cfg(all(test, not(loom)))]
#[path = "waker_tests.rs"]
mod tests;
