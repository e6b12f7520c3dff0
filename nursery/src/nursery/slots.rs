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

/// One slot of the ready queue (24 bytes: a nursery of 100,000 sleeping children keeps 100,000
/// of them). Free slots form an intrusive list through `next_free`. Children borrow their
/// slot's waker from the `ReadyQueue` (nothing is stored here); the body's is `State::body_waker`.
pub(super) struct Slot<'env> {
    pub(super) child: Option<Child<'env>>,
    /// The next free slot while this one is free (`NO_SLOT`: none).
    next_free: u32,
    /// Set while the child is being polled, so a finished child cannot be reported twice.
    pub(super) busy: bool,
}

impl Slot<'_> {
    pub(super) const fn empty() -> Self {
        Slot { child: None, next_free: NO_SLOT, busy: false }
    }

    /// The body's slot: never free, never polled as a child.
    pub(super) const fn body() -> Self {
        Slot { child: None, next_free: NO_SLOT, busy: true }
    }
}

pub(super) struct State<'env> {
    pub(super) slots: Vec<Slot<'env>>,
    /// The handshakes of `start`ed children, by slot: dropped with their child's slot, after it.
    pub(super) starts: HashMap<u32, Rc<dyn StartSink + 'env>>,
    /// The body's waker (slot `BODY`), which `Run` makes once.
    pub(super) body_waker: Option<Waker>,
    /// The first free slot (an intrusive list through `Slot::next_free`).
    pub(super) free: Option<u32>,
    pub(super) live: usize,
    pub(super) closed: bool,
    pub(super) failures: Vec<Failure>,
    pub(super) panic: Option<Box<dyn Any + Send>>,
    /// The first `Cancelled` a child ended with: re-raised if an outer scope owns it.
    pub(super) child_cancelled: Option<Cancelled>,
}

impl State<'_> {
    /// A slot for a new child: the first free one, or a new one.
    pub(super) fn take_free_slot(&mut self) -> usize {
        match self.free {
            Some(i) => {
                let next = std::mem::replace(&mut self.slots[i as usize].next_free, NO_SLOT);
                self.free = (next != NO_SLOT).then_some(next);
                i as usize
            }
            None => {
                self.slots.push(Slot::empty());
                self.slots.len() - 1
            }
        }
    }

    pub(super) fn free_slot(&mut self, i: usize) {
        let next = self.free.replace(u32::try_from(i).expect("fewer than 2^32 children"));
        self.slots[i].next_free = next.unwrap_or(NO_SLOT);
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
            if let Some(child) = &slot.child {
                f(child.task.info(), i);
            }
        }
    }
}
