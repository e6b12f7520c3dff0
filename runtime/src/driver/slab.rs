//! The slab of in-flight operations.
//!
//! Each op owns one slot from submission until its *final* completion (one without
//! `IORING_CQE_F_MORE`). `user_data` carries the slot's index and generation, so a completion for a
//! slot that was freed and reused (H6) is recognised as stale and ignored, never delivered to the
//! wrong future. A slot whose future was dropped holds the op's resources (`Abandoned`) until the
//! kernel is done with them (H1).

use std::any::Any;
use std::task::Waker;

/// What the driver must do with an abandoned op's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cleanup {
    /// Nothing beyond dropping the resources.
    Nothing,
    /// A non-negative result is a new fd nobody will ever see: close it (H2).
    CloseFd,
}

/// When a completion was reaped: the driver's enter count then (its low 31 bits), and whether
/// other completions came back in the same reap (bit 31). The stream receive hint
/// (`net/recv_hint.rs`) reads it to tell a receive that found its data from one that waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Delivery(u32);

const CROWDED: u32 = 1 << 31;

impl Delivery {
    /// Reaped after enter number `enters`, with (`crowded`) or without other completions.
    pub fn new(enters: u64, crowded: bool) -> Delivery {
        Delivery((enters as u32 & !CROWDED) | if crowded { CROWDED } else { 0 })
    }

    /// Whether an op submitted when the driver had made `issued` enters came back from the very
    /// enter that submitted it, next to other completions: it did not wait for anything.
    pub fn at_once(self, issued: u64) -> bool {
        self.0 & CROWDED != 0 && self.0 & !CROWDED == (issued as u32).wrapping_add(1) & !CROWDED
    }
}

pub(crate) enum Lifecycle {
    /// Submitted (or queued for submission); the future waits.
    Waiting(Option<Waker>),
    /// The final completion arrived; the future has not looked yet.
    Completed { res: i32, flags: u32, at: Delivery },
    /// The future was dropped: the driver owns the resources until the final completion.
    Abandoned(Box<dyn Any>, Cleanup),
}

struct Slot {
    generation: u32,
    state: Option<Lifecycle>,
    next_free: usize,
}

/// A key naming one use of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpKey {
    pub index: u32,
    pub generation: u32,
}

/// Bit 63 of `user_data` marks the driver's internal ops; op keys never set it.
pub(crate) const INTERNAL: u64 = 1 << 63;
const GEN_MASK: u32 = (1 << 31) - 1;

impl OpKey {
    pub fn user_data(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    pub fn from_user_data(ud: u64) -> Option<OpKey> {
        if ud & INTERNAL != 0 {
            return None;
        }
        Some(OpKey { index: ud as u32, generation: (ud >> 32) as u32 })
    }
}

const NONE: usize = usize::MAX;

pub(crate) struct Slab {
    slots: Vec<Slot>,
    free: usize,
    live: usize,
}

/// What `complete` found.
pub(crate) enum Completion {
    /// Wake this waker (if any): the future will collect the result.
    Wake(Option<Waker>),
    /// The future is gone: run this cleanup on the result, then drop the resources.
    Reclaim(Box<dyn Any>, Cleanup, i32),
    /// Stale or unknown `user_data`: ignore (H6).
    Stale,
}

impl Slab {
    pub fn new() -> Slab {
        Slab { slots: Vec::new(), free: NONE, live: 0 }
    }

    /// Ops whose final completion has not been collected.
    pub fn live(&self) -> usize {
        self.live
    }

    pub fn insert(&mut self, waker: Option<Waker>) -> OpKey {
        self.live += 1;
        let state = Some(Lifecycle::Waiting(waker));
        if self.free != NONE {
            let index = self.free;
            let slot = &mut self.slots[index];
            self.free = slot.next_free;
            slot.state = state;
            return OpKey { index: index as u32, generation: slot.generation };
        }
        let index = self.slots.len();
        self.slots.push(Slot { generation: 0, state, next_free: NONE });
        OpKey { index: index as u32, generation: 0 }
    }

    fn slot(&mut self, key: OpKey) -> Option<&mut Slot> {
        let slot = self.slots.get_mut(key.index as usize)?;
        (slot.generation == key.generation && slot.state.is_some()).then_some(slot)
    }

    pub fn get(&mut self, key: OpKey) -> Option<&mut Lifecycle> {
        self.slot(key).and_then(|s| s.state.as_mut())
    }

    /// Frees the slot; its generation moves on so late completions are stale.
    pub fn remove(&mut self, key: OpKey) -> Option<Lifecycle> {
        let free = self.free;
        let slot = self.slot(key)?;
        let state = slot.state.take();
        slot.generation = (slot.generation + 1) & GEN_MASK;
        slot.next_free = free;
        self.free = key.index as usize;
        self.live -= 1;
        state
    }

    pub fn complete(&mut self, ud: u64, res: i32, flags: u32, at: Delivery) -> Completion {
        let Some(key) = OpKey::from_user_data(ud) else { return Completion::Stale };
        let Some(state) = self.get(key) else { return Completion::Stale };
        match state {
            Lifecycle::Waiting(waker) => {
                let waker = waker.take();
                *state = Lifecycle::Completed { res, flags, at };
                Completion::Wake(waker)
            }
            Lifecycle::Completed { .. } => Completion::Stale,
            Lifecycle::Abandoned(..) => match self.remove(key) {
                Some(Lifecycle::Abandoned(data, cleanup)) => Completion::Reclaim(data, cleanup, res),
                _ => Completion::Stale,
            },
        }
    }

    /// Ops the kernel has not finished with (waiting or abandoned), as opposed to [`Slab::live`],
    /// which also counts completions no future has collected yet. Walks the slab: shutdown only.
    pub fn in_flight(&self) -> usize {
        let busy = |s: &&Slot| matches!(s.state, Some(Lifecycle::Waiting(_) | Lifecycle::Abandoned(..)));
        self.slots.iter().filter(busy).count()
    }

    /// Forgets every abandoned resource without freeing it: used when the shutdown drain times
    /// out and the kernel may still write into them (H4).
    pub fn leak_all(&mut self) -> usize {
        let mut leaked = 0;
        for slot in &mut self.slots {
            if let Some(Lifecycle::Abandoned(data, _)) = slot.state.take() {
                std::mem::forget(data);
                leaked += 1;
            }
        }
        leaked
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn stale_completion_after_reuse_is_ignored() {
        let mut slab = Slab::new();
        let a = slab.insert(None);
        slab.remove(a);
        let b = slab.insert(None);
        assert_eq!(a.index, b.index);
        assert!(matches!(slab.complete(a.user_data(), 5, 0, Delivery::default()), Completion::Stale));
        assert!(matches!(slab.complete(b.user_data(), 5, 0, Delivery::default()), Completion::Wake(None)));
        assert!(matches!(slab.complete(12345, 0, 0, Delivery::default()), Completion::Stale));
        assert!(matches!(slab.complete(INTERNAL | 7, 0, 0, Delivery::default()), Completion::Stale));
    }

    #[test]
    fn abandoned_slot_is_reclaimed_on_completion() {
        let mut slab = Slab::new();
        let k = slab.insert(None);
        *slab.get(k).unwrap() = Lifecycle::Abandoned(Box::new(vec![1u8]), Cleanup::CloseFd);
        match slab.complete(k.user_data(), 9, 0, Delivery::default()) {
            Completion::Reclaim(_, Cleanup::CloseFd, 9) => {}
            _ => panic!("expected reclaim"),
        }
        assert_eq!(slab.live(), 0);
    }

    #[test]
    fn completed_but_uncollected_op_is_live_but_not_in_flight() {
        let mut slab = Slab::new();
        let done = slab.insert(None);
        let waiting = slab.insert(None);
        assert!(matches!(slab.complete(done.user_data(), 0, 0, Delivery::default()), Completion::Wake(None)));
        assert_eq!((slab.live(), slab.in_flight()), (2, 1));
        slab.remove(done);
        slab.remove(waiting);
        assert_eq!((slab.live(), slab.in_flight()), (0, 0));
    }
}
