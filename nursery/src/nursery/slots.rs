//! A nursery's own state: its children's slots, the free list, what failed.
//!
//! Kept apart from the spawning API (`mod.rs`) and the polling loop (`run.rs`) because all of
//! them read it. A slot holds one child's task cell (`cell.rs`); free slots form an intrusive
//! list, so spawning and exiting are O(1) with no second `Vec`. A child's waker is not stored
//! here: the `ReadyQueue` lends one per slot (allocation-free), so a nursery that spawns and
//! joins in a loop makes no waker per child.

use super::cell::ChildTask;
use crate::error::Failure;
use crate::start::StartSink;
use quartet_runtime::Cancelled;
use quartet_runtime::hooks::{LiveTasks, ReadyQueue, SchedulerRecord, ScopeState, TaskInfo};
use std::any::Any;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;

/// Slot 0 of the ready queue is the nursery's body.
pub(super) const BODY: usize = 0;

/// A child in its slot: its task cell (`cell.rs`). (A `start`ed child's handshake is kept
/// aside, in `State::starts`: few children have one, and every slot would pay 16 bytes for it.)
pub(super) struct Child<'env> {
    pub(super) task: Rc<dyn ChildTask + 'env>,
}

impl Drop for Child<'_> {
    fn drop(&mut self) {
        // C2: the future goes before this `Rc` does (a no-op if it already finished).
        self.task.release();
    }
}

/// End of the free list.
const NO_SLOT: u32 = u32::MAX;

/// One slot of the ready queue (16 bytes: a nursery of 100,000 sleeping children keeps 100,000
/// of them): a child, or the next free slot (free slots form an intrusive list; the child's
/// `Rc` pointer is never null, which tells the two apart without a tag). Whether a child is
/// being polled is a bit in `State::busy`, not a field: a `bool` here would make every slot 24
/// bytes. Children borrow their slot's waker from the `ReadyQueue` (nothing is stored here); the
/// body's is `State::body_waker`, and the body's slot (`BODY`) is a `Free` slot that is never on
/// the free list.
pub(super) enum Slot<'env> {
    Child(Child<'env>),
    /// The next free slot (`NO_SLOT`: none).
    Free(u32),
}

impl<'env> Slot<'env> {
    pub(super) const fn empty() -> Self {
        Slot::Free(NO_SLOT)
    }

    /// The body's slot: never free, never polled as a child.
    pub(super) const fn body() -> Self {
        Slot::Free(NO_SLOT)
    }

    pub(super) fn child(&self) -> Option<&Child<'env>> {
        match self {
            Slot::Child(c) => Some(c),
            Slot::Free(_) => None,
        }
    }

    /// Takes the child out (the slot is then free, on no list: the nursery is closing).
    pub(super) fn take_child(&mut self) -> Option<Child<'env>> {
        match self {
            Slot::Child(_) => match std::mem::replace(self, Slot::Free(NO_SLOT)) {
                Slot::Child(c) => Some(c),
                Slot::Free(_) => None,
            },
            Slot::Free(_) => None,
        }
    }
}

pub(super) struct State<'env> {
    pub(super) slots: Vec<Slot<'env>>,
    /// By slot: set while its child is being polled, so a finished child cannot be reported
    /// twice (a byte per slot, beside `slots`: cheaper to test and set than a bit, and a field
    /// in `Slot` would cost 8).
    pub(super) busy: Vec<bool>,
    /// The handshakes of `start`ed children, by slot: dropped with their child's slot, after it.
    pub(super) starts: HashMap<u32, Rc<dyn StartSink + 'env>>,
    /// The body's waker (slot `BODY`), which `Run` makes once.
    pub(super) body_waker: Option<Waker>,
    /// The first free slot (an intrusive list through `Slot::Free`).
    pub(super) free: Option<u32>,
    pub(super) live: usize,
    pub(super) closed: bool,
    pub(super) failures: Vec<Failure>,
    pub(super) panic: Option<Box<dyn Any + Send>>,
    /// The first `Cancelled` a child ended with: re-raised if an outer scope owns it.
    pub(super) child_cancelled: Option<Cancelled>,
}

impl<'env> State<'env> {
    /// A slot for a new child: the first free one, or a new one.
    pub(super) fn take_free_slot(&mut self) -> usize {
        match self.free {
            Some(i) => {
                let next = match self.slots[i as usize] {
                    Slot::Free(next) => next,
                    Slot::Child(_) => unreachable!("a slot on the free list holds no child"),
                };
                self.free = (next != NO_SLOT).then_some(next);
                i as usize
            }
            None => {
                self.slots.push(Slot::empty());
                self.busy.push(false);
                self.slots.len() - 1
            }
        }
    }

    /// Takes slot `i`'s child out and puts the slot on the free list (one write of the slot).
    #[inline]
    pub(super) fn free_slot(&mut self, i: usize) -> Option<Child<'env>> {
        let next = self.free.replace(u32::try_from(i).expect("fewer than 2^32 children"));
        match std::mem::replace(&mut self.slots[i], Slot::Free(next.unwrap_or(NO_SLOT))) {
            Slot::Child(c) => Some(c),
            Slot::Free(_) => None,
        }
    }

    /// Whether slot `i`'s child is being polled.
    #[inline]
    pub(super) fn busy(&self, i: usize) -> bool {
        self.busy.get(i).copied().unwrap_or(false)
    }

    /// Marks slot `i`'s child as being polled (or not). The slot exists, and `busy` has an
    /// entry for every slot (`take_free_slot`, `Nursery::new`).
    #[inline]
    pub(super) fn set_busy(&mut self, i: usize, busy: bool) {
        self.busy[i] = busy;
    }
}

pub(super) struct Inner<'env> {
    /// The nursery in its runtime's task registry (H7). First field: dropped (and so removed
    /// from the registry) before anything it lists, R1.
    pub(super) record: OnceCell<SchedulerRecord>,
    pub(super) scope: Arc<ScopeState>,
    pub(super) ready: Option<std::sync::Arc<ReadyQueue>>,
    pub(super) state: RefCell<State<'env>>,
    /// The task that opened the nursery (`None`: the root future): the parent in children's
    /// task paths, shared by all of them.
    pub(super) owner: Option<Arc<TaskInfo>>,
}

/// The task-tree dump lists a nursery's children through its registry record.
impl LiveTasks for Inner<'_> {
    fn for_each_task(&self, f: &mut dyn FnMut(&TaskInfo, usize)) {
        // Busy (the dump was taken inside a nursery operation): list nothing rather than block.
        let Ok(st) = self.state.try_borrow() else { return };
        for (i, slot) in st.slots.iter().enumerate() {
            if let Some(child) = slot.child() {
                f(child.task.info(), i);
            }
        }
    }
}
