//! A copy of the live part of the tree for the task-tree dump (`crate::introspect`): every live
//! node with its scope and state, every live leaf with what it waits on. Read-only; taken in one
//! borrow of the tree, so it is a consistent picture of one moment on the owning thread.

use super::Tree;
use crate::error::Reason;
use crate::introspect::WaitKind;
use std::sync::Arc;
use std::time::Instant;

use super::super::state::ScopeState;

/// One live node (activation of a scope).
pub(crate) struct NodeSnap {
    pub id: u64,
    /// `None` for the root.
    pub parent: Option<u64>,
    /// The task whose poll attached it (0: the root future).
    pub task: u64,
    pub state: Option<Arc<ScopeState>>,
    /// Why code here is cancelled, if it is (T2).
    pub effective: Option<Reason>,
    pub graceful: bool,
}

/// One live leaf (a parked wait).
pub(crate) struct LeafSnap {
    /// The node it is parked on; `None` once a walk aborted it (it stays until its future sees it).
    pub node: Option<u64>,
    pub task: u64,
    pub what: WaitKind,
    pub since: Option<Instant>,
    pub aborted: Option<Reason>,
}

impl Tree {
    /// The live nodes (root first) and leaves.
    pub fn snapshot(&self) -> (Vec<NodeSnap>, Vec<LeafSnap>) {
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.live)
            .map(|(i, n)| NodeSnap {
                id: super::NodeId { index: i as u32, generation: n.generation }.to_u64(),
                parent: n.parent.filter(|p| self.contains(*p)).map(super::NodeId::to_u64),
                task: n.task,
                state: n.state.clone(),
                effective: n.effective.clone(),
                graceful: n.graceful,
            })
            .collect();
        let leaves = self
            .leaves
            .iter()
            .filter(|l| l.live)
            .map(|l| LeafSnap {
                node: l.node.get().filter(|n| self.contains(*n)).map(super::NodeId::to_u64),
                task: l.task,
                what: self.leaf_what(l),
                since: l.since.get(),
                aborted: l.aborted.as_ref().map(|c| c.reason().clone()),
            })
            .collect();
        (nodes, leaves)
    }
}
