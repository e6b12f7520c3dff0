//! The leaves of the cancel-status tree: parking a wait on a node, moving it, reading how it was
//! aborted, and unparking it (T3 in the parent module). Split from `tree.rs` so the node
//! walks and the leaf list each read on their own; the leaves are linked through
//! [`super::link`], in the slab `Tree::leaves`.

use super::link::{LeafNode, Link};
use super::{Leaf, LeafId, LeafKind, LeafMeta, NodeId, ROOT, Since, Tree, What};
use crate::error::Cancelled;
use crate::introspect::WaitKind;
use crate::kernel::prefetch::prefetch;
use std::task::Waker;

/// Where the leaf slab is, to prefetch a leaf by index without holding the tree: a copy of its
/// address and length, valid until the slab next grows (a stale copy only prefetches the wrong
/// line: a prefetch reads nothing the program sees).
#[derive(Clone, Copy)]
pub(crate) struct LeafLines {
    base: *const Leaf,
    len: usize,
}

impl LeafLines {
    /// Lines of no slab: prefetches nothing.
    pub(crate) const NONE: LeafLines = LeafLines { base: std::ptr::null(), len: 0 };

    /// Starts loading both cache lines of leaf `index` (a leaf is 72 bytes), if it is in the slab.
    #[inline]
    pub(crate) fn prefetch(self, index: u32) {
        if (index as usize) < self.len {
            // In bounds of the slab this copy describes; `wrapping_add` keeps even a stale copy's
            // arithmetic defined, and nothing is dereferenced.
            let p = self.base.wrapping_add(index as usize).cast::<u8>();
            prefetch(p);
            prefetch(p.wrapping_add(std::mem::size_of::<Leaf>() - 1));
        }
    }
}

impl Tree {
    /// The slab's current place, for [`LeafLines::prefetch`].
    pub(crate) fn leaf_lines(&self) -> LeafLines {
        LeafLines { base: self.leaves.as_ptr(), len: self.leaves.len() }
    }

    pub(super) fn leaf(&self, id: LeafId) -> Option<&Leaf> {
        self.leaves.get(id.index as usize).filter(|l| l.live && l.generation == id.generation)
    }

    pub(super) fn leaf_mut(&mut self, id: LeafId) -> Option<&mut Leaf> {
        self.leaves.get_mut(id.index as usize).filter(|l| l.live && l.generation == id.generation)
    }

    pub(super) fn unlink_leaf(&mut self, li: u32) {
        let (node, prev, next) = {
            let l = &mut self.leaves[li as usize];
            (l.node.take(), l.prev.take(), l.next.take())
        };
        if let Some(p) = prev {
            self.leaves[p as usize].next = next.into();
        } else if let Some(node) = node {
            let n = &mut self.nodes[node.index as usize];
            if n.first_leaf == Some(li) {
                n.first_leaf = next;
            }
        }
        if let Some(nx) = next {
            self.leaves[nx as usize].prev = prev.into();
        }
    }

    pub(super) fn link_leaf(&mut self, li: u32, node: NodeId) {
        let head = self.nodes[node.index as usize].first_leaf.replace(li);
        if let Some(h) = head {
            self.leaves[h as usize].prev = Link::some(li);
        }
        let l = &mut self.leaves[li as usize];
        l.node = LeafNode(node);
        l.prev = Link::NONE;
        l.next = head.into();
    }

    /// Parks a new leaf on `node`. The caller has checked that `node` is not cancelled (T3).
    /// `graceful`: a wait for graceful cancellation (a `Wake` leaf).
    pub fn park(&mut self, node: NodeId, kind: LeafKind, graceful: bool, meta: LeafMeta) -> LeafId {
        self.ensure_root();
        let node = if self.contains(node) { node } else { ROOT };
        let index = match self.free_leaf.get() {
            Some(i) => {
                self.free_leaf = self.leaves[i as usize].next.take().into();
                i
            }
            None => {
                self.leaves.push(Leaf {
                    generation: 0,
                    live: false,
                    graceful: false,
                    node: LeafNode::NONE,
                    prev: Link::NONE,
                    next: Link::NONE,
                    kind: LeafKind::Wake(Waker::noop().clone()),
                    aborted: None,
                    graceful_fired: false,
                    what: What::Other,
                    what_payload: 0,
                    task: 0,
                    since: Since::NONE,
                });
                u32::try_from(self.leaves.len() - 1).expect("fewer than 2^32 parked operations")
            }
        };
        let (what, what_payload) = match What::encode(meta.what) {
            Ok(compact) => compact,
            Err(what) => (What::Side, u64::from(self.keep_kind(what))),
        };
        let l = &mut self.leaves[index as usize];
        l.live = true;
        l.kind = kind;
        l.graceful = graceful;
        l.what = what;
        l.what_payload = what_payload;
        l.task = meta.task;
        l.since = meta.since;
        l.aborted = None;
        l.graceful_fired = false;
        let id = LeafId { index, generation: l.generation };
        self.link_leaf(index, node);
        id
    }

    /// Keeps a description `What` cannot hold in the side table; returns its index.
    fn keep_kind(&mut self, what: WaitKind) -> u32 {
        match self.free_kinds.pop() {
            Some(i) => {
                self.kinds[i as usize] = what;
                i
            }
            None => {
                self.kinds.push(what);
                u32::try_from(self.kinds.len() - 1).expect("fewer than 2^32 parked operations")
            }
        }
    }

    /// What a leaf waits for, as the dump shows it.
    pub(super) fn leaf_what(&self, l: &Leaf) -> WaitKind {
        l.what.decode(l.what_payload, |i| {
            usize::try_from(i).ok().and_then(|i| self.kinds.get(i)).cloned().unwrap_or(WaitKind::Other)
        })
    }

    /// The abort recorded for a leaf, if it was aborted.
    pub fn leaf_aborted(&self, id: LeafId) -> Option<&Cancelled> {
        self.leaf(id).and_then(|l| l.aborted.as_deref())
    }

    /// Whether a graceful wait was woken.
    pub fn leaf_graceful_fired(&self, id: LeafId) -> bool {
        self.leaf(id).is_some_and(|l| l.graceful_fired)
    }

    /// Moves a leaf that is not aborted to `node` (it is now polled under another scope).
    pub fn move_leaf(&mut self, id: LeafId, node: NodeId) {
        self.ensure_root();
        let node = if self.contains(node) { node } else { ROOT };
        if self.leaf(id).is_none_or(|l| l.aborted.is_some() || l.node.get() == Some(node)) {
            return;
        }
        self.unlink_leaf(id.index);
        self.link_leaf(id.index, node);
    }

    /// The stored waker of a wake leaf, to compare with the current one (the no-op waker once
    /// an abort took it).
    pub fn leaf_waker(&mut self, id: LeafId) -> Option<&mut Waker> {
        match &mut self.leaf_mut(id)?.kind {
            LeafKind::Wake(w) => Some(w),
            LeafKind::Op(_) => None,
        }
    }

    /// Frees a leaf (its wait is over). Returns its kind, so a stored waker is dropped by the
    /// caller outside the borrow, and the abort recorded for it, if any (one borrow for both).
    pub fn unpark(&mut self, id: LeafId) -> Option<(LeafKind, Option<Box<Cancelled>>)> {
        self.leaf(id)?;
        self.unlink_leaf(id.index);
        let l = &mut self.leaves[id.index as usize];
        l.live = false;
        l.generation = l.generation.wrapping_add(1);
        let aborted = l.aborted.take();
        if std::mem::replace(&mut l.what, What::Other) == What::Side {
            // Its description (an op's, with a boxed peer address at most) goes now.
            let i = l.what_payload as u32; // made from a `u32` index by `park`
            self.kinds[i as usize] = WaitKind::Other;
            self.free_kinds.push(i);
        }
        // Unlinked above, so `next` is free to thread the free list.
        l.next = std::mem::replace(&mut self.free_leaf, Link::some(id.index));
        Some((std::mem::replace(&mut l.kind, LeafKind::Wake(Waker::noop().clone())), aborted))
    }

    /// Leaves currently parked on `id` (for diagnostics and tests).
    pub fn parked_on(&self, id: NodeId) -> usize {
        let mut n = 0;
        let mut cur = self.node(id).and_then(|n| n.first_leaf);
        while let Some(li) = cur {
            n += 1;
            cur = self.leaves[li as usize].next.get();
        }
        n
    }
}
