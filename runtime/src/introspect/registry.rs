//! The task registry: one record per live *scheduler* (a nursery), not per task.
//!
//! Why per scheduler: a nursery already keeps its children, their `TaskInfo`s and their ready
//! slots; a second per-task copy in the runtime would cost every spawn a registry insert, a
//! `TaskInfo` clone and an `Arc` clone, and every task ~80 bytes, for a dump that may never be
//! taken. So a scheduler registers itself once, with a pointer to something that can list its
//! tasks ([`LiveTasks`]), and the dump asks it. Spawning and exiting cost nothing here unless an
//! instrument is registered (then [`SchedulerRecord::spawned`]/[`exited`](SchedulerRecord::exited)
//! report the events, with the instrument cached in the record: no thread-local lookup per task).
//!
//! # Invariants
//! - **R1** An entry's `tasks` pointer is valid from [`SchedulerRecord::register`] until the
//!   record is dropped (the caller's `unsafe` contract); the record's `Drop` removes the entry, so
//!   the registry never holds a pointer past that point.
//! - **R2** The registry is only read on the kernel thread (I1), and `for_each_task` never calls
//!   back into introspection, so the registry's borrow during the listing cannot be re-entered.

use super::TaskOutcome;
use super::instrument::Instrument;
use crate::cancel::ScopeState;
use crate::kernel::waker::ReadyQueue;
use crate::task::TaskInfo;
use std::sync::Arc;

/// What a scheduler shows the task-tree dump: its live tasks.
///
/// # Examples
/// ```
/// use quartet_runtime::hooks::LiveTasks;
/// use quartet_runtime::task::TaskInfo;
/// struct OneTask(TaskInfo);
/// impl LiveTasks for OneTask {
///     fn for_each_task(&self, f: &mut dyn FnMut(&TaskInfo, usize)) {
///         f(&self.0, 1) // polled from slot 1 of the scheduler's ReadyQueue
///     }
/// }
/// ```
pub trait LiveTasks {
    /// Calls `f` with each live task and the slot of the scheduler's [`ReadyQueue`] it is polled
    /// from. It may be called at any time on the kernel thread, also while the scheduler is in
    /// the middle of its own poll (a task may take a dump): list what can be read without
    /// conflicting borrows and skip the rest. It must not call into the runtime.
    fn for_each_task(&self, f: &mut dyn FnMut(&TaskInfo, usize));
}

/// One registered scheduler.
pub(crate) struct Entry {
    /// R1: valid while the entry exists.
    tasks: *const (dyn LiveTasks + 'static),
    /// The scheduler's scope, by address (only compared, never dereferenced).
    pub nursery: usize,
    pub queue: Arc<ReadyQueue>,
    serial: u64,
}

impl Entry {
    /// Calls `f` with each of the scheduler's live tasks and its slot.
    pub fn for_each_task(&self, f: &mut dyn FnMut(&TaskInfo, usize)) {
        // Only a shared reference is made; `LiveTasks` implementors use interior mutability
        // with checked borrows.
        // SAFETY: R1: the pointer is valid while the entry is in the registry, and the record's
        // `Drop` removes the entry before the pointee may be freed (`SchedulerRecord::register`).
        let tasks = unsafe { &*self.tasks };
        tasks.for_each_task(f);
    }
}

/// The registered schedulers of one runtime: a slab whose free slots form an intrusive list.
#[derive(Default)]
pub(crate) struct Registry {
    entries: Vec<Slot>,
    free: Option<u32>,
    serial: u64,
}

enum Slot {
    Full(Entry),
    Free(Option<u32>),
}

impl Registry {
    fn insert(&mut self, mut e: Entry) -> (u32, u64) {
        self.serial += 1;
        e.serial = self.serial;
        let serial = e.serial;
        let index = match self.free {
            Some(i) if matches!(self.entries.get(i as usize), Some(Slot::Free(_))) => {
                let Slot::Free(next) = std::mem::replace(&mut self.entries[i as usize], Slot::Full(e)) else {
                    unreachable!("checked to be free")
                };
                self.free = next;
                i
            }
            _ => {
                self.entries.push(Slot::Full(e));
                u32::try_from(self.entries.len() - 1).unwrap_or(u32::MAX)
            }
        };
        (index, serial)
    }

    fn remove(&mut self, index: u32, serial: u64) -> Option<Entry> {
        let slot = self.entries.get_mut(index as usize)?;
        if !matches!(slot, Slot::Full(e) if e.serial == serial) {
            return None;
        }
        match std::mem::replace(slot, Slot::Free(self.free.replace(index))) {
            Slot::Full(e) => Some(e),
            Slot::Free(_) => None,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter_map(|s| match s {
            Slot::Full(e) => Some(e),
            Slot::Free(_) => None,
        })
    }
}

/// A scheduler's (nursery's) record in its runtime's task registry: the task-tree dump lists the
/// scheduler's tasks through it, and instruments see their spawns and exits (H7 in `hooks`).
/// Dropping it removes the scheduler from the registry.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::hooks::{LiveTasks, ReadyQueue, ScopeState, SchedulerRecord};
/// use quartet_runtime::introspect::TaskOutcome;
/// use quartet_runtime::task::TaskInfo;
/// struct Tasks(Vec<TaskInfo>);
/// impl LiveTasks for Tasks {
///     fn for_each_task(&self, f: &mut dyn FnMut(&TaskInfo, usize)) {
///         for (slot, info) in self.0.iter().enumerate() {
///             f(info, slot + 1);
///         }
///     }
/// }
/// quartet_runtime::run(async {
///     let queue = ReadyQueue::new().unwrap();
///     let scope = ScopeState::new();
///     let tasks = Box::new(Tasks(vec![TaskInfo::new(Some("child".into()), std::panic::Location::caller())]));
///     // SAFETY: `tasks` outlives `record` (dropped first, below) and is not moved (boxed).
///     let record = unsafe { SchedulerRecord::register(&*tasks as &dyn LiveTasks, &queue, &scope) };
///     record.spawned(&tasks.0[0], 1);
///     // ... poll the child in slot 1 of `queue` ...
///     record.exited(&tasks.0[0], || TaskOutcome::Completed);
///     drop(record);
/// }).unwrap();
/// ```
pub struct SchedulerRecord {
    index: u32,
    serial: u64,
    core: u64,
    queue: Option<Arc<ReadyQueue>>,
    /// Cached at registration (fixed for a runtime's life): spawn and exit need no lookup.
    instrument: Option<Arc<dyn Instrument>>,
}

impl std::fmt::Debug for SchedulerRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerRecord").field("registered", &(self.core != 0)).finish()
    }
}

impl SchedulerRecord {
    /// Registers a scheduler whose scope is `scope` and whose tasks are polled from slots of
    /// `queue`; `tasks` lists them for the dump. Outside `run` it records nothing.
    ///
    /// # Safety
    /// `tasks` must point to a value that stays valid, at the same address, until the returned
    /// record is dropped (e.g. a field of the `Rc` that also owns the record, declared so that
    /// the record drops first). Its `for_each_task` may be called until then, on this thread.
    pub unsafe fn register<'a>(
        tasks: *const (dyn LiveTasks + 'a),
        queue: &Arc<ReadyQueue>,
        scope: &Arc<ScopeState>,
    ) -> SchedulerRecord {
        // SAFETY: only the trait object's lifetime bound changes (same fat-pointer layout). The
        // caller keeps the pointee valid until the record drops, which removes the entry (R1),
        // so the erased bound is never relied on past the pointee's life.
        let tasks: *const (dyn LiveTasks + 'static) = unsafe { std::mem::transmute(tasks) };
        let registered = crate::kernel::context::with_core(|c| {
            let entry = Entry { tasks, nursery: Arc::as_ptr(scope) as usize, queue: queue.clone(), serial: 0 };
            let (index, serial) = c.introspect.registry.borrow_mut().insert(entry);
            (index, serial, c.id, c.introspect.instrument.clone())
        });
        match registered {
            Some((index, serial, core, instrument)) => {
                SchedulerRecord { index, serial, core, queue: instrument.is_some().then(|| queue.clone()), instrument }
            }
            None => SchedulerRecord { index: u32::MAX, serial: 0, core: 0, queue: None, instrument: None },
        }
    }

    /// A task was accepted into slot `slot`: the instrument's `task_spawned` (if one is
    /// registered; otherwise this is one branch).
    #[inline]
    pub fn spawned(&self, info: &TaskInfo, slot: usize) {
        if let (Some(i), Some(q)) = (&self.instrument, &self.queue) {
            q.label(slot, info.id());
            i.task_spawned(info);
        }
    }

    /// A task finished with `outcome` (computed only if an instrument is registered).
    #[inline]
    pub fn exited(&self, info: &TaskInfo, outcome: impl FnOnce() -> TaskOutcome) {
        if let Some(i) = &self.instrument {
            i.task_exited(info, &outcome());
        }
    }
}

impl Drop for SchedulerRecord {
    fn drop(&mut self) {
        if self.core == 0 {
            return;
        }
        // R1: out of the registry before the pointee can go. The entry is dropped outside the
        // registry's borrow (its `Arc<ReadyQueue>` may be the last).
        let entry = crate::kernel::context::with_core(|c| {
            if c.id == self.core { c.introspect.registry.borrow_mut().remove(self.index, self.serial) } else { None }
        })
        .flatten();
        drop(entry);
    }
}
