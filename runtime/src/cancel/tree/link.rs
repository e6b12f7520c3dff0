//! Compact encodings for the cancel tree's leaves: a parked wait (one per sleeping task) holds two
//! list links, its node and when it parked, and `Option`s of them would make every leaf 24 bytes
//! larger.

use super::NodeId;
use crate::cancel::state::{NO_DEADLINE, from_nanos, to_nanos};
use crate::introspect::WaitKind;
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

/// What a leaf waits for (the dump's [`WaitKind`]), as a one-byte tag (which fits beside the
/// leaf's flags) and 8 bytes of payload, where a `WaitKind` takes 40 (the size of a ring op's
/// description, which a sleeping task's leaf would pay for too): a timer's deadline as biased
/// nanoseconds, nothing for a kind without data, or the index of a description kept in the
/// tree's side table (`Tree::kinds`: ring ops, and a deadline the nanoseconds cannot hold
/// exactly), freed with the leaf.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(super) enum What {
    Timer,
    Side,
    Channel,
    Lock,
    Semaphore,
    Event,
    Condition,
    CapacityLimiter,
    ThreadJob,
    Join,
    Start,
    ShutdownRequest,
    Other,
}

/// What a new leaf waits for, as its parker knows it: a description, or a timer's deadline
/// already in biased nanoseconds (a `Sleep` keeps its deadline so: its leaf then costs no
/// conversion).
#[derive(Clone)]
pub(crate) enum Waiting {
    Kind(WaitKind),
    Timer(u64),
}

impl What {
    /// The compact form of `what` (tag, payload), or `Err(what)` if it must go to the side
    /// table (then the tag is `Side` and the payload its index).
    pub(super) fn encode(what: Waiting) -> Result<(What, u64), WaitKind> {
        let what = match what {
            Waiting::Timer(n) => return Ok((What::Timer, n)),
            Waiting::Kind(what) => what,
        };
        let tag = match what {
            WaitKind::Timer { deadline } => {
                let n = to_nanos(deadline);
                if from_nanos(n) != deadline {
                    return Err(what);
                }
                return Ok((What::Timer, n));
            }
            WaitKind::Op(_) => return Err(what),
            WaitKind::Channel => What::Channel,
            WaitKind::Lock => What::Lock,
            WaitKind::Semaphore => What::Semaphore,
            WaitKind::Event => What::Event,
            WaitKind::Condition => What::Condition,
            WaitKind::CapacityLimiter => What::CapacityLimiter,
            WaitKind::ThreadJob => What::ThreadJob,
            WaitKind::Join => What::Join,
            WaitKind::Start => What::Start,
            WaitKind::ShutdownRequest => What::ShutdownRequest,
            WaitKind::Other => What::Other,
        };
        Ok((tag, 0))
    }

    /// The `WaitKind` back from the tag and its payload; `side` reads the side table.
    pub(super) fn decode(self, payload: u64, side: impl FnOnce(u64) -> WaitKind) -> WaitKind {
        match self {
            What::Timer => WaitKind::Timer { deadline: from_nanos(payload) },
            What::Side => side(payload),
            What::Channel => WaitKind::Channel,
            What::Lock => WaitKind::Lock,
            What::Semaphore => WaitKind::Semaphore,
            What::Event => WaitKind::Event,
            What::Condition => WaitKind::Condition,
            What::CapacityLimiter => WaitKind::CapacityLimiter,
            What::ThreadJob => WaitKind::ThreadJob,
            What::Join => WaitKind::Join,
            What::Start => WaitKind::Start,
            What::ShutdownRequest => WaitKind::ShutdownRequest,
            What::Other => WaitKind::Other,
        }
    }
}

#[cfg(test)]
#[test]
fn what_round_trips_every_kind() {
    use crate::introspect::OpInfo;
    let now = Instant::now();
    let far = now + std::time::Duration::from_secs(86400 * 365 * 1000);
    let kinds = [
        WaitKind::Timer { deadline: now },
        WaitKind::Timer { deadline: far },
        WaitKind::Op(OpInfo::new("Recv").with_fd(3).with_bytes(9)),
        WaitKind::Channel,
        WaitKind::Lock,
        WaitKind::Semaphore,
        WaitKind::Event,
        WaitKind::Condition,
        WaitKind::CapacityLimiter,
        WaitKind::ThreadJob,
        WaitKind::Join,
        WaitKind::Start,
        WaitKind::ShutdownRequest,
        WaitKind::Other,
    ];
    for k in kinds {
        let back = match What::encode(Waiting::Kind(k.clone())) {
            Ok((tag, payload)) => {
                assert!(!matches!(k, WaitKind::Op(_)), "an op's description goes to the side table");
                assert_ne!(tag, What::Side);
                tag.decode(payload, |_| unreachable!("compact"))
            }
            Err(side) => What::Side.decode(7, |i| {
                assert_eq!(i, 7);
                side.clone()
            }),
        };
        assert_eq!(back, k);
    }
    assert!(
        What::encode(Waiting::Kind(WaitKind::Timer { deadline: far })).is_err(),
        "438 years out: kept exactly aside"
    );
    let n = to_nanos(now);
    assert_eq!(What::encode(Waiting::Timer(n)).ok(), Some((What::Timer, n)), "a sleep's deadline as is");
    assert_eq!(std::mem::size_of::<What>(), 1);
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
