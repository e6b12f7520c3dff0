//! Compact links for the cancel tree's leaves: a parked wait (one per sleeping task) holds two
//! list links and its node, and `Option`s of them would make every leaf 16 bytes larger.

use super::NodeId;

/// An optional index in 4 bytes (`u32::MAX`: none), for the leaves' links: an `Option<u32>`
/// takes 8, and every parked wait (one per sleeping task) holds two.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Link(u32);

impl Link {
    pub(super) const NONE: Link = Link(u32::MAX);

    pub(super) fn some(i: u32) -> Link {
        debug_assert!(i != u32::MAX);
        Link(i)
    }

    pub(super) fn get(self) -> Option<u32> {
        (self.0 != u32::MAX).then_some(self.0)
    }

    pub(super) fn take(&mut self) -> Option<u32> {
        std::mem::replace(self, Link::NONE).get()
    }
}

impl From<Option<u32>> for Link {
    fn from(i: Option<u32>) -> Link {
        i.map_or(Link::NONE, Link::some)
    }
}

/// The node a leaf is parked on, in 8 bytes (`index` `u32::MAX`: none; an `Option<NodeId>`
/// takes 12).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct LeafNode(pub(super) NodeId);

impl LeafNode {
    pub(super) const NONE: LeafNode = LeafNode(NodeId { index: u32::MAX, generation: 0 });

    pub(super) fn get(self) -> Option<NodeId> {
        (self.0.index != u32::MAX).then_some(self.0)
    }

    pub(super) fn take(&mut self) -> Option<NodeId> {
        std::mem::replace(self, LeafNode::NONE).get()
    }
}
