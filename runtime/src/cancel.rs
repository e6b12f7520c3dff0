//! The cancel state that every operation reads when it is polled.
//!
//! A cancel scope's state ([`ScopeState`]) is shared (`Arc`) and may be cancelled from any thread.
//! While a scope's future is being polled it is on this thread's scope stack; children of a
//! nursery are polled from inside the nursery's poll, so they see exactly the scopes around the
//! nursery, never the spawner's inner scopes. An operation is cancelled if, walking the stack from
//! the innermost scope outwards, it meets a cancelled scope before it meets a shield (the shielded
//! scope itself still counts: its own cancel and deadline apply).
//!
//! Cancellation is level-triggered: the state stays cancelled, and every check keeps failing, until
//! the code leaves the scope.

use crate::error::{Cancelled, Reason};
use crate::sync::{Arc, AtomicBool, AtomicU64, Mutex, Ordering, lock};
use std::cell::RefCell;
use std::task::Waker;
use std::time::{Duration, Instant};

const NO_DEADLINE: u64 = u64::MAX;
/// Deadlines are stored as nanoseconds relative to [`epoch`] plus this bias, so that instants
/// before the epoch (a deadline computed before the first scope was ever used) round-trip
/// exactly instead of being clamped to the epoch. 2^62 ns is about 146 years either side.
const BIAS: u64 = 1 << 62;

/// The shared state of one cancel scope.
#[derive(Debug)]
pub struct ScopeState {
    cancelled: AtomicBool,
    shield: AtomicBool,
    /// [`to_nanos`] of the deadline, or `NO_DEADLINE`.
    deadline: AtomicU64,
    reason: Mutex<Option<Reason>>,
    owner: Mutex<Option<Waker>>,
}

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Encodes an instant as biased nanoseconds since [`epoch`]; monotonic in `t`.
fn to_nanos(t: Instant) -> u64 {
    let e = epoch();
    let clamp = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let n = if t >= e { BIAS.saturating_add(clamp(t - e)) } else { BIAS.saturating_sub(clamp(e - t)) };
    n.min(NO_DEADLINE - 1)
}

fn from_nanos(n: u64) -> Instant {
    let e = epoch();
    if n >= BIAS {
        e.checked_add(Duration::from_nanos(n - BIAS)).unwrap_or(e)
    } else {
        e.checked_sub(Duration::from_nanos(BIAS - n)).unwrap_or(e)
    }
}

impl ScopeState {
    /// A fresh, uncancelled, unshielded scope with no deadline.
    pub fn new() -> Arc<ScopeState> {
        Arc::new(ScopeState {
            cancelled: AtomicBool::new(false),
            shield: AtomicBool::new(false),
            deadline: AtomicU64::new(NO_DEADLINE),
            reason: Mutex::new(None),
            owner: Mutex::new(None),
        })
    }

    /// Cancels the scope (the first reason is kept) and wakes the task that polls it. Any thread.
    pub fn cancel(&self, reason: Reason) {
        {
            let mut r = lock(&self.reason);
            if r.is_none() {
                *r = Some(reason);
            }
        }
        self.cancelled.store(true, Ordering::SeqCst);
        self.wake_owner();
    }

    /// Withdraws a cancellation (and its reason).
    ///
    /// Only for a private scope whose cancellation stops applying to the code inside it: the
    /// scope of a `start` call once the task has called `started` and moved into its nursery
    /// (Trio re-parents it). A scope users can see is never un-cancelled.
    pub fn uncancel(&self) {
        self.cancelled.store(false, Ordering::SeqCst);
        *lock(&self.reason) = None;
    }

    fn wake_owner(&self) {
        let w = lock(&self.owner).clone();
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Records the waker of the task that polls the scope. Call before checking the state, so a
    /// concurrent `cancel` either is seen by the check or finds this waker.
    pub fn register(&self, waker: &Waker) {
        let old = {
            let mut o = lock(&self.owner);
            match &*o {
                Some(w) if w.will_wake(waker) => None,
                _ => o.replace(waker.clone()),
            }
        };
        // Dropped after the lock is released: a waker's `Drop` may run user code (even cancel this
        // scope, which takes the lock).
        drop(old);
    }

    /// True once `cancel` was called or the deadline passed.
    pub fn cancel_called(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst) || self.deadline_passed(Instant::now())
    }

    fn deadline_passed(&self, now: Instant) -> bool {
        let d = self.deadline.load(Ordering::Acquire);
        d != NO_DEADLINE && to_nanos(now) >= d
    }

    /// The reason of the cancellation, if there is one.
    pub fn reason(&self) -> Option<Reason> {
        if let Some(r) = lock(&self.reason).clone() {
            return Some(r);
        }
        self.deadline_passed(Instant::now()).then_some(Reason::Deadline)
    }

    /// Shields (or unshields) code inside from cancellation of outer scopes.
    pub fn set_shield(&self, on: bool) {
        if self.shield.swap(on, Ordering::SeqCst) != on {
            self.wake_owner();
        }
    }

    /// Whether the scope is shielded.
    pub fn shield(&self) -> bool {
        self.shield.load(Ordering::SeqCst)
    }

    /// Sets or clears the deadline. The owner is woken so a new timer is armed.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        let n = deadline.map_or(NO_DEADLINE, to_nanos);
        self.deadline.store(n, Ordering::Release);
        self.wake_owner();
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        let d = self.deadline.load(Ordering::Acquire);
        (d != NO_DEADLINE).then(|| from_nanos(d))
    }

    fn cancelled_now(&self, now: Instant) -> Option<Cancelled> {
        self.cancelled_lazy(&mut Some(now))
    }

    /// Like `cancelled_now`, reading the clock only if this scope has a deadline (the hot path of
    /// every op poll: most scopes have none).
    fn cancelled_lazy(&self, now: &mut Option<Instant>) -> Option<Cancelled> {
        let cancelled = self.cancelled.load(Ordering::SeqCst) || {
            let d = self.deadline.load(Ordering::Acquire);
            d != NO_DEADLINE && to_nanos(*now.get_or_insert_with(Instant::now)) >= d
        };
        cancelled.then(|| Cancelled::new(self.reason().unwrap_or(Reason::Explicit)))
    }
}

crate::sync::thread_local! {
    static STACK: RefCell<Vec<Arc<ScopeState>>> = const { RefCell::new(Vec::new()) };
}

/// Keeps a scope on this thread's stack while its future is polled; pops it on drop (also on
/// unwind).
#[derive(Debug)]
#[must_use]
pub struct Entered {
    depth: usize,
}

/// Pushes `state` as the innermost scope until the returned guard drops.
pub fn enter(state: &Arc<ScopeState>) -> Entered {
    STACK.with(|s| {
        let mut s = s.borrow_mut();
        s.push(state.clone());
        Entered { depth: s.len() }
    })
}

impl Drop for Entered {
    fn drop(&mut self) {
        STACK.with(|s| s.borrow_mut().truncate(self.depth - 1));
    }
}

/// Hides the whole stack (for code that must see no scope, such as a fresh child task root).
pub fn isolate() -> Isolated {
    Isolated { saved: STACK.with(|s| std::mem::take(&mut *s.borrow_mut())) }
}

/// Restores the stack hidden by [`isolate`].
#[derive(Debug)]
#[must_use]
pub struct Isolated {
    saved: Vec<Arc<ScopeState>>,
}

impl Drop for Isolated {
    fn drop(&mut self) {
        STACK.with(|s| *s.borrow_mut() = std::mem::take(&mut self.saved));
    }
}

fn walk<R>(skip_innermost: usize, mut f: impl FnMut(&ScopeState) -> Option<R>) -> Option<R> {
    STACK.with(|s| {
        let s = s.borrow();
        let end = s.len().saturating_sub(skip_innermost);
        for st in s[..end].iter().rev() {
            if let Some(r) = f(st) {
                return Some(r);
            }
            if st.shield() {
                break;
            }
        }
        None
    })
}

/// The cancellation that applies to code polled right now, if any.
pub fn current() -> Option<Cancelled> {
    let mut now = None;
    walk(0, |st| st.cancelled_lazy(&mut now))
}

/// Whether a cancellation from outside the innermost scope reaches it (its parent's view).
pub fn outer_cancelled() -> bool {
    let now = Instant::now();
    STACK.with(|s| {
        let s = s.borrow();
        match s.last() {
            Some(inner) if inner.shield() => false,
            _ => drop_last_walk(&s, now),
        }
    })
}

fn drop_last_walk(s: &[Arc<ScopeState>], now: Instant) -> bool {
    let end = s.len().saturating_sub(1);
    for st in s[..end].iter().rev() {
        if st.cancelled_now(now).is_some() {
            return true;
        }
        if st.shield() {
            break;
        }
    }
    false
}

/// The earliest deadline that applies to code polled right now (Trio's
/// `current_effective_deadline`), or `None` if nothing bounds it. A cancelled scope counts as a
/// deadline in the past.
pub fn effective_deadline() -> Option<Instant> {
    let mut best: Option<Instant> = None;
    let now = Instant::now();
    walk::<()>(0, |st| {
        let d = if st.cancelled.load(Ordering::SeqCst) { Some(now) } else { st.deadline() };
        if let Some(d) = d {
            best = Some(best.map_or(d, |b| b.min(d)));
        }
        None
    });
    best
}
