//! A hierarchical timing wheel with 1 ms slots: the storage under [`Timers`](super::Timers).
//!
//! # Why a wheel
//! A timer is inserted and, far more often than it fires, cancelled (a timeout around an
//! operation that completes first, a sleep dropped by a cancelled scope). An ordered map pays
//! O(log n) and a node allocation for each; the wheel pays O(1) and no allocation: it buckets each
//! deadline by its millisecond tick, counted from an origin, into one of 64 slots on one of six
//! levels (level `l` slots are 64^l ms wide, so the wheel spans 2^36 ms, about 2.2 years), and
//! anything beyond that (a `Duration::MAX` sleep, clamped to ~30 years) into an overflow list.
//! As time advances, the earliest occupied slot of a higher level is *cascaded*: its entries are
//! re-bucketed on lower levels relative to the new current tick, until they reach level 0, whose
//! slots hold one tick each (tokio's wheel, with the same level arithmetic: an entry's level is
//! given by the highest bit in which its tick differs from the current one).
//!
//! # Intrusive entries
//! The wheel owns no entries: it links [`Entry`] nodes that live in their owners (a pinned
//! `Sleep`, or a pool box in `Timers` for scope deadlines) into per-slot doubly-linked lists, by
//! raw pointer, so a timer costs no allocation and no record of its own (see `entry.rs` for why,
//! and for the rules E1-E3 that make the pointers valid). Insert and remove are O(1); a fired or
//! removed entry is marked unlinked, so its owner knows that the wheel holds no pointer to it.
//!
//! # Exact deadlines
//! The slot is only a bucket: every entry keeps its exact `Instant` (as nanoseconds from the
//! origin, or in a side map beyond 584 years), an entry fires only once
//! that instant has passed (an entry in the current tick whose instant is still ahead stays), and
//! [`Wheel::next_deadline`] is exact, for the mock clock, which jumps to the next deadline. The
//! kernel's park uses [`Wheel::next_wake`], which is exact when the earliest slot is on level 0 and
//! otherwise may be the start of the earliest slot (a lower bound, where [`Wheel::fire`] cascades
//! it), so that cancelling the earliest of many far timers never costs a scan of their slot.
//!
//! # Invariants
//! - **W1** An entry on level `l` has its tick in the same 64^(l+1)-tick block as `elapsed` (the
//!   current tick) and in a slot at or after `elapsed`'s on that level (after, for `l` ≥ 1); an
//!   overflow entry is in a later 2^36-tick block. So the lowest occupied slot of the lowest
//!   occupied level is the earliest, found with one `trailing_zeros` per level, and `fire`
//!   reaches every slot before its first tick passes.
//! - **W2** `elapsed` never passes the tick of a `now` given to `fire`; an entry whose tick is
//!   already behind it goes into `elapsed`'s level-0 slot.
//! - **W3** The cached `next_wake`, when set, belongs to the earliest list, is at or after that
//!   list's first tick and at or before its earliest instant, and is that instant for level 0 and
//!   the overflow list (`exact`). So waking at it always lets `fire` fire or cascade something.
//!
//! # Order
//! Entries that fire in one call are handed out sorted by (instant, `order`), the order the
//! caller gave at insertion (registration order, or a seeded random order for schedule
//! exploration). A slot's list is in no particular order (inserts push at the front), so each
//! slot's share of a `fire` is sorted (small, and by value: no entry is touched while sorting).

use super::entry::{Entry, FIRED, UNLINKED};
use crate::kernel::prefetch::{AHEAD, prefetch};
use std::cell::Cell;
use std::collections::HashMap;
use std::ptr::NonNull;
use std::task::Waker;
use std::time::{Duration, Instant};

/// Bits of a tick per level: 64 slots.
const BITS: u32 = 6;
const SLOTS: usize = 1 << BITS;
const LEVELS: usize = 6;
/// Ticks beyond `elapsed`'s 2^36-tick block go to the overflow list.
const RANGE_BITS: u32 = BITS * LEVELS as u32;
/// List id of the overflow list (lists `0..OVERFLOW` are `level * SLOTS + slot`).
const OVERFLOW: u16 = (LEVELS * SLOTS) as u16;
/// `Wake::list` when no list is the earliest (the wheel is empty).
const NONE: u16 = UNLINKED;
/// Whether `next_wake` gives the exact minimum of `list` when it is the earliest: level 0 (one
/// tick, so a lower bound would make the park return at once) and the overflow list (rare and far).
fn exact(list: u16) -> bool {
    (list as usize) < SLOTS || list == OVERFLOW
}

/// One tick: the loop's 1 ms timer resolution.
const NS_PER_TICK: u64 = 1_000_000;

type Link = Option<NonNull<Entry>>;

/// A cached answer of `next_wake`, valid while `list` stays the earliest list (see the rules in
/// `insert`, `remove` and `fire`).
#[derive(Clone, Copy)]
struct Wake {
    at: Option<Instant>,
    list: u16,
}

/// The entry behind a link.
///
/// # Safety
/// `e` must be linked in a wheel, or in that wheel's `due` list: by E1 (`entry.rs`) its owner has
/// not freed or moved it, and by E2 only shared references to it exist.
#[inline(always)]
unsafe fn entry<'a>(e: NonNull<Entry>) -> &'a Entry {
    // SAFETY: the caller's contract above: `e` points to a live, pinned entry.
    unsafe { e.as_ref() }
}

pub(crate) struct Wheel {
    /// The head of each list. Inline (3 KiB): an empty wheel allocates nothing.
    lists: [Link; OVERFLOW as usize + 1],
    /// Bit `s` of `occupied[l]`: list `l * SLOTS + s` is not empty.
    occupied: [u64; LEVELS],
    /// The current tick: every entry's tick is at least this (or it sits in this tick's slot).
    elapsed: u64,
    origin: Instant,
    len: usize,
    wake: Cell<Option<Wake>>,
    /// (nanoseconds, order, entry) of the entries due in one `fire`, reused: sorted by value.
    due: Vec<(u64, u64, NonNull<Entry>)>,
    /// The exact instants of the entries more than 584 years after the origin (their `ns`
    /// saturates at `u64::MAX`), so that `next_deadline` stays exact for the mock clock.
    far: HashMap<NonNull<Entry>, Instant>,
}

impl Wheel {
    /// An empty wheel whose tick 0 starts at `origin`; deadlines before `origin` count as tick 0.
    pub(crate) fn new(origin: Instant) -> Wheel {
        Wheel {
            lists: [None; OVERFLOW as usize + 1],
            occupied: [0; LEVELS],
            elapsed: 0,
            origin,
            len: 0,
            wake: Cell::new(Some(Wake { at: None, list: NONE })),
            due: Vec::new(),
            far: HashMap::new(),
        }
    }

    /// Nanoseconds from the origin (saturating: 0 before it, `u64::MAX` after 584 years).
    pub(crate) fn nanos(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.origin);
        d.as_secs().saturating_mul(1_000_000_000).saturating_add(u64::from(d.subsec_nanos()))
    }

    /// The instant `e` was registered for, as the wheel keeps it: `ns` after the origin, the
    /// inverse of `nanos` for every instant from the origin to 584 years after it (`Instant`
    /// counts whole nanoseconds); later instants are kept in `far`. An instant before the origin
    /// comes back as the origin, which only makes it due at once, as it was.
    fn at_of(&self, e: NonNull<Entry>, ns: u64) -> Instant {
        match ns {
            u64::MAX => self.far.get(&e).copied().unwrap_or(self.origin + Duration::from_nanos(u64::MAX)),
            ns => self.origin + Duration::from_nanos(ns),
        }
    }

    /// Whether a linked `e` was registered for exactly `at` (see `at_of`).
    pub(crate) fn is_for(&self, e: &Entry, at: Instant) -> bool {
        match e.ns.get() {
            u64::MAX => self.far.get(&NonNull::from(e)) == Some(&at),
            ns => ns == self.nanos(at),
        }
    }

    #[cfg(test)]
    fn tick(&self, at: Instant) -> u64 {
        self.nanos(at) / NS_PER_TICK
    }

    /// The list for an entry due at tick `when`, relative to the current tick.
    #[inline]
    fn list_for(&self, when: u64) -> u16 {
        let when = when.max(self.elapsed);
        let diff = (self.elapsed ^ when) | (SLOTS as u64 - 1);
        if diff >> RANGE_BITS != 0 {
            return OVERFLOW;
        }
        let level = (63 - diff.leading_zeros()) / BITS;
        let slot = (when >> (level * BITS)) as usize & (SLOTS - 1);
        (level as usize * SLOTS + slot) as u16
    }

    /// Links `e` for `at` with `waker`; `order` ranks it among entries due at the same instant.
    ///
    /// # Safety
    /// `e` is not linked, and it stays where it is and alive until this wheel unlinks it (it fires,
    /// or is passed to `remove`, or the wheel is closed or dropped): E1 in `entry.rs`.
    pub(crate) unsafe fn insert(&mut self, e: NonNull<Entry>, at: Instant, order: u64, waker: Waker) {
        // SAFETY: the caller's contract: `e` is alive and pinned.
        let r = unsafe { entry(e) };
        debug_assert!(!r.is_linked());
        let ns = self.nanos(at);
        let list = self.list_for(ns / NS_PER_TICK);
        if ns == u64::MAX {
            self.far.insert(e, at);
        }
        r.ns.set(ns);
        r.order.set(order);
        r.waker.set(Some(waker));
        self.link(e, r, list);
        self.len += 1;
        // An earlier instant than the cached answer is in the earliest list now (the same list
        // if it is within that list's range), and exact; a later one changes nothing. (As the
        // entry stores it: an instant before the origin counts as the origin.)
        if let Some(w) = self.wake.get() {
            let stored = self.at_of(e, ns);
            if w.at.is_none_or(|c| stored < c) {
                self.wake.set(Some(Wake { at: Some(stored), list }));
            }
        }
    }

    /// Unlinks `e` if it is linked, returning its waker (for the caller to drop outside any
    /// borrow); an entry that fired or was removed returns `None`.
    ///
    /// # Safety
    /// If `e` is linked, it is linked in this wheel (E3 in `entry.rs`).
    pub(crate) unsafe fn remove(&mut self, e: &Entry) -> Option<Waker> {
        if !e.is_linked() {
            return None;
        }
        let list = e.list.get();
        let p = NonNull::from(e);
        let stored = self.at_of(p, e.ns.get());
        // SAFETY: `e` is linked in this wheel (the caller's contract), so its neighbours are too.
        unsafe { self.unlink(e, list) };
        if let Some(w) = self.wake.get() {
            // Only the earliest list's answer can go stale: for an exact list it is that list's
            // minimum, on levels 1-5 a lower bound that stays valid until the list empties.
            if w.list == list && (self.lists[list as usize].is_none() || (exact(list) && w.at == Some(stored))) {
                self.wake.set(None);
            }
        }
        if e.ns.get() == u64::MAX {
            self.far.remove(&p);
        }
        self.len -= 1;
        e.waker.take()
    }

    /// Pushes `e` at the front of `list`.
    fn link(&mut self, p: NonNull<Entry>, e: &Entry, list: u16) {
        let head = self.lists[list as usize];
        e.list.set(list);
        e.prev.set(None);
        e.next.set(head);
        if let Some(h) = head {
            // SAFETY: `h` heads a list of this wheel, so it is linked (E1).
            unsafe { entry(h) }.prev.set(Some(p));
        }
        self.lists[list as usize] = Some(p);
        if list < OVERFLOW {
            self.occupied[list as usize / SLOTS] |= 1 << (list as usize % SLOTS);
        }
    }

    /// Takes `e` out of `list` (which holds it) and marks it unlinked.
    ///
    /// # Safety
    /// `e` is linked in `list` of this wheel.
    unsafe fn unlink(&mut self, e: &Entry, list: u16) {
        let (prev, next) = (e.prev.get(), e.next.get());
        match prev {
            None => self.lists[list as usize] = next,
            // SAFETY: `e`'s neighbours are in the same list of this wheel, so linked (E1).
            Some(p) => unsafe { entry(p) }.next.set(next),
        }
        if let Some(n) = next {
            // SAFETY: as above.
            unsafe { entry(n) }.prev.set(prev);
        }
        if self.lists[list as usize].is_none() && list < OVERFLOW {
            self.occupied[list as usize / SLOTS] &= !(1 << (list as usize % SLOTS));
        }
        e.list.set(UNLINKED);
    }

    /// Empties `list` (returning its first entry) without marking its entries: the caller re-links
    /// or unlinks every one of them.
    fn take_list(&mut self, list: u16) -> Link {
        if list < OVERFLOW {
            self.occupied[list as usize / SLOTS] &= !(1 << (list as usize % SLOTS));
        }
        self.lists[list as usize].take()
    }

    /// The earliest non-empty list and the first tick it covers.
    fn earliest(&self) -> Option<(u16, u64)> {
        for level in 0..LEVELS {
            let bits = self.occupied[level];
            if bits != 0 {
                let slot = u64::from(bits.trailing_zeros());
                let shift = level as u32 * BITS;
                let block = self.elapsed >> (shift + BITS) << (shift + BITS);
                return Some(((level * SLOTS) as u16 + slot as u16, block + (slot << shift)));
            }
        }
        self.lists[OVERFLOW as usize].is_some().then(|| (OVERFLOW, ((self.elapsed >> RANGE_BITS) + 1) << RANGE_BITS))
    }

    fn min_of(&self, list: u16) -> Option<Instant> {
        let mut i = self.lists[list as usize];
        let mut min: Option<Instant> = None;
        while let Some(p) = i {
            // SAFETY: `p` is in a list of this wheel, so linked (E1).
            let e = unsafe { entry(p) };
            let at = self.at_of(p, e.ns.get());
            min = Some(min.map_or(at, |m| m.min(at)));
            i = e.next.get();
        }
        min
    }

    /// The exact earliest registered instant, for the mock clock's jumps. It is `next_wake`
    /// unless the earliest slot is above level 0; then it scans that slot (the kernel's park
    /// needs only `next_wake`, so cancelling the earliest of many far timers never scans).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let at = self.next_wake();
        match self.wake.get() {
            Some(w) if !exact(w.list) && w.list != NONE => self.min_of(w.list),
            _ => at,
        }
    }

    /// When the kernel must next run [`fire`](Self::fire): never after the earliest registered
    /// instant, and either exactly it (earliest slot on level 0, or the overflow list) or the
    /// start of the earliest slot, where `fire` cascades that slot. Cached between changes.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        if let Some(w) = self.wake.get() {
            return w.at;
        }
        let w = match self.earliest() {
            None => Wake { at: None, list: NONE },
            Some((list, start)) if !exact(list) => Wake { at: Some(self.origin + Duration::from_millis(start)), list },
            Some((list, _)) => Wake { at: self.min_of(list), list },
        };
        self.wake.set(Some(w));
        w.at
    }

    /// Takes every entry due at `now` (instant ≤ `now`), handing each one's instant, waker and
    /// owner's `hint` to `out`, sorted by (instant, order). Fired entries are unlinked before `out`
    /// sees them.
    #[inline]
    pub(crate) fn fire(&mut self, now: Instant, mut out: impl FnMut(Instant, Waker, u32)) {
        let now_ns = self.nanos(now);
        let now_tick = now_ns / NS_PER_TICK;
        let mut changed = false;
        let mut wake = None;
        while let Some((list, start)) = self.earliest() {
            if start > now_tick {
                break;
            }
            changed = true;
            self.elapsed = self.elapsed.max(start);
            let mut i = self.take_list(list);
            if (list as usize) >= SLOTS {
                // Re-bucket every entry relative to the current tick (which reached the list's
                // first tick).
                while let Some(p) = i {
                    // SAFETY: `p` was in the list just taken: still linked in the sense of E1 (its
                    // owner unlinks only through this wheel, which is borrowed here).
                    let e = unsafe { entry(p) };
                    i = e.next.get();
                    let to = self.list_for(e.ns.get() / NS_PER_TICK);
                    self.link(p, e, to);
                }
                continue;
            }
            let mut rest: Option<Instant> = None;
            let first = self.due.len();
            while let Some(p) = i {
                // SAFETY: as in the cascade above.
                let e = unsafe { entry(p) };
                i = e.next.get();
                let ns = e.ns.get();
                // (Beyond 584 years `ns` saturates: such an entry compares its exact instant.)
                if ns <= now_ns && (ns != u64::MAX || self.at_of(p, ns) <= now) {
                    self.due.push((ns, e.order.get(), p));
                    e.list.set(FIRED);
                } else {
                    let at = self.at_of(p, ns);
                    rest = Some(rest.map_or(at, |m| m.min(at)));
                    self.link(p, e, list);
                }
            }
            // Slots are taken in tick order, so sorting each slot's share orders them all. The
            // key packs (instant, order) into one `u128` (`order` is unique per timer, so the
            // pointer never breaks a tie).
            self.due[first..].sort_unstable_by_key(|&(ns, order, _)| (u128::from(ns) << 64) | u128::from(order));
            if rest.is_some() {
                // The current tick's entries not yet due: everything else is later, and the
                // earliest of these is the next wake.
                wake = Some(Wake { at: rest, list });
                break;
            }
        }
        self.elapsed = self.elapsed.max(now_tick);
        if !changed {
            return;
        }
        self.wake.set(wake);
        let mut due = std::mem::take(&mut self.due);
        self.len -= due.len();
        for (k, &(ns, _, p)) in due.iter().enumerate() {
            // The entries were last touched before the sort: start loading one a few ahead.
            if let Some(&(_, _, ahead)) = due.get(k + AHEAD) {
                prefetch(ahead.as_ptr());
            }
            let at = self.at_of(p, ns);
            if ns == u64::MAX {
                self.far.remove(&p);
            }
            // SAFETY: `p` was unlinked by this call, with no code of its owner run since (`out`
            // is the kernel's collector): E1 still holds for it.
            let e = unsafe { entry(p) };
            if let Some(w) = e.waker.take() {
                out(at, w, e.hint.get());
            }
        }
        due.clear();
        self.due = due;
    }

    /// Unlinks every entry, pushing their wakers to `out` (for the caller to drop outside any
    /// borrow). Used at shutdown and on drop: afterwards no entry is linked here (E3).
    pub(crate) fn clear(&mut self, out: &mut Vec<Waker>) {
        for list in 0..self.lists.len() {
            let mut i = self.lists[list].take();
            while let Some(p) = i {
                // SAFETY: `p` was in a list of this wheel, so linked (E1).
                let e = unsafe { entry(p) };
                i = e.next.get();
                e.list.set(UNLINKED);
                out.extend(e.waker.take());
            }
        }
        self.occupied = [0; LEVELS];
        self.far.clear();
        self.len = 0;
        self.wake.set(Some(Wake { at: None, list: NONE }));
    }

    /// Registrations held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Wheel {
    fn drop(&mut self) {
        let mut wakers = Vec::new();
        self.clear(&mut wakers);
        // A waker's drop may run user code; nothing here is borrowed any more.
        drop(wakers);
    }
}

#[cfg(test)]
#[path = "wheel_tests.rs"]
mod tests;
