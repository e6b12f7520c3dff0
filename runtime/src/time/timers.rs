//! The timer registrations of one kernel: a timing wheel (`wheel.rs`) of entries (`entry.rs`)
//! that hold the wakers of the futures (and scope deadlines) that registered them. A data
//! structure only: it never reaches into the kernel; the kernel, `Sleep` and `Timer` call it.
//!
//! It adds to the wheel what the runtime needs around it: the order among timers due at the
//! same instant (registration order, or a seeded random one for schedule exploration), the cheap
//! re-registration of a waker (a `will_wake` check), a pool of boxed entries for the registrations
//! whose owner is not pinned (scope deadlines, the public `Timer`: named by a [`Key`]), and the
//! rule that wakers leave only by being returned to the caller, who drops them after releasing
//! its `RefCell` borrow (a waker's `Drop` may run user code that uses the runtime).

use super::entry::Entry;
use super::wheel::Wheel;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::Waker;
use std::time::{Duration, Instant};

/// A pooled registration: its pool index and the generation that index had when it was made
/// (8 bytes); a stale key (removed, or from another run) finds another generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    index: u32,
    generation: u32,
}

/// A pooled registration with the instant it was made for: scope deadlines (in `cancel`) compare
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

/// A pool slot: a boxed entry (its address is stable while the pool's `Vec` grows).
struct Slot {
    entry: Pin<Box<Entry>>,
    generation: u32,
    /// Held by a key (not on the free list).
    held: bool,
}

pub(crate) struct Timers {
    // Field order matters: the wheel is dropped (unlinking every entry) before the pool frees
    // its boxes (E1).
    wheel: Wheel,
    pool: Vec<Slot>,
    free: Vec<u32>,
    seq: u64,
    /// Schedule exploration: the PRNG state that orders timers due at the same instant.
    shuffle: Option<u64>,
    /// Closed at shutdown: nothing links any more (E3 in `entry.rs`).
    closed: bool,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers::new(Instant::now())
    }
}

impl Timers {
    /// Empty, counting ticks from `origin`: the runtime's clock (real or mock) at its start.
    pub(crate) fn new(origin: Instant) -> Timers {
        Timers { wheel: Wheel::new(origin), pool: Vec::new(), free: Vec::new(), seq: 0, shuffle: None, closed: false }
    }

    /// Orders timers due at the same instant by a PRNG seeded with `seed` instead of by
    /// registration (schedule exploration); `None` keeps registration order.
    pub(crate) fn shuffle(&mut self, seed: Option<u64>) {
        self.shuffle = seed;
    }

    fn order(&mut self) -> u64 {
        self.seq += 1;
        match &mut self.shuffle {
            // Random high half, registration order in the low half: still unique per timer.
            Some(state) => (crate::testing::rng::next(state) << 32) | (self.seq & 0xffff_ffff),
            None => self.seq,
        }
    }

    /// Registers the pinned `entry` for `at` with `waker`, or re-registers it: if it is linked
    /// for `at` already, only the waker is replaced (unless the old one wakes the same task).
    /// Returns the waker left over (the replaced one, or `waker` itself if unused), for the caller
    /// to drop after releasing the borrow: the caller clones it before, so no waker code runs
    /// while the timers are borrowed. After `close`, links nothing.
    ///
    /// # Safety
    /// If `entry` is linked, it is linked here (E3 in `entry.rs`); and its owner unlinks it
    /// (`disarm`) before its memory is freed or reused (E1).
    #[inline]
    pub(crate) unsafe fn arm(&mut self, entry: Pin<&Entry>, at: Instant, waker: Waker) -> Option<Waker> {
        let e = entry.get_ref();
        if self.closed {
            return Some(waker); // nothing is linked after `close`
        }
        let mut old = None;
        if e.is_linked() {
            if self.wheel.is_for(e, at) {
                return match e.waker.take() {
                    Some(w) if w.will_wake(&waker) => {
                        e.waker.set(Some(w));
                        Some(waker)
                    }
                    w => {
                        e.waker.set(Some(waker));
                        w
                    }
                };
            }
            // SAFETY: linked here (the caller's contract).
            old = unsafe { self.wheel.remove(e) };
        }
        let order = self.order();
        // SAFETY: `e` is unlinked now; it is pinned, and its owner unlinks it before freeing it
        // (the caller's contract), so it stays valid while linked.
        unsafe { self.wheel.insert(NonNull::from(e), at, order, waker) };
        old
    }

    /// Unlinks `entry` if it is linked, returning its waker for the caller to drop outside the
    /// borrow.
    ///
    /// # Safety
    /// If `entry` is linked, it is linked here (E3 in `entry.rs`).
    #[inline]
    pub(crate) unsafe fn disarm(&mut self, entry: &Entry) -> Option<Waker> {
        // SAFETY: the caller's contract.
        unsafe { self.wheel.remove(entry) }
    }

    /// Registers a pooled entry for `at` (scope deadlines, `Timer`).
    pub(crate) fn insert(&mut self, at: Instant, waker: &Waker) -> Key {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let index = u32::try_from(self.pool.len()).expect("more than 2^32 timers");
                self.pool.push(Slot { entry: Box::pin(Entry::new()), generation: 0, held: false });
                index
            }
        };
        let slot = &mut self.pool[index as usize];
        slot.held = true;
        let generation = slot.generation;
        let entry = slot.entry.as_ref();
        let p = NonNull::from(entry.get_ref());
        if !self.closed {
            let order = self.order();
            // SAFETY: a free slot's entry is unlinked (`remove` unlinks before freeing); the box
            // is pinned and is freed only when the pool is dropped, after the wheel (field order).
            unsafe { self.wheel.insert(p, at, order, waker.clone()) };
        }
        Key { index, generation }
    }

    /// [`Timers::insert`], keeping the instant with the key.
    pub(crate) fn insert_keyed(&mut self, at: Instant, waker: &Waker) -> TimerKey {
        TimerKey { key: self.insert(at, waker), at }
    }

    fn held(&self, key: Key) -> Option<&Slot> {
        self.pool.get(key.index as usize).filter(|s| s.held && s.generation == key.generation)
    }

    /// Re-registers `waker` if `key` is live (not fired) and was made for `at`; returns whether it
    /// was, and the replaced waker, which the caller drops after releasing the borrow.
    pub(crate) fn update(&mut self, key: Key, at: Instant, waker: &Waker) -> (bool, Option<Waker>) {
        let Some(slot) = self.held(key) else { return (false, None) };
        let e = slot.entry.as_ref().get_ref();
        if !e.is_linked() || !self.wheel.is_for(e, at) {
            return (false, None);
        }
        match e.waker.take() {
            Some(w) if w.will_wake(waker) => {
                e.waker.set(Some(w));
                (true, None)
            }
            w => {
                e.waker.set(Some(waker.clone()));
                (true, w)
            }
        }
    }

    /// Frees a pooled registration, returning its waker (if it had not fired) for the caller to
    /// drop outside the borrow. A stale key (removed, or from another run) removes nothing.
    pub(crate) fn remove(&mut self, key: Key) -> Option<Waker> {
        let slot = self.held(key)?;
        let e = NonNull::from(slot.entry.as_ref().get_ref());
        // SAFETY: `e` is a box of the pool, freed only with the pool; pooled entries are only
        // ever linked in this wheel.
        let w = unsafe { self.wheel.remove(e.as_ref()) };
        let slot = &mut self.pool[key.index as usize];
        slot.held = false;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(key.index);
        w
    }

    /// Shutdown: unlinks every entry (returning the wakers, for the caller to drop outside the
    /// borrow) and links none from now on, so that no entry stays linked once the core is
    /// uninstalled from its thread (E3 in `entry.rs`).
    pub(crate) fn close(&mut self) -> Vec<Waker> {
        self.closed = true;
        let mut out = Vec::new();
        self.wheel.clear(&mut out);
        out
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
    /// seeded order), telling `lag` how late each one fired and `hint` each one's owner hint (see
    /// `Entry::hint`).
    #[inline(always)] // hot in kernel::turn; also called by the cold idle path (testing)
    pub fn fire(
        &mut self,
        now: Instant,
        out: &mut Vec<Waker>,
        mut lag: impl FnMut(Duration),
        mut hint: impl FnMut(u32),
    ) {
        self.wheel.fire(now, |at, w, h| {
            lag(now - at);
            hint(h);
            out.push(w);
        });
    }

    /// Registrations currently held.
    pub fn len(&self) -> usize {
        self.wheel.len()
    }
}
