//! The timer registrations of one kernel: a map ordered by (deadline, sequence), each entry the
//! waker of the future (or scope deadline) that registered it. A data structure only: it never
//! reaches into the kernel; the kernel and `Timer` call it.

use std::collections::BTreeMap;
use std::task::Waker;
use std::time::Instant;

pub(crate) type Key = (Instant, u64);
/// A timer registration (for scope deadlines in `cancel`).
pub(crate) type TimerKey = Key;

#[derive(Default)]
pub(crate) struct Timers {
    map: BTreeMap<Key, Waker>,
    seq: u64,
    /// Schedule exploration: the PRNG state that orders timers due at the same instant.
    shuffle: Option<u64>,
}

impl Timers {
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
        let key = (at, order);
        self.map.insert(key, waker.clone());
        key
    }

    /// Re-registers `waker`; returns whether `key` exists, and the replaced waker, which the
    /// caller drops after releasing the borrow (a waker's `Drop` may run user code).
    pub(crate) fn update(&mut self, key: Key, waker: &Waker) -> (bool, Option<Waker>) {
        match self.map.get_mut(&key) {
            Some(w) if w.will_wake(waker) => (true, None),
            Some(w) => (true, Some(std::mem::replace(w, waker.clone()))),
            None => (false, None),
        }
    }

    /// Removes a registration, returning its waker for the caller to drop outside the borrow.
    pub(crate) fn remove(&mut self, key: Key) -> Option<Waker> {
        self.map.remove(&key)
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.map.first_key_value().map(|(k, _)| k.0)
    }

    /// Takes every registration due at `now` into `out`, telling `lag` how late each one fired.
    #[inline(always)] // hot in kernel::turn; also called by the cold idle path (testing)
    pub fn fire(&mut self, now: Instant, out: &mut Vec<Waker>, mut lag: impl FnMut(std::time::Duration)) {
        while let Some(entry) = self.map.first_entry() {
            if entry.key().0 > now {
                break;
            }
            lag(now - entry.key().0);
            out.push(entry.remove());
        }
    }

    /// Registrations currently held.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}
