//! The timer registrations of one kernel: a timing wheel (`wheel.rs`) of the wakers of the
//! futures (and scope deadlines) that registered them. A data structure only: it never reaches
//! into the kernel; the kernel and `Timer` call it.
//!
//! It adds to the wheel what the runtime needs around it: the order among timers due at the
//! same instant (registration order, or a seeded random one for schedule exploration), the cheap
//! re-registration of a waker (`update`, a `will_wake` check), and the rule that wakers leave
//! only by being returned to the caller, who drops them after releasing its `RefCell` borrow (a
//! waker's `Drop` may run user code that uses the runtime).

use super::wheel::Wheel;
use std::task::Waker;
use std::time::{Duration, Instant};

/// A timer registration: its slab index and generation (see `wheel.rs`), 8 bytes.
pub(crate) type Key = super::wheel::Key;

/// A timer registration with the instant it was made for: scope deadlines (in `cancel`) compare
/// it with the deadline they want without a lookup in the wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    pub(crate) key: Key,
    at: Instant,
}

impl TimerKey {
    /// The instant this registration was made for.
    pub(crate) fn at(&self) -> Instant {
        self.at
    }
}

pub(crate) struct Timers {
    wheel: Wheel<Waker>,
    seq: u64,
    /// Schedule exploration: the PRNG state that orders timers due at the same instant.
    shuffle: Option<u64>,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers::new(Instant::now())
    }
}

impl Timers {
    /// Empty, counting ticks from `origin`: the runtime's clock (real or mock) at its start.
    pub(crate) fn new(origin: Instant) -> Timers {
        Timers { wheel: Wheel::new(origin), seq: 0, shuffle: None }
    }

    /// Orders timers due at the same instant by a PRNG seeded with `seed` instead of by
    /// registration (schedule exploration); `None` keeps registration order.
    pub(crate) fn shuffle(&mut self, seed: Option<u64>) {
        self.shuffle = seed;
    }

    pub(crate) fn insert(&mut self, at: Instant, waker: &Waker) -> Key {
        self.seq += 1;
        let mut order = self.seq;
        if let Some(state) = &mut self.shuffle {
            // Random high half, registration order in the low half: still unique per timer.
            order = (crate::testing::rng::next(state) << 32) | (self.seq & 0xffff_ffff);
        }
        self.wheel.insert(at, order, waker.clone())
    }

    /// [`Timers::insert`], keeping the instant with the key.
    pub(crate) fn insert_keyed(&mut self, at: Instant, waker: &Waker) -> TimerKey {
        TimerKey { key: self.insert(at, waker), at }
    }

    /// Re-registers `waker` if `key` is live and was made for `at`; returns whether it was, and
    /// the replaced waker, which the caller drops after releasing the borrow (a waker's `Drop`
    /// may run user code).
    pub(crate) fn update(&mut self, key: Key, at: Instant, waker: &Waker) -> (bool, Option<Waker>) {
        match self.wheel.get_mut_at(key, at) {
            Some(w) if w.will_wake(waker) => (true, None),
            Some(w) => (true, Some(std::mem::replace(w, waker.clone()))),
            None => (false, None),
        }
    }

    /// Removes a registration, returning its waker for the caller to drop outside the borrow.
    /// A stale key (fired, removed, or from another run) removes nothing.
    pub(crate) fn remove(&mut self, key: Key) -> Option<Waker> {
        self.wheel.remove(key)
    }

    /// The exact earliest deadline (the mock clock jumps to it).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.wheel.next_deadline()
    }

    /// When the kernel's park must end to fire or cascade timers: never after the earliest
    /// deadline (exactly it when that is within the current 64 ms).
    #[inline]
    pub fn next_wake(&self) -> Option<Instant> {
        self.wheel.next_wake()
    }

    /// Takes every registration due at `now` into `out` (in deadline order, then registration or
    /// seeded order), telling `lag` how late each one fired.
    #[inline(always)] // hot in kernel::turn; also called by the cold idle path (testing)
    pub fn fire(&mut self, now: Instant, out: &mut Vec<Waker>, mut lag: impl FnMut(Duration)) {
        self.wheel.fire(now, |at, w| {
            lag(now - at);
            out.push(w);
        });
    }

    /// Registrations currently held.
    pub fn len(&self) -> usize {
        self.wheel.len()
    }
}
