//! Compact encodings for the cancel tree's leaves: a parked wait (one per sleeping task) holds two
//! list links, its node and when it parked, and `Option`s of them would make every leaf 24 bytes
//! larger.

use super::NodeId;
use crate::cancel::state::{NO_DEADLINE, from_nanos, to_nanos};
use std::time::Instant;

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

/// When a leaf parked (the dump's "waiting for"), in 8 bytes: an `Option<Instant>` takes 16.
/// Stored as the scope deadlines' biased nanoseconds (`state::to_nanos`, exact for instants
/// within 146 years of the process's first use), `NO_DEADLINE` for none.
#[derive(Clone, Copy)]
pub(crate) struct Since(u64);

impl Since {
    pub(crate) const NONE: Since = Since(NO_DEADLINE);

    pub(crate) fn new(t: Option<Instant>) -> Since {
        t.map_or(Since::NONE, |t| Since(to_nanos(t)))
    }

    pub(crate) fn get(self) -> Option<Instant> {
        (self.0 != NO_DEADLINE).then(|| from_nanos(self.0))
    }
}

#[cfg(test)]
#[test]
fn since_round_trips() {
    assert!(Since::NONE.get().is_none());
    assert!(Since::new(None).get().is_none());
    let now = Instant::now();
    for t in [now, now + std::time::Duration::from_nanos(1), now - std::time::Duration::from_secs(5)] {
        assert_eq!(Since::new(Some(t)).get(), Some(t));
    }
}
