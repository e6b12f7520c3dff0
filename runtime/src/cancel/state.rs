//! The shared, thread-safe half of a cancel scope: what `cancel()` may touch from any thread.
//!
//! A [`ScopeState`] holds the flags a cancel request sets (cancelled, graceful, shield, deadline,
//! reason) and the list of its *activations*: the tree nodes where the scope currently runs, each
//! with the [`CancelSink`] of the thread that owns that tree. `cancel()` sets the flag first and
//! then tells every activation's thread to run the walk; an activation attaches itself first and
//! reads the flag after. Both steps go through `watchers`' mutex, so either the activation sees
//! the flag, or the canceller sees the activation (loom: `runtime/tests/loom_cancel_scope.rs`).
//!
//! # Invariants
//! - **S1** `cancelled` only ever goes from false to true (a scope is never un-cancelled; an
//!   expired deadline sets it too). The first reason is kept.
//! - **S2** After `cancel`, `set_shield`, `set_deadline` or `cancel_gracefully` returns, every
//!   activation attached before it has been walked, or has a walk request queued to its thread.

use crate::error::Reason;
use crate::sync::{AtomicBool, AtomicU64, Mutex, Ordering, lock};
// std's Arc (see `super`): loom models the atomics and the mutexes, not the pointer.
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const NO_DEADLINE: u64 = u64::MAX;
/// Deadlines are stored as nanoseconds relative to [`epoch`] plus this bias, so that instants
/// before the epoch round-trip exactly instead of being clamped. 2^62 ns is about 146 years.
const BIAS: u64 = 1 << 62;

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Encodes an instant as biased nanoseconds since [`epoch`]; monotonic in `t`.
pub(crate) fn to_nanos(t: Instant) -> u64 {
    let e = epoch();
    let clamp = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let n = if t >= e { BIAS.saturating_add(clamp(t - e)) } else { BIAS.saturating_sub(clamp(e - t)) };
    n.min(NO_DEADLINE - 1)
}

pub(crate) fn from_nanos(n: u64) -> Instant {
    let e = epoch();
    if n >= BIAS {
        e.checked_add(Duration::from_nanos(n - BIAS)).unwrap_or(e)
    } else {
        e.checked_sub(Duration::from_nanos(BIAS - n)).unwrap_or(e)
    }
}

/// Where a cancel request for an activation goes: the thread that owns the activation's tree.
pub trait CancelSink: Send + Sync + 'static {
    /// The id of the thread (kernel) whose tree holds the activation.
    fn owner(&self) -> u64;
    /// Asks the owner to bring its activations of `state` up to date (run the walk, re-arm the
    /// deadline). Called from any thread other than the owner; must not block.
    fn request_walk(&self, state: Arc<ScopeState>);
}

/// One activation of a scope, as seen from other threads.
pub(crate) struct Watcher {
    pub id: u64,
    pub sink: Option<Arc<dyn CancelSink>>,
    pub owner: u64,
    /// The activation's node in the owner's tree (an encoded `NodeId`).
    pub node: u64,
}

/// The shared state of one cancel scope.
pub struct ScopeState {
    cancelled: AtomicBool,
    graceful: AtomicBool,
    /// Turns a graceful cancellation that reaches this scope into a cancellation of it.
    cancel_on_graceful: AtomicBool,
    shield: AtomicBool,
    /// [`to_nanos`] of the deadline, or `NO_DEADLINE`.
    deadline: AtomicU64,
    /// [`to_nanos`] of the end of a graceful cancellation's grace period, or `NO_DEADLINE`.
    grace_end: AtomicU64,
    reason: Mutex<Option<Reason>>,
    watchers: Mutex<Vec<Watcher>>,
    next_watcher: AtomicU64,
    /// Set by the first [`ScopeState::watch`]: the scope has run (Trio's `_has_been_entered`).
    entered: AtomicBool,
}

impl std::fmt::Debug for ScopeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeState")
            .field("cancelled", &self.cancel_flag())
            .field("graceful", &self.graceful_flag())
            .field("shield", &self.shield())
            .field("deadline", &self.deadline())
            .finish_non_exhaustive()
    }
}

/// A registration of an activation with its scope; detach it with [`ScopeState::unwatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchId(u64);

impl ScopeState {
    /// A fresh, uncancelled, unshielded scope with no deadline.
    pub fn new() -> Arc<ScopeState> {
        Arc::new(ScopeState {
            cancelled: AtomicBool::new(false),
            graceful: AtomicBool::new(false),
            cancel_on_graceful: AtomicBool::new(false),
            shield: AtomicBool::new(false),
            deadline: AtomicU64::new(NO_DEADLINE),
            grace_end: AtomicU64::new(NO_DEADLINE),
            reason: Mutex::new(None),
            watchers: Mutex::new(Vec::new()),
            next_watcher: AtomicU64::new(1),
            entered: AtomicBool::new(false),
        })
    }

    /// Registers an activation owned by thread `owner`, reached through `sink` from other
    /// threads. Call it *before* reading the flags for the activation's initial state (S2).
    ///
    /// `node` identifies the activation to its owner (any value; `0` if there is none).
    pub fn watch(&self, owner: u64, sink: Option<Arc<dyn CancelSink>>, node: u64) -> WatchId {
        let id = self.next_watcher.fetch_add(1, Ordering::Relaxed);
        lock(&self.watchers).push(Watcher { id, sink, owner, node });
        self.entered.store(true, Ordering::SeqCst);
        WatchId(id)
    }

    /// The nodes of the activations owned by `owner`.
    pub(crate) fn nodes_of(&self, owner: u64) -> Vec<u64> {
        lock(&self.watchers).iter().filter(|w| w.owner == owner).map(|w| w.node).collect()
    }

    /// Removes an activation's registration.
    pub fn unwatch(&self, id: WatchId) {
        let removed = {
            let mut w = lock(&self.watchers);
            w.iter().position(|w| w.id == id.0).map(|pos| w.swap_remove(pos))
        };
        drop(removed); // the sink's Arc is released outside the lock
    }

    /// Tells every activation on another thread to update; returns whether one is on `here`.
    fn notify(self: &Arc<Self>, here: u64) -> bool {
        if crate::mutant::planted("cancel_skip_remote_walk") {
            return false; // planted bug: other threads' activations are never told (S2)
        }
        let mut local = false;
        let remote: Vec<Arc<dyn CancelSink>> = {
            let w = lock(&self.watchers);
            w.iter()
                .filter_map(|w| {
                    if w.owner == here && here != 0 {
                        local = true;
                        None
                    } else {
                        w.sink.clone()
                    }
                })
                .collect()
        };
        // Planted bug (scripts/mutants.sh): a canceller with a local activation (a core whose
        // body failed, cancelling its group) walks only its own and never tells the other cores.
        if local && crate::mutant::planted("cancel_local_skips_remote") {
            return true;
        }
        for sink in remote {
            sink.request_walk(self.clone());
        }
        local
    }

    /// Cancels the scope (the first reason is kept, S1). Any thread. Returns whether an
    /// activation lives on the calling thread (the caller then walks it; see `super::cancel`).
    pub(crate) fn set_cancelled(self: &Arc<Self>, reason: Reason, here: u64) -> bool {
        {
            let mut r = lock(&self.reason);
            if r.is_none() {
                *r = Some(reason);
            }
        }
        self.cancelled.store(true, Ordering::SeqCst);
        self.notify(here)
    }

    /// Requests graceful cancellation. Returns whether an activation lives on this thread.
    pub(crate) fn set_graceful(self: &Arc<Self>, grace: Duration, here: u64) -> bool {
        let end = crate::now().checked_add(grace).map_or(NO_DEADLINE - 1, to_nanos);
        self.grace_end.fetch_min(end, Ordering::SeqCst);
        self.graceful.store(true, Ordering::SeqCst);
        self.notify(here)
    }

    /// Sets the shield. Returns whether an activation lives on this thread.
    pub(crate) fn store_shield(self: &Arc<Self>, on: bool, here: u64) -> bool {
        self.shield.store(on, Ordering::SeqCst);
        self.notify(here)
    }

    /// Sets or clears the deadline. Returns whether an activation lives on this thread.
    pub(crate) fn store_deadline(self: &Arc<Self>, deadline: Option<Instant>, here: u64) -> bool {
        self.deadline.store(deadline.map_or(NO_DEADLINE, to_nanos), Ordering::SeqCst);
        self.notify(here)
    }

    /// The flag alone: true once `cancel` ran or an expired deadline was noticed.
    pub fn cancel_flag(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// True once graceful cancellation was requested.
    pub fn graceful_flag(&self) -> bool {
        self.graceful.load(Ordering::SeqCst)
    }

    /// Makes a graceful cancellation that reaches this scope cancel it (reason
    /// [`Reason::ShutdownRequested`]): for waits that should end as soon as a shutdown is
    /// requested (an idle connection's next read, an accept loop). Set it before the scope runs.
    pub fn set_cancel_on_graceful(&self, on: bool) {
        self.cancel_on_graceful.store(on, Ordering::SeqCst);
    }

    /// See [`ScopeState::set_cancel_on_graceful`].
    pub fn cancel_on_graceful(&self) -> bool {
        self.cancel_on_graceful.load(Ordering::SeqCst)
    }

    /// True once `cancel` was called or the deadline (or a grace period) passed while the scope
    /// was open or before it was first entered. Permanent (S1). As in Trio, a deadline that passes
    /// after every activation has ended is not a cancel request: the block it bounded is over.
    pub fn cancel_called(&self) -> bool {
        self.cancel_flag() || self.expired_while_live().is_some()
    }

    /// [`cancel_called`](Self::cancel_called), and if it is true only because the deadline (or a
    /// grace period) has passed while the scope is live, cancels the scope now with that reason
    /// (Trio's `cancel_called` property calls `cancel()`): a cancellation that was observed stays
    /// (S1), even if the deadline is moved later before its timer fired. Not for code that runs
    /// while this thread's tree is borrowed.
    pub fn latch_cancel_called(self: &Arc<Self>) -> bool {
        if self.cancel_flag() {
            return true;
        }
        match self.expired_while_live() {
            Some(reason) => {
                self.cancel(reason);
                true
            }
            None => false,
        }
    }

    /// Whether an activation ever attached (Trio's `_has_been_entered`). An activation attached
    /// by this thread stored it on this thread, so `Relaxed` sees that one.
    pub(crate) fn has_been_entered(&self) -> bool {
        self.entered.load(Ordering::Relaxed)
    }

    /// [`expired`](Self::expired) now, if the scope is open or was never entered.
    fn expired_while_live(&self) -> Option<Reason> {
        let live = !self.entered.load(Ordering::SeqCst) || !lock(&self.watchers).is_empty();
        if live { self.expired(crate::now()) } else { None }
    }

    /// If the deadline or the grace period has passed at `now`, the reason to cancel with.
    pub fn expired(&self, now: Instant) -> Option<Reason> {
        let n = to_nanos(now);
        let d = self.deadline.load(Ordering::SeqCst);
        if d != NO_DEADLINE && n >= d {
            return Some(Reason::Deadline);
        }
        let g = self.grace_end.load(Ordering::SeqCst);
        (g != NO_DEADLINE && n >= g).then_some(Reason::GracePeriodEnded)
    }

    /// The earlier of the deadline and the end of a grace period: when the timer must fire.
    pub fn wake_at(&self) -> Option<Instant> {
        let d = self.deadline.load(Ordering::SeqCst).min(self.grace_end.load(Ordering::SeqCst));
        (d != NO_DEADLINE).then(|| from_nanos(d))
    }

    /// The reason of the cancellation, if there is one.
    pub fn reason(&self) -> Option<Reason> {
        if let Some(r) = lock(&self.reason).clone() {
            return Some(r);
        }
        self.expired_while_live()
    }

    /// Whether the scope is shielded.
    pub fn shield(&self) -> bool {
        self.shield.load(Ordering::SeqCst)
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        let d = self.deadline.load(Ordering::SeqCst);
        (d != NO_DEADLINE).then(|| from_nanos(d))
    }

    /// How many activations are attached (for tests and diagnostics).
    pub fn activations(&self) -> usize {
        lock(&self.watchers).len()
    }
}
