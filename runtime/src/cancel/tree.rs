//! The cancel-status tree of one thread, and the leaves parked on it (Trio's `CancelStatus`).
//!
//! A data structure only: it never touches the kernel, the driver or the timers. The front-end
//! ([`super`]) runs the walks on the owning thread and carries out the [`Abort`]s a walk returns
//! after it has released the tree, because waking a waker or cancelling an op may run foreign code.
//!
//! # Invariants
//! - **T1** A node is one *activation* of a scope: one place where a scope's future runs. Its parent
//!   is the node that was innermost when it was attached (or the one given explicitly). A node
//!   whose parent was freed is re-linked to its grandparent (misnested exits, leaked futures).
//! - **T2** `effective` is `Some(reason)` iff the node's scope was cancelled, or its parent is
//!   effectively cancelled and the node's scope is not shielded (Trio's
//!   `parent_cancellation_is_visible_to_us`). `graceful` likewise for graceful cancellation. Every
//!   change to a flag, a shield or a parent is followed by [`Tree::recalc`] from that node, which
//!   restores T2 for the whole subtree and prunes where nothing changed.
//! - **T3** A leaf is linked into the parked list of a node only while that node is not
//!   effectively cancelled. When a node becomes effectively cancelled, every leaf parked on it is
//!   unlinked, marked aborted (with the reason) and its abort returned to the caller, in the same
//!   step. So each park is aborted at most once, and a leaf that completed first (and unparked)
//!   is never aborted.
//! - **T4** Ids carry a generation: a stale id (freed slot) is never confused with its reuse.
//! - **T5** `cancelled` counts the live nodes whose `effective` is `Some`: `recalc` (the only
//!   writer of a live node's `effective`) adjusts it on each change, `remove` on freeing a
//!   cancelled node, which leaves its slot's `effective` `None`. So while it is 0, `effective` is
//!   `None` everywhere and a checkpoint need not look the node up.

use crate::driver::OpKey;
use crate::error::{Cancelled, Reason};
// std's Arc, not the shim's: a scope is shared by pointer; its modelled state is the atomics and
// mutexes inside (loom's Arc cannot be a method receiver or unsize to a trait object).
use std::sync::Arc;
use std::task::Waker;

use super::state::ScopeState;
use crate::introspect::WaitKind;

mod leaves;
mod link;
mod snapshot;
pub(crate) use leaves::LeafLines;
use link::{LeafNode, Link, What};
pub(crate) use link::{Since, Waiting};
pub(crate) use snapshot::{LeafSnap, NodeSnap};

/// Names one node of one thread's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeId {
    index: u32,
    generation: u32,
}

impl NodeId {
    /// The id as one number (for [`ScopeState::watch`]).
    pub fn to_u64(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// The inverse of [`NodeId::to_u64`].
    pub fn from_u64(v: u64) -> NodeId {
        NodeId { index: v as u32, generation: (v >> 32) as u32 }
    }
}

/// Names one parked leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeafId {
    index: u32,
    generation: u32,
}

impl LeafId {
    /// Its slot in the leaf slab (for [`LeafLines::prefetch`]).
    pub(crate) fn index(self) -> u32 {
        self.index
    }
}

/// The root node of every thread's tree: never freed.
pub(crate) const ROOT: NodeId = NodeId { index: 0, generation: 0 };

/// How to abort a parked leaf. 16 bytes: two variants, the `Waker`'s vtable pointer is the tag
/// (an `Option<Waker>` in it, or a third variant, would add 8 to every parked leaf). A wait for
/// graceful cancellation is a `Wake` leaf with `Leaf::graceful` set.
pub(crate) enum LeafKind {
    /// An in-memory wait (sleep, channel, lock, thread job...): abort = wake it; its next poll sees
    /// that it was aborted (Trio's `Abort.SUCCEEDED`). A graceful wait is woken when the node
    /// becomes graceful or cancelled. Once the waker was taken by an abort, it is the no-op
    /// waker ([`Waker::noop`], which [`take_waker`] never hands out).
    Wake(Waker),
    /// A ring op: abort = queue `ASYNC_CANCEL`; its own completion decides (`Abort.FAILED`).
    Op(OpKey),
}

/// Takes a wake leaf's waker, leaving the no-op waker; `None` if it was taken already.
fn take_waker(w: &mut Waker) -> Option<Waker> {
    let w = std::mem::replace(w, Waker::noop().clone());
    (!w.will_wake(Waker::noop())).then_some(w)
}

/// What the front-end must do after a walk, with no borrow of the tree alive.
pub(crate) enum Abort {
    Wake(Waker),
    Op(OpKey),
}

struct Node {
    generation: u32,
    live: bool,
    state: Option<Arc<ScopeState>>,
    parent: Option<NodeId>,
    first_child: Option<u32>,
    prev: Option<u32>,
    next: Option<u32>,
    effective: Option<Reason>,
    graceful: bool,
    first_leaf: Option<u32>,
    /// The deadline timer registration, owned by the front-end.
    pub timer: Option<crate::time::TimerKey>,
    /// The task whose poll attached the node (0: the root future), for the task-tree dump.
    task: u64,
}

/// What the task-tree dump shows of a leaf: what it waits on, for which task, since when.
#[derive(Clone)]
pub(crate) struct LeafMeta {
    pub what: Waiting,
    pub task: u64,
    /// When it parked (the core's tick), in 8 bytes.
    pub since: Since,
}

/// A parked wait: 72 bytes (a sleeping task holds one).
struct Leaf {
    generation: u32,
    live: bool,
    /// A wait for graceful cancellation (a `Wake` leaf that a graceful node aborts too).
    graceful: bool,
    node: LeafNode,
    prev: Link,
    /// The next leaf parked on the same node, or, for a free leaf, the next free one
    /// (`Tree::free_leaf`: the free list threads through the slab, no side `Vec`).
    next: Link,
    kind: LeafKind,
    /// Boxed: set only by a walk (the cold path), and an inline `Cancelled` would make every
    /// parked leaf 24 bytes larger.
    aborted: Option<Box<Cancelled>>,
    graceful_fired: bool,
    /// The dump's record ([`LeafMeta`], its `what` compact: a tag and `what_payload`, 9 bytes
    /// where a `WaitKind` takes 40).
    what: What,
    what_payload: u64,
    task: u64,
    since: Since,
}

/// One thread's cancel-status tree.
pub(crate) struct Tree {
    nodes: Vec<Node>,
    free_nodes: Vec<u32>,
    leaves: Vec<Leaf>,
    /// The first free leaf (the list threads through `Leaf::next`).
    free_leaf: Link,
    /// The descriptions `What` cannot hold (ring ops, mostly), by `What::Side` index, and the
    /// free indices: a slot lives as long as its leaf is parked.
    kinds: Vec<WaitKind>,
    free_kinds: Vec<u32>,
    scratch: Vec<u32>,
    /// How many live nodes are effectively cancelled. Zero, the usual case, lets [`Tree::effective`]
    /// answer without finding the node: a checkpoint in a program where nothing is cancelled reads
    /// one counter (T5).
    cancelled: usize,
}

const fn empty_node(generation: u32) -> Node {
    Node {
        generation,
        live: false,
        state: None,
        parent: None,
        first_child: None,
        prev: None,
        next: None,
        effective: None,
        graceful: false,
        first_leaf: None,
        timer: None,
        task: 0,
    }
}

impl Tree {
    /// An empty tree; the root node is made on first use, so that the thread-local holding the
    /// tree can be initialised without allocating (`const`).
    pub const fn new() -> Tree {
        Tree {
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            leaves: Vec::new(),
            free_leaf: Link::NONE,
            kinds: Vec::new(),
            free_kinds: Vec::new(),
            scratch: Vec::new(),
            cancelled: 0,
        }
    }

    fn ensure_root(&mut self) {
        if self.nodes.is_empty() {
            let mut root = empty_node(0);
            root.live = true;
            self.nodes.push(root);
        }
    }

    fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.index as usize).filter(|n| n.live && n.generation == id.generation)
    }

    /// True if `id` names a live node.
    pub fn contains(&self, id: NodeId) -> bool {
        self.node(id).is_some()
    }

    /// The scope state of a node.
    pub fn state(&self, id: NodeId) -> Option<&Arc<ScopeState>> {
        self.node(id).and_then(|n| n.state.as_ref())
    }

    /// Replaces the root's scope (a new `run` on this thread); returns the old one.
    pub fn set_root_state(&mut self, state: Option<Arc<ScopeState>>, out: &mut Vec<Abort>) -> Option<Arc<ScopeState>> {
        self.ensure_root();
        let old = std::mem::replace(&mut self.nodes[0].state, state);
        self.recalc(ROOT, out);
        old
    }

    /// Whether any live node is effectively cancelled (T5).
    #[inline]
    pub fn any_cancelled(&self) -> bool {
        self.cancelled != 0
    }

    /// The reason code at `id` is cancelled with, if it is effectively cancelled.
    #[inline]
    pub fn effective(&self, id: NodeId) -> Option<&Reason> {
        if self.cancelled == 0 {
            return None; // T5: no live node is cancelled
        }
        self.node(id).and_then(|n| n.effective.as_ref())
    }

    /// Whether graceful cancellation (or hard cancellation) reaches code at `id`.
    pub fn graceful(&self, id: NodeId) -> bool {
        self.node(id).is_some_and(|n| n.graceful || n.effective.is_some())
    }

    /// The parent of `id`, if it has a live one.
    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.node(id).and_then(|n| n.parent).filter(|p| self.contains(*p))
    }

    /// Whether the parent's cancellation reaches `id` (parent effectively cancelled and `id` not
    /// shielded): Trio's `parent_cancellation_is_visible_to_us`.
    pub fn parent_visible(&self, id: NodeId) -> bool {
        let Some(n) = self.node(id) else { return false };
        let shielded = n.state.as_ref().is_some_and(|s| s.shield());
        !shielded && self.parent(id).and_then(|p| self.effective(p)).is_some()
    }

    /// Whether `state` is the scope of `id` or of an ancestor attached by the same `task`: the
    /// scope's block is active around `id` in that task (a run of the scope nested in itself).
    /// Stops at the first node of another task, so a scope entered by a task and again by one of
    /// its children's tasks is not found.
    pub fn active_in_task(&self, id: NodeId, state: &Arc<ScopeState>, task: u64) -> bool {
        let mut cur = Some(id);
        while let Some(n) = cur.and_then(|i| self.node(i)) {
            if n.task != task {
                return false;
            }
            if n.state.as_ref().is_some_and(|s| Arc::ptr_eq(s, state)) {
                return true;
            }
            cur = cur.and_then(|i| self.parent(i));
        }
        false
    }

    /// The nodes from `id` up to the root, stopping after the first shielded one.
    pub fn ancestry(&self, id: NodeId) -> impl Iterator<Item = &Arc<ScopeState>> + '_ {
        let mut cur = Some(id);
        std::iter::from_fn(move || {
            loop {
                let id = cur?;
                let n = self.node(id)?;
                let shielded = n.state.as_ref().is_some_and(|s| s.shield());
                cur = if shielded { None } else { self.parent(id) };
                if let Some(s) = &n.state {
                    return Some(s);
                }
            }
        })
    }

    pub fn timer_mut(&mut self, id: NodeId) -> Option<&mut Option<crate::time::TimerKey>> {
        let n = self.nodes.get_mut(id.index as usize).filter(|n| n.live && n.generation == id.generation)?;
        Some(&mut n.timer)
    }

    /// Adds a node for `state` under `parent` and computes its state (T2). A node that starts out
    /// cancelled has no leaves yet, so nothing is aborted.
    pub fn insert(&mut self, state: Arc<ScopeState>, parent: NodeId, task: u64) -> NodeId {
        self.ensure_root();
        let parent = if self.contains(parent) { parent } else { ROOT };
        let index = match self.free_nodes.pop() {
            Some(i) => i,
            None => {
                self.nodes.push(empty_node(0));
                u32::try_from(self.nodes.len() - 1).expect("fewer than 2^32 live cancel scopes")
            }
        };
        let generation = self.nodes[index as usize].generation;
        let mut node = empty_node(generation);
        node.live = true;
        node.state = Some(state);
        node.task = task;
        self.nodes[index as usize] = node;
        let id = NodeId { index, generation };
        self.link(id, parent);
        let mut none = Vec::new();
        self.recalc(id, &mut none);
        debug_assert!(none.is_empty());
        id
    }

    fn link(&mut self, id: NodeId, parent: NodeId) {
        let head = self.nodes[parent.index as usize].first_child.replace(id.index);
        if let Some(h) = head {
            self.nodes[h as usize].prev = Some(id.index);
        }
        let n = &mut self.nodes[id.index as usize];
        n.parent = Some(parent);
        n.prev = None;
        n.next = head;
    }

    fn unlink(&mut self, id: NodeId) {
        let (parent, prev, next) = {
            let n = &mut self.nodes[id.index as usize];
            (n.parent.take(), n.prev.take(), n.next.take())
        };
        if let Some(p) = prev {
            self.nodes[p as usize].next = next;
        } else if let Some(parent) = parent {
            // The parent slot may have been reused since; only fix a list that names us.
            let pn = &mut self.nodes[parent.index as usize];
            if pn.first_child == Some(id.index) {
                pn.first_child = next;
            }
        }
        if let Some(nx) = next {
            self.nodes[nx as usize].prev = prev;
        }
    }

    /// Moves `id` under `parent` and recomputes it (Trio's `parent` setter).
    pub fn reparent(&mut self, id: NodeId, parent: NodeId, out: &mut Vec<Abort>) {
        if !self.contains(id) || id == ROOT {
            return;
        }
        let parent = if self.contains(parent) && parent != id { parent } else { ROOT };
        self.unlink(id);
        self.link(id, parent);
        self.recalc(id, out);
    }

    /// Frees a node. Its children move to its parent (T1) and are recomputed; leaves still parked
    /// on it (a leaf that outlived its scope) are unlinked and re-park wherever they are polled
    /// next. Returns the node's timer registration for the front-end to remove.
    pub fn remove(&mut self, id: NodeId, out: &mut Vec<Abort>) -> Option<crate::time::TimerKey> {
        if !self.contains(id) || id == ROOT {
            return None;
        }
        let parent = self.parent(id).unwrap_or(ROOT);
        let mut children = Vec::new();
        let mut c = self.nodes[id.index as usize].first_child;
        while let Some(ci) = c {
            c = self.nodes[ci as usize].next;
            children.push(NodeId { index: ci, generation: self.nodes[ci as usize].generation });
        }
        let mut leaf = self.nodes[id.index as usize].first_leaf.take();
        while let Some(li) = leaf {
            let l = &mut self.leaves[li as usize];
            leaf = l.next.get();
            l.node = LeafNode::NONE;
            l.prev = Link::NONE;
            l.next = Link::NONE;
        }
        self.unlink(id);
        let n = &mut self.nodes[id.index as usize];
        n.live = false;
        let was_cancelled = n.effective.take().is_some();
        n.generation = n.generation.wrapping_add(1);
        n.first_child = None;
        let timer = n.timer.take();
        let state = n.state.take();
        self.free_nodes.push(id.index);
        self.cancelled -= usize::from(was_cancelled); // T5
        for child in children {
            self.nodes[child.index as usize].parent = None;
            self.link(child, parent);
            self.recalc(child, out);
        }
        drop(state);
        timer
    }

    /// Restores T2 from `start` down, pruning unchanged subtrees, and aborts the leaves of every
    /// node that became cancelled (T3). Explicit stack: no recursion depth limit.
    pub fn recalc(&mut self, start: NodeId, out: &mut Vec<Abort>) {
        if !self.contains(start) {
            return;
        }
        let mut stack = std::mem::take(&mut self.scratch);
        stack.push(start.index);
        let mut first = true;
        while let Some(i) = stack.pop() {
            let (effective, graceful) = self.compute(i);
            let n = &mut self.nodes[i as usize];
            // A change of reason alone (an inner scope cancelled with its own reason after an outer
            // one) is propagated too, so that code sees the innermost cancelled scope's reason; it
            // aborts nothing new.
            let changed = n.effective != effective || n.graceful != graceful;
            if !changed && !first {
                continue;
            }
            first = false;
            let became_cancelled = n.effective.is_none() && effective.is_some();
            let became_uncancelled = n.effective.is_some() && effective.is_none();
            let became_graceful = !n.graceful && graceful;
            n.effective = effective;
            n.graceful = graceful;
            // T5: the count follows every change of a live node's `effective` (here and `remove`).
            self.cancelled = self.cancelled + usize::from(became_cancelled) - usize::from(became_uncancelled);
            // Planted bug (scripts/mutants.sh): the walk marks nodes but aborts nobody (T3).
            let became_cancelled = became_cancelled && !crate::mutant::planted("cancel_walk_skips_leaves");
            if became_cancelled || became_graceful {
                self.abort_leaves(i, out);
            }
            let mut c = self.nodes[i as usize].first_child;
            while let Some(ci) = c {
                stack.push(ci);
                c = self.nodes[ci as usize].next;
            }
        }
        self.scratch = stack;
    }

    fn compute(&self, i: u32) -> (Option<Reason>, bool) {
        let n = &self.nodes[i as usize];
        let (own, own_graceful, shield) = match &n.state {
            Some(s) => (s.cancel_flag().then(|| s.reason().unwrap_or(Reason::Explicit)), s.graceful_flag(), s.shield()),
            None => (None, false, false),
        };
        let parent = n.parent.and_then(|p| self.node(p));
        let inherited = if shield { None } else { parent.and_then(|p| p.effective.clone()) };
        let inherited_graceful = !shield && parent.is_some_and(|p| p.graceful);
        let graceful = own_graceful || inherited_graceful;
        let own = match (&own, &n.state) {
            // A scope that ends on a shutdown request: the request cancels it (S1: for good).
            (None, Some(s)) if graceful && s.cancel_on_graceful() => {
                s.set_cancelled(Reason::ShutdownRequested, 0);
                Some(s.reason().unwrap_or(Reason::ShutdownRequested))
            }
            _ => own,
        };
        (own.or(inherited), graceful)
    }

    /// Aborts the leaves of node `i`: all of them if it is cancelled, the graceful waits if it
    /// only became graceful.
    fn abort_leaves(&mut self, i: u32, out: &mut Vec<Abort>) {
        let reason = self.nodes[i as usize].effective.clone();
        let mut cur = self.nodes[i as usize].first_leaf;
        while let Some(li) = cur {
            cur = self.leaves[li as usize].next.get();
            let hard = reason.is_some();
            if !hard && !self.leaves[li as usize].graceful {
                continue;
            }
            self.unlink_leaf(li);
            let l = &mut self.leaves[li as usize];
            if hard {
                l.aborted = Some(Box::new(Cancelled::new(reason.clone().unwrap_or(Reason::Explicit))));
            }
            l.graceful_fired = true;
            match &mut l.kind {
                LeafKind::Wake(w) => {
                    if let Some(w) = take_waker(w) {
                        out.push(Abort::Wake(w));
                    }
                }
                LeafKind::Op(key) => out.push(Abort::Op(*key)),
            }
        }
    }
}

#[cfg(test)]
mod tests;
