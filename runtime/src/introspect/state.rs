//! The introspection state of one runtime, kept in the kernel's `Core`, and the builder's settings
//! for it. A data structure: it never reaches back into the kernel (the front-ends call it).
//!
//! - the **instrument** (`Option`), and `hooked`, the one `bool` a poll reads: true when an
//!   instrument or a watchdog wants to see polls;
//! - the **task registry**: one record per live nursery child (its `TaskInfo`, the nursery it
//!   belongs to, where its ready flag is). Insert at spawn, remove at exit: a slab, so the
//!   per-task cost is a push and a pop, no hashing and no per-poll work.
//! - the **watchdog**'s shared slot (see `watchdog.rs`).

use super::instrument::Instrument;
use super::watchdog::{self, Watchdog};
use super::{OpInfo, TaskOutcome};
use crate::kernel::waker::ReadyQueue;
use crate::task::TaskInfo;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The builder's introspection settings.
#[derive(Clone, Default)]
pub(crate) struct Config {
    pub instrument: Option<Arc<dyn Instrument>>,
    pub watchdog: Option<watchdog::Config>,
    pub dump_on_sigusr1: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("instrument", &self.instrument.is_some())
            .field("watchdog", &self.watchdog.is_some())
            .field("dump_on_sigusr1", &self.dump_on_sigusr1)
            .finish()
    }
}

impl Config {
    /// The runtime's state; `handle` reaches the runtime being built (for `SIGUSR1` dumps).
    pub fn build(&self, handle: super::DumpHandle) -> State {
        let watchdog = self.watchdog.clone().map(Watchdog::start);
        let signal = if self.dump_on_sigusr1 {
            super::remote::enable_sigusr1(handle).map_err(|e| eprintln!("quartet: {e}")).ok()
        } else {
            None
        };
        State {
            _signal: signal,
            hooked: self.instrument.is_some() || watchdog.is_some(),
            instrument: self.instrument.clone(),
            watchdog,
            registry: RefCell::new(Registry::default()),
        }
    }
}

/// One live task, for the dump.
pub(crate) struct Entry {
    pub info: TaskInfo,
    /// The nursery's scope, by address (only compared, never dereferenced).
    pub nursery: usize,
    pub queue: Arc<ReadyQueue>,
    pub slot: usize,
}

/// The live tasks of one runtime: a slab whose free slots form an intrusive list (no second
/// vector to grow).
#[derive(Default)]
pub(crate) struct Registry {
    entries: Vec<Slot>,
    /// The first free slot.
    free: Option<u32>,
}

enum Slot {
    Full(Entry),
    /// Free; the next free slot.
    Free(Option<u32>),
}

impl Registry {
    fn insert(&mut self, e: Entry) -> u32 {
        match self.free {
            Some(i) => {
                let next = match &self.entries[i as usize] {
                    Slot::Free(next) => *next,
                    Slot::Full(_) => None, // unreachable by construction; never overwrite a task
                };
                self.free = next;
                self.entries[i as usize] = Slot::Full(e);
                i
            }
            None => {
                self.entries.push(Slot::Full(e));
                u32::try_from(self.entries.len() - 1).unwrap_or(u32::MAX)
            }
        }
    }

    fn remove(&mut self, index: u32, id: u64) -> Option<Entry> {
        let slot = self.entries.get_mut(index as usize)?;
        if !matches!(slot, Slot::Full(e) if e.info.id() == id) {
            return None;
        }
        match std::mem::replace(slot, Slot::Free(self.free.replace(index))) {
            Slot::Full(e) => Some(e),
            Slot::Free(_) => None,
        }
    }

    fn get_mut(&mut self, index: u32, id: u64) -> Option<&mut Entry> {
        match self.entries.get_mut(index as usize)? {
            Slot::Full(e) if e.info.id() == id => Some(e),
            _ => None,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter_map(|s| match s {
            Slot::Full(e) => Some(e),
            Slot::Free(_) => None,
        })
    }
}

/// Per-runtime introspection state, in the kernel's `Core`.
pub(crate) struct State {
    /// An instrument or a watchdog wants to see polls: the one branch of a poll.
    pub hooked: bool,
    pub instrument: Option<Arc<dyn Instrument>>,
    pub watchdog: Option<Watchdog>,
    pub registry: RefCell<Registry>,
    /// Keeps this runtime among the `SIGUSR1` dump targets (held for its `Drop`).
    pub _signal: Option<super::remote::SignalDump>,
}

impl State {
    pub fn op_submitted(&self, op: u64, info: impl FnOnce() -> OpInfo) {
        if let Some(i) = &self.instrument {
            i.op_submitted(op, &info());
        }
    }

    pub fn before_poll(&self, task: Option<&TaskInfo>) {
        if let Some(w) = &self.watchdog {
            w.enter(task);
        }
        if let (Some(i), Some(t)) = (&self.instrument, task) {
            i.before_task_poll(t);
        }
    }

    pub fn after_poll(&self, task: Option<&TaskInfo>) {
        if let (Some(i), Some(t)) = (&self.instrument, task) {
            i.after_task_poll(t);
        }
        if let Some(w) = &self.watchdog {
            w.leave();
        }
    }

    /// Before the ring turn: returns when it started, if an instrument wants the wait time.
    pub fn before_io_wait(&self, wait: Option<Option<Duration>>) -> Option<Instant> {
        let i = self.instrument.as_ref()?;
        i.before_io_wait(wait.unwrap_or(Some(Duration::ZERO)));
        Some(Instant::now())
    }

    pub fn after_io_wait(&self, started: Option<Instant>, completed: &[(u64, i32)]) {
        let (Some(i), Some(started)) = (&self.instrument, started) else { return };
        i.after_io_wait(started.elapsed());
        for &(op, res) in completed {
            i.op_completed(op, res);
        }
    }
}

/// A nursery child's record in its runtime's task registry (for the task-tree dump and the
/// instrument's spawn/exit events). Made when the task is spawned, dropped with the task.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::hooks::{ReadyQueue, ScopeState, TaskRecord};
/// use quartet_runtime::task::TaskInfo;
/// quartet_runtime::run(async {
///     let queue = ReadyQueue::new().unwrap();
///     let scope = ScopeState::new();
///     let info = TaskInfo::new(Some("child".into()), std::panic::Location::caller());
///     let record = TaskRecord::register(&info, &queue, 1, &scope);
///     // ... poll the child in slot 1 of `queue` ...
///     record.exited(|| quartet_runtime::introspect::TaskOutcome::Completed);
/// }).unwrap();
/// ```
#[derive(Debug)]
pub struct TaskRecord {
    index: u32,
    id: u64,
}

impl TaskRecord {
    /// Registers a task of the nursery whose scope is `nursery`, polled from slot `slot` of
    /// `queue`; reports `task_spawned` to the instrument. Outside `run` it records nothing.
    pub fn register(
        info: &TaskInfo,
        queue: &Arc<ReadyQueue>,
        slot: usize,
        nursery: &Arc<crate::cancel::ScopeState>,
    ) -> TaskRecord {
        let index = crate::kernel::context::with_core(|c| {
            let s = &c.introspect;
            let entry =
                Entry { info: info.clone(), nursery: Arc::as_ptr(nursery) as usize, queue: queue.clone(), slot };
            let index = s.registry.borrow_mut().insert(entry);
            if let Some(i) = &s.instrument {
                queue.label(slot, info.id());
                i.task_spawned(info);
            }
            index
        });
        TaskRecord { index: index.unwrap_or(u32::MAX), id: info.id() }
    }

    /// The task will be polled from slot `slot` of `queue` rather than the one it was registered
    /// with.
    pub fn moved_to(&self, queue: &Arc<ReadyQueue>, slot: usize) {
        crate::kernel::context::with_core(|c| {
            let s = &c.introspect;
            let mut reg = s.registry.borrow_mut();
            if let Some(e) = reg.get_mut(self.index, self.id) {
                e.slot = slot;
                if s.instrument.is_some() {
                    queue.label(slot, self.id);
                }
            }
        });
    }

    /// The task finished with `outcome` (computed only if an instrument is registered); removes
    /// the record.
    pub fn exited(self, outcome: impl FnOnce() -> TaskOutcome) {
        let taken = self.take_with_instrument();
        std::mem::forget(self); // removed already: skip `Drop`'s second lookup (it owns nothing)
        let Some((entry, instrument)) = taken else { return };
        if let Some(i) = instrument {
            i.task_exited(&entry.info, &outcome());
        }
    }

    fn take_with_instrument(&self) -> Option<(Entry, Option<Arc<dyn Instrument>>)> {
        if self.index == u32::MAX {
            return None;
        }
        crate::kernel::context::with_core(|c| {
            let e = c.introspect.registry.borrow_mut().remove(self.index, self.id)?;
            Some((e, c.introspect.instrument.clone()))
        })
        .flatten()
    }

    fn take(&self) -> Option<Entry> {
        if self.index == u32::MAX {
            return None;
        }
        crate::kernel::context::with_core(|c| c.introspect.registry.borrow_mut().remove(self.index, self.id)).flatten()
    }
}

impl Drop for TaskRecord {
    fn drop(&mut self) {
        // Dropped without `exited` (the nursery was dropped): just forget the task. The entry is
        // dropped outside the registry's borrow (its `Arc<ReadyQueue>` may be the last).
        let entry = self.take();
        drop(entry);
    }
}

/// Called by a `ReadyQueue` on the kernel thread when a labelled slot is newly queued.
pub(crate) fn scheduled(task: u64) {
    let instrument = crate::kernel::context::with_core(|c| c.introspect.instrument.clone()).flatten();
    if let Some(i) = instrument {
        i.task_scheduled(task);
    }
}
