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
//! # Why a slab, not intrusive entries in `Sleep`
//! Entries live in a `Vec` owned by the wheel, linked into per-slot doubly-linked lists by index,
//! with freed entries on an intrusive free list. The `Vec` grows amortized and is reused, so a
//! timer costs no allocation in the steady state, and a [`Key`] is a (slab index, generation)
//! pair: a stale key (its timer fired or was removed, and the slot reused) finds a different
//! generation and touches nothing. The price: the slab keeps its high-water mark (48 bytes per
//! entry) for the runtime's life. Entries inside the pinned `Sleep` would save the slab's memory
//! but need `unsafe` pointer lists whose soundness depends on every owner's `Drop` running
//! (which a leaked scope does not guarantee): the slab needs no `unsafe` at all.
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
//! exploration). A slot's list is in arrival order (inserts and cascades append), which keeps
//! entries of one instant in registration order (by W1 they always share a list) but not
//! entries of different instants within the tick, nor a seeded order: each slot's share of a
//! `fire` is sorted (small, and by value: no slab lookups while sorting).

use std::cell::Cell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Bits of a tick per level: 64 slots.
const BITS: u32 = 6;
const SLOTS: usize = 1 << BITS;
const LEVELS: usize = 6;
/// Ticks beyond `elapsed`'s 2^36-tick block go to the overflow list.
const RANGE_BITS: u32 = BITS * LEVELS as u32;
/// List id of the overflow list (lists `0..OVERFLOW` are `level * SLOTS + slot`).
const OVERFLOW: u16 = (LEVELS * SLOTS) as u16;
/// List id of an entry on the free list.
const FREE: u16 = u16::MAX;
/// End of a list.
const NIL: u32 = u32::MAX;
/// Whether `next_wake` gives the exact minimum of `list` when it is the earliest: level 0 (one
/// tick, so a lower bound would make the park return at once) and the overflow list (rare and far).
fn exact(list: u16) -> bool {
    (list as usize) < SLOTS || list == OVERFLOW
}

/// One tick: the loop's 1 ms timer resolution.
const NS_PER_TICK: u64 = 1_000_000;

/// A registration: its slab index and the generation that index had when it was made (8
/// bytes: every armed `Sleep` holds one; [`Wheel::get_mut_at`] tells whether it is for an instant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    index: u32,
    generation: u32,
}

struct Entry<T> {
    /// The instant in nanoseconds from the origin (saturating, see [`Wheel::nanos`]): its tick
    /// without clock arithmetic in cascades, a cheap sort key, and the instant itself
    /// ([`Wheel::instant`]), so the entry stores no 16-byte `Instant` (48 bytes, not 64).
    ns: u64,
    order: u64,
    value: Option<T>,
    prev: u32,
    /// The next entry of its list, or of the free list.
    next: u32,
    /// Which list holds it (`FREE` when free).
    list: u16,
    generation: u32,
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List { head: NIL, tail: NIL };

/// A cached answer of `next_wake`, valid while `list` stays the earliest list (see the rules in
/// `insert`, `remove` and `fire`).
#[derive(Clone, Copy)]
struct Wake {
    at: Option<Instant>,
    list: u16,
}

pub(crate) struct Wheel<T> {
    entries: Vec<Entry<T>>,
    free: u32,
    /// Inline (3 KiB): an empty wheel allocates nothing, not even when the kernel swaps its
    /// timers out at shutdown.
    lists: [List; OVERFLOW as usize + 1],
    /// Bit `s` of `occupied[l]`: list `l * SLOTS + s` is not empty.
    occupied: [u64; LEVELS],
    /// The current tick: every entry's tick is at least this (or it sits in this tick's slot).
    elapsed: u64,
    origin: Instant,
    len: usize,
    wake: Cell<Option<Wake>>,
    /// (nanoseconds, order, index) of the entries due in one `fire`, reused: sorted by value,
    /// not through the slab.
    due: Vec<(u64, u64, u32)>,
    /// The exact instants of the entries more than 584 years after the origin (their `ns`
    /// saturates at `u64::MAX`), so that `next_deadline` stays exact for the mock clock.
    far: HashMap<u32, Instant>,
}

impl<T> Wheel<T> {
    /// An empty wheel whose tick 0 starts at `origin`; deadlines before `origin` count as tick 0.
    pub(crate) fn new(origin: Instant) -> Wheel<T> {
        Wheel {
            entries: Vec::new(),
            free: NIL,
            lists: [EMPTY; OVERFLOW as usize + 1],
            occupied: [0; LEVELS],
            elapsed: 0,
            origin,
            len: 0,
            wake: Cell::new(Some(Wake { at: None, list: FREE })),
            due: Vec::new(),
            far: HashMap::new(),
        }
    }

    /// Nanoseconds from the origin (saturating: 0 before it, `u64::MAX` after 584 years).
    fn nanos(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.origin);
        d.as_secs().saturating_mul(1_000_000_000).saturating_add(u64::from(d.subsec_nanos()))
    }

    /// The instant entry `i` was registered for, as the wheel keeps it: `ns` after the origin,
    /// the inverse of `nanos` for every instant from the origin to 584 years after it
    /// (`Instant` counts whole nanoseconds); later instants are kept in `far`. An instant
    /// before the origin comes back as the origin, which only makes it due at once, as it was.
    fn at_of(&self, i: u32) -> Instant {
        match self.entries[i as usize].ns {
            u64::MAX => self.far.get(&i).copied().unwrap_or(self.origin + Duration::from_nanos(u64::MAX)),
            ns => self.origin + Duration::from_nanos(ns),
        }
    }

    /// The value of a live registration made for `at` (see `at_of`); `None` if it is stale or
    /// for another instant.
    pub(crate) fn get_mut_at(&mut self, key: Key, at: Instant) -> Option<&mut T> {
        let i = self.live(key)?;
        let same = match self.entries[i].ns {
            u64::MAX => self.far.get(&(i as u32)) == Some(&at),
            ns => ns == self.nanos(at),
        };
        if !same {
            return None;
        }
        self.entries[i].value.as_mut()
    }

    #[cfg(test)]
    fn tick(&self, at: Instant) -> u64 {
        self.nanos(at) / NS_PER_TICK
    }

    /// The list for an entry due at tick `when`, relative to the current tick.
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

    /// Registers `value` for `at`; `order` ranks it among entries due at the same instant.
    pub(crate) fn insert(&mut self, at: Instant, order: u64, value: T) -> Key {
        let ns = self.nanos(at);
        let list = self.list_for(ns / NS_PER_TICK);
        let index = match self.free {
            NIL => {
                let index = u32::try_from(self.entries.len()).expect("more than 2^32 timers");
                self.entries.push(Entry { ns, order, value: None, prev: NIL, next: NIL, list: FREE, generation: 0 });
                index
            }
            index => {
                self.free = self.entries[index as usize].next;
                index
            }
        };
        if ns == u64::MAX {
            self.far.insert(index, at);
        }
        let e = &mut self.entries[index as usize];
        e.ns = ns;
        e.order = order;
        e.value = Some(value);
        let generation = e.generation;
        self.link(index, list);
        self.len += 1;
        // An earlier instant than the cached answer is in the earliest list now (the same list
        // if it is within that list's range), and exact; a later one changes nothing. (As the
        // entry stores it: an instant before the origin counts as the origin.)
        if let Some(w) = self.wake.get() {
            let stored = self.at_of(index);
            if w.at.is_none_or(|c| stored < c) {
                self.wake.set(Some(Wake { at: Some(stored), list }));
            }
        }
        Key { index, generation }
    }

    fn live(&self, key: Key) -> Option<usize> {
        let e = self.entries.get(key.index as usize)?;
        (e.generation == key.generation && e.list != FREE).then_some(key.index as usize)
    }

    /// Removes a live registration and returns its value; a stale key returns `None`.
    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let i = self.live(key)?;
        let list = self.entries[i].list;
        self.unlink(i as u32);
        if let Some(w) = self.wake.get() {
            // Only the earliest list's answer can go stale: for an exact list it is that list's
            // minimum, on levels 1-5 a lower bound that stays valid until the list empties.
            if w.list == list
                && (self.lists[list as usize].head == NIL || (exact(list) && w.at == Some(self.at_of(i as u32))))
            {
                self.wake.set(None);
            }
        }
        self.len -= 1;
        Some(self.release(i as u32))
    }

    /// Frees entry `i` (already unlinked) and returns its value.
    fn release(&mut self, i: u32) -> T {
        if self.entries[i as usize].ns == u64::MAX {
            self.far.remove(&i);
        }
        let e = &mut self.entries[i as usize];
        e.list = FREE;
        e.generation = e.generation.wrapping_add(1);
        e.next = self.free;
        self.free = i;
        e.value.take().expect("a live timer entry has a value")
    }

    fn link(&mut self, i: u32, list: u16) {
        let tail = self.lists[list as usize].tail;
        let e = &mut self.entries[i as usize];
        e.list = list;
        e.prev = tail;
        e.next = NIL;
        match tail {
            NIL => self.lists[list as usize].head = i,
            t => self.entries[t as usize].next = i,
        }
        self.lists[list as usize].tail = i;
        if list < OVERFLOW {
            self.occupied[list as usize / SLOTS] |= 1 << (list as usize % SLOTS);
        }
    }

    fn unlink(&mut self, i: u32) {
        let Entry { prev, next, list, .. } = self.entries[i as usize];
        match prev {
            NIL => self.lists[list as usize].head = next,
            p => self.entries[p as usize].next = next,
        }
        match next {
            NIL => self.lists[list as usize].tail = prev,
            n => self.entries[n as usize].prev = prev,
        }
        if self.lists[list as usize].head == NIL && list < OVERFLOW {
            self.occupied[list as usize / SLOTS] &= !(1 << (list as usize % SLOTS));
        }
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
        (self.lists[OVERFLOW as usize].head != NIL)
            .then(|| (OVERFLOW, ((self.elapsed >> RANGE_BITS) + 1) << RANGE_BITS))
    }

    fn min_of(&self, list: u16) -> Option<Instant> {
        let mut i = self.lists[list as usize].head;
        let mut min: Option<Instant> = None;
        while i != NIL {
            let at = self.at_of(i);
            min = Some(min.map_or(at, |m| m.min(at)));
            i = self.entries[i as usize].next;
        }
        min
    }

    /// The exact earliest registered instant, for the mock clock's jumps. It is `next_wake`
    /// unless the earliest slot is above level 0; then it scans that slot (the kernel's park
    /// needs only `next_wake`, so cancelling the earliest of many far timers never scans).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let at = self.next_wake();
        match self.wake.get() {
            Some(w) if !exact(w.list) && w.list != FREE => self.min_of(w.list),
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
            None => Wake { at: None, list: FREE },
            Some((list, start)) if !exact(list) => Wake { at: Some(self.origin + Duration::from_millis(start)), list },
            Some((list, _)) => Wake { at: self.min_of(list), list },
        };
        self.wake.set(Some(w));
        w.at
    }

    /// Takes every entry due at `now` (instant ≤ `now`), handing each to `out` with its instant,
    /// sorted by (instant, order).
    #[inline]
    pub(crate) fn fire(&mut self, now: Instant, mut out: impl FnMut(Instant, T)) {
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
            if (list as usize) >= SLOTS {
                self.cascade(list);
                continue;
            }
            let mut i = self.lists[list as usize].head;
            let mut rest: Option<Instant> = None;
            let first = self.due.len();
            while i != NIL {
                let e = &self.entries[i as usize];
                let next = e.next;
                // (Beyond 584 years `ns` saturates: such an entry compares its exact instant.)
                if e.ns <= now_ns && (e.ns != u64::MAX || self.at_of(i) <= now) {
                    self.due.push((e.ns, e.order, i));
                    self.unlink(i);
                } else {
                    let at = self.at_of(i);
                    rest = Some(rest.map_or(at, |m| m.min(at)));
                }
                i = next;
            }
            // Slots are taken in tick order, so sorting each slot's share orders them all. The
            // key packs (instant, order) into one `u128` (`order` is unique per timer, so the
            // index never breaks a tie): 13% fewer instructions in the sort than comparing the
            // tuples field by field (callgrind, `examples/timer_cost fire`).
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
        for &(_, _, i) in &due {
            let at = self.at_of(i);
            out(at, self.release(i));
        }
        due.clear();
        self.due = due;
    }

    /// Re-buckets every entry of `list` relative to the current tick (which has reached the
    /// list's first tick), keeping their relative order.
    fn cascade(&mut self, list: u16) {
        let mut i = self.lists[list as usize].head;
        self.lists[list as usize] = EMPTY;
        if list < OVERFLOW {
            self.occupied[list as usize / SLOTS] &= !(1 << (list as usize % SLOTS));
        }
        while i != NIL {
            let next = self.entries[i as usize].next;
            let to = self.list_for(self.entries[i as usize].ns / NS_PER_TICK);
            self.link(i, to);
            i = next;
        }
    }

    /// Registrations held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
#[path = "wheel_tests.rs"]
mod tests;
