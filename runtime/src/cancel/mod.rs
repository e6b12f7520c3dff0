//! Cancellation delivery: a cancel-status tree per thread and one park/abort protocol (Trio's
//! `CancelStatus` and `wait_task_rescheduled`, translated to Rust futures and io_uring).
//!
//! # The pieces
//! - [`ScopeState`] (`state.rs`): the thread-safe half of a cancel scope. `cancel()` may be called
//!   from any thread; it sets a flag and asks each thread where the scope runs to update.
//! - [`Activation`] (`activation.rs`): one place where a scope's future runs, a node of the running
//!   thread's tree (`tree.rs`). While the scope's future is polled, its node is the thread's
//!   *current status*; code polled inside (including a nursery's children, which the nursery polls
//!   from its own poll) attaches its scopes and parks its waits under it.
//! - [`Park`] (`park.rs`): the one blocking primitive. A blocking operation (ring op, sleep,
//!   channel, lock, semaphore, event, condition, limiter, thread job, `start`) that returns
//!   `Pending` first parks on the current status: it reads the effective cancel state once and,
//!   if not cancelled, registers how to abort the wait.
//! - The walk (`Tree::recalc`): cancelling a scope (explicitly, by its deadline, by a shield
//!   going down) marks its nodes and their subtrees, stopping at shields, and aborts every leaf
//!   parked there: a ring op gets `ASYNC_CANCEL` (its own completion then decides: `-ECANCELED` is
//!   `Cancelled`, a real result is returned), an in-memory wait is woken through the waker it
//!   stored, so the wake reaches it through any combinator (`FuturesUnordered`, `select`).
//!
//! # Invariants (see also T1-T5 in `tree.rs`, S1-S2 in `state.rs`)
//! - **C1** A walk runs only on the thread that owns the tree. A cancel from another thread sets
//!   the flag and queues the walk to the owner through its [`CancelSink`] (the kernel's
//!   remote-wake queue); `cancel_called()` reads true at once.
//! - **C2** Level-triggered: a status stays cancelled until its activation is dropped, and a leaf
//!   that parks on a cancelled status is refused at once (it never registers).
//! - **C3** Aborts run after the tree's borrow is released: waking a waker or cancelling an op
//!   may run foreign code, which may use the tree again.
//! - **C4** Outside `quartet::run` the tree still exists (scopes nest, local cancels are
//!   delivered), but no thread can be reached from outside and no deadline timer fires.

mod activation;
mod park;
mod state;
mod tree;

pub use activation::{Activation, Entered, StatusRef};
pub(crate) use park::LeanPark;
pub use park::{OpPark, OpParkStatus, Park};
pub use state::{CancelSink, ScopeState, WatchId};
pub(crate) use state::{from_nanos, to_nanos};

use crate::error::{Cancelled, Reason};
use crate::kernel::context::with_core;
// std's Arc, not the shim's: a scope is shared by pointer; its modelled state is the atomics and
// mutexes inside (loom's Arc cannot be a method receiver or unsize to a trait object).
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};
use tree::{Abort, LeafLines, NodeId, ROOT, Tree};

// The shim's thread-local: per model thread under loom, so the models see one tree per thread.
crate::sync::thread_local! {
    static TREE: RefCell<Tree> = const { RefCell::new(Tree::new()) };
}
crate::sync::thread_local! {
    static CURRENT: Cell<NodeId> = const { Cell::new(ROOT) };
}
crate::sync::thread_local! {
    static THREAD: u64 = {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    };
}

/// This thread's owner id, for a [`CancelSink`] made by a custom executor (or a loom model).
pub fn thread_owner_id() -> u64 {
    here()
}

/// Brings this thread's activations of `state` up to date: what the owner of a [`CancelSink`]
/// does on its own thread when `request_walk` hands it `state` (C1). Idempotent.
pub fn deliver(state: &Arc<ScopeState>) {
    update_local(state);
}

/// This thread's id in cancel bookkeeping (never 0).
#[inline]
fn here() -> u64 {
    THREAD.with(|t| *t)
}

/// Where this thread's leaf slab is, for the kernel to prefetch the leaves of the sleeps a
/// wheel tick fires ([`LeafLines::NONE`] if the tree is borrowed: it never is in `kernel::turn`).
pub(crate) fn leaf_lines() -> LeafLines {
    TREE.with(|t| t.try_borrow().map_or(LeafLines::NONE, |t| t.leaf_lines()))
}

fn with_tree<R>(f: impl FnOnce(&mut Tree) -> R) -> R {
    TREE.with(|t| f(&mut t.borrow_mut()))
}

#[inline]
fn current_node() -> NodeId {
    CURRENT.with(Cell::get)
}

/// Carries out aborts collected by a walk, with no borrow of the tree alive (C3).
fn run_aborts(aborts: Vec<Abort>) {
    let mut wakers = Vec::new();
    for a in aborts {
        match a {
            Abort::Wake(w) => wakers.push(w),
            Abort::Op(key) => {
                with_core(|c| c.driver.borrow_mut().cancel(key, &mut wakers));
            }
        }
    }
    for w in wakers {
        w.wake();
    }
}

/// Brings this thread's activations of `state` up to date: arms or moves their deadline timers,
/// notices an expired deadline, and walks their subtrees.
fn update_local(state: &Arc<ScopeState>) {
    let nodes: Vec<NodeId> = state.nodes_of(here()).into_iter().map(NodeId::from_u64).collect();
    if nodes.is_empty() {
        return;
    }
    let mut aborts = Vec::new();
    let mut released = Vec::new();
    for node in nodes {
        released.extend(activation::sync_timer(state, node));
        with_tree(|t| t.recalc(node, &mut aborts));
    }
    drop(released);
    run_aborts(aborts);
}

impl ScopeState {
    /// Cancels the scope: every checkpoint inside keeps failing with `Cancelled` until the code
    /// leaves it, and every operation parked inside is aborted now. Any thread; the first reason
    /// is kept.
    pub fn cancel(self: &Arc<Self>, reason: Reason) {
        if self.set_cancelled(reason, here()) {
            update_local(self);
        }
    }

    /// Requests graceful cancellation: code inside sees [`shutdown_requested`] and
    /// [`ShutdownRequested`] completes; once `grace` has passed the scope is cancelled (reason
    /// [`Reason::GracePeriodEnded`]). A later `cancel` makes it hard at once.
    pub fn cancel_gracefully(self: &Arc<Self>, grace: Duration) {
        if self.set_graceful(grace, here()) {
            update_local(self);
        }
    }

    /// Shields (or unshields) code inside from cancellation of outer scopes. Un-shielding inside a
    /// cancelled scope delivers the cancellation at once.
    pub fn set_shield(self: &Arc<Self>, on: bool) {
        if self.store_shield(on, here()) {
            update_local(self);
        }
    }

    /// Sets or clears the deadline. An expired deadline is a cancellation and is permanent: moving
    /// the deadline later afterwards does not un-cancel the scope.
    pub fn set_deadline(self: &Arc<Self>, deadline: Option<Instant>) {
        if self.store_deadline(deadline, here()) {
            update_local(self);
        }
    }
}

/// The sink of a thread that runs a quartet kernel: walk requests go through its remote-wake
/// queue and run on the kernel thread.
pub(crate) struct KernelSink {
    owner: u64,
    remote: crate::sync::Arc<crate::kernel::context::Remote>,
}

impl CancelSink for KernelSink {
    fn owner(&self) -> u64 {
        self.owner
    }

    fn request_walk(&self, state: Arc<ScopeState>) {
        let _ = self.remote.push(Waker::from(std::sync::Arc::new(WalkRequest { owner: self.owner, state })));
    }
}

/// A walk queued to the owning thread (C1); runs when the kernel re-wakes it there.
struct WalkRequest {
    owner: u64,
    state: Arc<ScopeState>,
}

impl Wake for WalkRequest {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        if here() == self.owner {
            update_local(&self.state);
        }
    }
}

/// The sink for activations made on this thread: the kernel's, inside `run`; none elsewhere.
pub(crate) fn local_sink() -> Option<Arc<dyn CancelSink>> {
    with_core(|c| Arc::new(KernelSink { owner: here(), remote: c.remote.clone() }) as Arc<dyn CancelSink>)
}

/// Makes a fresh root scope the root of this thread's tree while `run` drives its future.
pub(crate) struct RootGuard {
    saved_current: NodeId,
    saved_root: Option<Arc<ScopeState>>,
    watch: (Arc<ScopeState>, WatchId),
}

impl RootGuard {
    pub(crate) fn install() -> RootGuard {
        let state = ScopeState::new();
        let watch = state.watch(here(), local_sink(), ROOT.to_u64());
        let mut aborts = Vec::new();
        let saved_root = with_tree(|t| t.set_root_state(Some(state.clone()), &mut aborts));
        run_aborts(aborts);
        RootGuard { saved_current: CURRENT.with(|c| c.replace(ROOT)), saved_root, watch: (state, watch) }
    }
}

impl Drop for RootGuard {
    fn drop(&mut self) {
        self.watch.0.unwatch(self.watch.1);
        let mut aborts = Vec::new();
        let old = with_tree(|t| t.set_root_state(self.saved_root.take(), &mut aborts));
        drop(old);
        run_aborts(aborts);
        CURRENT.with(|c| c.set(self.saved_current));
    }
}

/// The root scope of the runtime running on this thread: cancelling it (or cancelling it
/// gracefully) reaches every task. `None` outside `quartet::run`.
pub fn root() -> Option<Arc<ScopeState>> {
    with_core(|_| ())?;
    with_tree(|t| t.state(ROOT).cloned())
}

/// The cancellation that applies to code polled right now, if any.
#[inline]
pub fn current() -> Option<Cancelled> {
    // T5: with nothing cancelled on this thread (the usual case) a checkpoint reads one counter.
    if !TREE.with(|t| t.borrow().any_cancelled()) {
        return None;
    }
    current_reason()
}

/// [`current`] once something on this thread is cancelled: finds the node (out of line).
#[inline(never)]
fn current_reason() -> Option<Cancelled> {
    let node = current_node();
    TREE.with(|t| t.borrow().effective(node).cloned()).map(Cancelled::new)
}

/// Whether graceful (or hard) cancellation was requested for the code polled right now.
pub fn shutdown_requested() -> bool {
    let node = current_node();
    TREE.with(|t| t.borrow().graceful(node))
}

/// Whether a cancellation from outside the innermost scope reaches it (its parent's view).
pub fn outer_cancelled() -> bool {
    let node = current_node();
    TREE.with(|t| t.borrow().parent_visible(node))
}

/// The earliest deadline that applies to code polled right now (Trio's
/// `current_effective_deadline`), or `None` if nothing bounds it. A cancelled scope counts as a
/// deadline in the past.
pub fn effective_deadline() -> Option<Instant> {
    let node = current_node();
    let now = crate::now();
    TREE.with(|t| {
        let t = t.borrow();
        if t.effective(node).is_some() {
            return Some(now);
        }
        t.ancestry(node).filter_map(|s| if s.cancel_flag() { Some(now) } else { s.wake_at() }).min()
    })
}

/// Whether `state`'s block is active around the code polled right now, in the same task: a
/// `run` of the scope would be nested inside its own block (what Trio refuses with "Each
/// CancelScope may only be used for a single 'with' block").
pub fn active_in_current_task(state: &Arc<ScopeState>) -> bool {
    // A scope never entered (every `move_on_after`/`fail_after`/`shield`) cannot be: no walk.
    if !state.has_been_entered() {
        return false;
    }
    let node = current_node();
    let task = crate::task::current_task_id();
    TREE.with(|t| t.borrow().active_in_task(node, state, task))
}

/// Leaves parked on the current status (diagnostics and tests).
pub fn parked_here() -> usize {
    let node = current_node();
    TREE.with(|t| t.borrow().parked_on(node))
}

/// Waits until graceful cancellation reaches the calling code ([`ScopeState::cancel_gracefully`]
/// on an enclosing scope or the root). Returns `Ok(())` then, so the task can finish its work in
/// the grace period; returns `Err(Cancelled)` if the code is (or becomes) hard-cancelled first.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::cancel::{self, ScopeState};
/// use std::time::Duration;
/// quartet_runtime::run(async {
///     let root = cancel::root().expect("inside run");
///     root.cancel_gracefully(Duration::from_secs(5));
///     cancel::shutdown_requested_wait().await.expect("graceful, not hard");
///     assert!(cancel::shutdown_requested());
/// }).unwrap();
/// ```
pub fn shutdown_requested_wait() -> ShutdownRequested {
    ShutdownRequested { park: Park::waiting_for(crate::introspect::WaitKind::ShutdownRequest) }
}

/// The future of [`shutdown_requested_wait`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ShutdownRequested {
    park: Park,
}

impl std::future::Future for ShutdownRequested {
    type Output = Result<(), Cancelled>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        match self.park.park_graceful(cx) {
            Ok(false) => std::task::Poll::Pending,
            Ok(true) => {
                self.park.unpark();
                std::task::Poll::Ready(Ok(()))
            }
            Err(c) => {
                self.park.unpark();
                std::task::Poll::Ready(Err(c))
            }
        }
    }
}

pub(crate) use tree::{LeafSnap, NodeSnap, Since};

/// A copy of this thread's tree for the task-tree dump (`crate::introspect`).
pub(crate) fn snapshot() -> (Vec<NodeSnap>, Vec<LeafSnap>) {
    with_tree(|t| t.snapshot())
}
