//! Activations: the nodes of the cancel-status tree that scopes (and nurseries) create while they
//! run, and the "current status" that the code polled inside them parks on.
//!
//! # Invariants
//! - **A1** While an activation's future is polled (between [`Activation::enter`] and the drop of
//!   the returned [`Entered`]), its node is this thread's current status; the previous one is
//!   restored afterwards, also on unwind.
//! - **A2** An activation attaches lazily, on its first `enter`, under the status that is current
//!   then (or under the explicit parent it was made with). If it is later polled under another
//!   status (its future was moved into another task), it is re-parented there before the poll.
//! - **A3** Attaching registers the activation with its scope (`ScopeState::watch`) *before* the
//!   node's state is computed from the scope's flags (S2); dropping it unregisters it and frees
//!   the node (T1 re-links any children).
//! - **A4** An activation with a deadline (or a grace period) keeps one timer registration in the
//!   kernel's timers, moved whenever the deadline moves; its firing cancels the scope with the
//!   reason `Deadline` (or `GracePeriodEnded`) on the kernel thread.

use super::state::{CancelSink, ScopeState, WatchId};
use super::tree::NodeId;
use super::{CURRENT, TREE, here, local_sink, run_aborts, update_local, with_tree};
use crate::kernel::context::with_core;
// std's Arc, not the shim's: a scope is shared by pointer; its modelled state is the atomics and
// mutexes inside (loom's Arc cannot be a method receiver or unsize to a trait object).
use std::fmt;
use std::sync::Arc;
use std::task::{Wake, Waker};

/// A position in the cancel-status tree: where a scope runs. Obtained from
/// [`StatusRef::current`]; used to attach a scope under a status other than the current one (a
/// `start`ed task runs under its caller's status until it has started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRef {
    thread: u64,
    node: NodeId,
}

impl StatusRef {
    /// The status current on this thread (the root outside any scope).
    pub fn current() -> StatusRef {
        StatusRef { thread: here(), node: CURRENT.with(std::cell::Cell::get) }
    }

    /// Moves the node at this position, with everything under it, under `parent` now (what
    /// [`Activation::move_under`] does, for code that holds only the position while the
    /// activation's owner is being polled). Does nothing across threads. The caller must know
    /// that the activation at this position is still alive (the position of a freed node may
    /// be reused).
    pub fn move_under(self, parent: StatusRef) {
        if self.thread != here() || parent.thread != here() {
            return;
        }
        let mut aborts = Vec::new();
        with_tree(|t| t.reparent(self.node, parent.node, &mut aborts));
        run_aborts(aborts);
    }
}

struct Attached {
    thread: u64,
    node: NodeId,
    watch: WatchId,
}

/// One activation of a scope (see the module docs).
pub struct Activation {
    state: Arc<ScopeState>,
    attached: Option<Attached>,
    parent: Option<StatusRef>,
    /// Where cancels from other threads go; `None`: the kernel's, if this thread runs one.
    sink: Option<Arc<dyn CancelSink>>,
}

impl fmt::Debug for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Activation").field("state", &self.state).field("attached", &self.attached.is_some()).finish()
    }
}

/// Keeps an activation's node current until dropped (A1).
#[derive(Debug)]
#[must_use]
pub struct Entered {
    previous: Option<NodeId>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        if let Some(p) = self.previous {
            CURRENT.with(|c| c.set(p));
        }
    }
}

impl Activation {
    /// An activation of `state`, attached under the current status at its first `enter`.
    pub fn new(state: Arc<ScopeState>) -> Activation {
        Activation { state, attached: None, parent: None, sink: None }
    }

    /// An activation whose cancels from other threads go to `sink` rather than to the kernel's
    /// remote-wake queue: for executors other than quartet's (and the loom models). The sink's
    /// owner calls [`deliver`](super::deliver) on this thread.
    pub fn with_sink(state: Arc<ScopeState>, sink: Arc<dyn CancelSink>) -> Activation {
        Activation { state, attached: None, parent: None, sink: Some(sink) }
    }

    /// An activation of `state` attached under `parent` rather than under the current status.
    pub fn under(state: Arc<ScopeState>, parent: StatusRef) -> Activation {
        Activation { state, attached: None, parent: Some(parent), sink: None }
    }

    /// The scope.
    pub fn state(&self) -> &Arc<ScopeState> {
        &self.state
    }

    fn node(&self) -> Option<NodeId> {
        let a = self.attached.as_ref()?;
        (a.thread == here()).then_some(a.node)
    }

    /// Makes this activation's node the current status until the guard drops (A1, A2).
    pub fn enter(&mut self) -> Entered {
        let current = CURRENT.with(std::cell::Cell::get);
        let node = match self.node() {
            Some(node) => {
                if self.parent.is_none() {
                    let mut aborts = Vec::new();
                    with_tree(|t| {
                        if t.contains(node) && t.parent(node) != Some(current) && node != current {
                            t.reparent(node, current, &mut aborts);
                        }
                    });
                    run_aborts(aborts);
                }
                node
            }
            None => self.attach(current),
        };
        Entered { previous: Some(CURRENT.with(|c| c.replace(node))) }
    }

    fn attach(&mut self, current: NodeId) -> NodeId {
        if let Some(old) = self.attached.take() {
            // Attached on another thread: that tree is not ours to touch; just unregister.
            self.state.unwatch(old.watch);
        }
        let parent = match self.parent {
            Some(p) if p.thread == here() => p.node,
            _ => current,
        };
        let node = with_tree(|t| t.insert(self.state.clone(), parent, crate::task::current_task_id()));
        let sink = self.sink.clone().or_else(local_sink);
        let watch = self.state.watch(here(), sink, node.to_u64());
        self.attached = Some(Attached { thread: here(), node, watch });
        // Recompute after registering (A3): a cancel that raced the insert is seen now, or it saw
        // our registration and queued a walk.
        let released = sync_timer(&self.state, node);
        let mut aborts = Vec::new();
        with_tree(|t| t.recalc(node, &mut aborts));
        drop(released);
        run_aborts(aborts);
        node
    }

    /// Whether an outer cancellation reaches this activation (parent effectively cancelled and
    /// this scope not shielded).
    pub fn parent_cancelled(&self) -> bool {
        match self.node() {
            Some(node) => TREE.with(|t| t.borrow().parent_visible(node)),
            None => false,
        }
    }

    /// Whether this scope owns a cancellation that ends its block: it was cancelled, and no outer
    /// cancellation reaches it (Trio: the outermost cancelled scope catches `Cancelled`).
    pub fn owns_cancellation(&self) -> bool {
        self.state.cancel_called() && !self.parent_cancelled()
    }

    /// Whether code inside is effectively cancelled.
    pub fn effectively_cancelled(&self) -> bool {
        match self.node() {
            Some(node) => TREE.with(|t| t.borrow().effective(node).is_some()),
            None => self.state.cancel_called(),
        }
    }

    /// Moves this activation (with everything parked under it) under `parent`. Trio's
    /// re-parenting of a started task.
    pub fn move_under(&mut self, parent: StatusRef) {
        self.parent = Some(parent);
        if let Some(node) = self.node() {
            if parent.thread == here() {
                let mut aborts = Vec::new();
                with_tree(|t| t.reparent(node, parent.node, &mut aborts));
                run_aborts(aborts);
            }
        }
    }

    /// Where this activation is in the tree, once attached.
    pub fn status(&self) -> Option<StatusRef> {
        self.node().map(|node| StatusRef { thread: here(), node })
    }
}

impl Drop for Activation {
    fn drop(&mut self) {
        let Some(a) = self.attached.take() else { return };
        self.state.unwatch(a.watch);
        if a.thread != here() {
            return; // the node stays in its thread's tree (T1 handles its children)
        }
        let mut aborts = Vec::new();
        let timer = with_tree(|t| t.remove(a.node, &mut aborts));
        let released = timer.and_then(|k| with_core(|c| c.timers.borrow_mut().remove(k.key)).flatten());
        drop(released);
        run_aborts(aborts);
    }
}

/// Moves the deadline timer of `node` to the scope's current deadline (A4). Returns a replaced
/// waker for the caller to drop outside any borrow.
///
/// A deadline that has already passed is not armed: it cancels the scope now (S1), before the
/// caller's walk.
pub(super) fn sync_timer(state: &Arc<ScopeState>, node: NodeId) -> Option<Waker> {
    if !state.cancel_flag() {
        if let Some(reason) = state.expired(crate::now()) {
            state.set_cancelled(reason, 0);
        }
    }
    let want = if state.cancel_flag() { None } else { state.wake_at() };
    let have = with_tree(|t| t.timer_mut(node).and_then(|k| *k));
    if have.map(|k| k.at()) == want {
        return None;
    }
    with_core(|c| {
        let mut timers = c.timers.borrow_mut();
        let old = have.and_then(|k| timers.remove(k.key));
        let new = want.map(|at| {
            let waker = Waker::from(std::sync::Arc::new(DeadlineWake { owner: here(), state: state.clone() }));
            timers.insert_keyed(at, &waker)
        });
        drop(timers);
        with_tree(|t| {
            if let Some(slot) = t.timer_mut(node) {
                *slot = new;
            }
        });
        old
    })
    .flatten()
}

/// Fires when a scope's deadline (or grace period) is due (A4).
struct DeadlineWake {
    owner: u64,
    state: Arc<ScopeState>,
}

impl Wake for DeadlineWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        if here() != self.owner {
            return;
        }
        if let Some(reason) = self.state.expired(crate::now()) {
            self.state.set_cancelled(reason, 0);
        }
        update_local(&self.state);
    }
}
