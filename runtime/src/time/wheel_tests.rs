//! Unit tests of the timing wheel: cascades, the overflow list, exact deadlines, removal,
//! same-instant order, and a randomized comparison against an ordered map. Entries live in
//! pinned boxes here (as in `Timers`' pool); each carries its value as its waker's data pointer.

use super::*;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{RawWaker, RawWakerVTable};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const VTABLE: RawWakerVTable = RawWakerVTable::new(|p| RawWaker::new(p, &VTABLE), |_| {}, |_| {}, |_| {});

fn value_waker(v: u32) -> Waker {
    // SAFETY: the vtable's functions do nothing with the data pointer (a plain number).
    unsafe { Waker::from_raw(RawWaker::new(v as usize as *const (), &VTABLE)) }
}

fn value_of(w: Waker) -> u32 {
    w.data() as usize as u32
}

type Key = usize;

/// A wheel and the entries it may link (dropped after it: field order).
struct W {
    w: Wheel,
    entries: Vec<Pin<Box<Entry>>>,
}

impl std::ops::Deref for W {
    type Target = Wheel;
    fn deref(&self) -> &Wheel {
        &self.w
    }
}

impl W {
    fn new(t0: Instant) -> W {
        W { w: Wheel::new(t0), entries: Vec::new() }
    }

    fn insert(&mut self, at: Instant, order: u64, v: u32) -> Key {
        self.entries.push(Box::pin(Entry::new()));
        let k = self.entries.len() - 1;
        self.insert_again(k, at, order, v);
        k
    }

    /// Links an unlinked entry again.
    fn insert_again(&mut self, k: Key, at: Instant, order: u64, v: u32) {
        let p = NonNull::from(self.entries[k].as_ref().get_ref());
        assert!(!self.entries[k].is_linked());
        // SAFETY: unlinked; the box is pinned and outlives the wheel (field order).
        unsafe { self.w.insert(p, at, order, value_waker(v)) };
    }

    fn remove(&mut self, k: Key) -> Option<u32> {
        // SAFETY: the entries here are only ever linked in this wheel.
        unsafe { self.w.remove(self.entries[k].as_ref().get_ref()) }.map(value_of)
    }

    fn live_for(&self, k: Key, at: Instant) -> bool {
        self.entries[k].is_linked() && self.w.is_for(&self.entries[k], at)
    }
}

/// Fires at `now` and returns the values in the order handed out.
fn fire(w: &mut W, now: Instant) -> Vec<u32> {
    let mut out = Vec::new();
    w.w.fire(now, |at, v, _| {
        assert!(at <= now, "fired early");
        out.push(value_of(v));
    });
    out
}

/// The list an entry sits in, for tests that check where it was bucketed.
fn list_of(w: &W, k: Key) -> u16 {
    w.entries[k].list.get()
}

#[test]
fn level_arithmetic_buckets_by_highest_differing_bits() {
    let w = W::new(Instant::now());
    assert_eq!(w.list_for(0), 0);
    assert_eq!(w.list_for(63), 63);
    assert_eq!(w.list_for(64), SLOTS as u16 + 1, "level 1, slot 1");
    assert_eq!(w.list_for(64 * 64), 2 * SLOTS as u16 + 1);
    assert_eq!(w.list_for((1 << RANGE_BITS) - 1), (5 * SLOTS + 63) as u16);
    assert_eq!(w.list_for(1 << RANGE_BITS), OVERFLOW);
}

#[test]
fn cascades_across_levels_and_fires_exactly_once_due() {
    let t0 = Instant::now();
    let mut w = W::new(t0);
    let far = t0 + ms(70_000) + Duration::from_micros(300); // tick 70 000: level 2, slot 17
    let near = t0 + ms(3);
    let k = w.insert(far, 0, 1);
    w.insert(near, 1, 2);
    assert_eq!(list_of(&w, k) as usize / SLOTS, 2);
    assert_eq!(fire(&mut w, near), vec![2]);
    // After a fire the park's wake is the far slot's start (64^2 = 4096 ticks wide): a bound.
    assert_eq!(w.next_wake(), Some(t0 + ms(69_632)));
    assert_eq!(w.next_deadline(), Some(far), "next_deadline stays exact");
    assert!(fire(&mut w, t0 + ms(69_632)).is_empty(), "cascading fires nothing");
    assert_eq!(list_of(&w, k) as usize / SLOTS, 1, "cascaded to level 1 (70 000 - 69 632 > 64)");
    assert_eq!(w.next_wake(), Some(t0 + ms(69_952)), "level 1 slot of tick 70 000");
    assert!(fire(&mut w, t0 + ms(69_952)).is_empty());
    assert_eq!(list_of(&w, k) as usize / SLOTS, 0, "cascaded to level 0");
    assert_eq!(w.next_wake(), Some(far), "exact on level 0");
    assert!(fire(&mut w, far - Duration::from_nanos(1)).is_empty(), "not early");
    assert_eq!(fire(&mut w, far), vec![1]);
    assert_eq!(w.len(), 0);
}

#[test]
fn entry_in_current_tick_waits_for_its_exact_instant() {
    let t0 = Instant::now();
    let mut w = W::new(t0);
    let at = t0 + ms(5) + Duration::from_micros(500);
    w.insert(at, 0, 7);
    assert!(fire(&mut w, t0 + ms(5)).is_empty(), "same tick, instant still ahead");
    assert_eq!(w.next_wake(), Some(at));
    assert_eq!(w.next_deadline(), Some(at));
    assert!(fire(&mut w, at - Duration::from_nanos(1)).is_empty());
    assert_eq!(fire(&mut w, at), vec![7]);
    assert_eq!(w.len(), 0);
    assert_eq!(w.next_wake(), None);
}

#[test]
fn next_deadline_is_exact_at_every_level() {
    let t0 = Instant::now();
    for d in [1_500u64, 64_250, 70_000_123, 5_000_000_777, 86_400_000_000_000 * 365] {
        let mut w = W::new(t0);
        let at = t0 + Duration::from_micros(d);
        w.insert(at + ms(1), 0, 0);
        w.insert(at, 1, 1);
        assert_eq!(w.next_deadline(), Some(at), "deadline {d} µs");
        assert!(w.next_wake().unwrap() <= at);
    }
}

#[test]
fn overflow_entries_move_into_the_wheel_and_fire() {
    let t0 = Instant::now();
    let mut w = W::new(t0);
    let thirty_years = t0 + Duration::from_secs(86_400 * 365 * 30);
    let near = t0 + ms(10);
    let kf = w.insert(thirty_years, 0, 1);
    w.insert(near, 1, 2);
    assert_eq!(list_of(&w, kf), OVERFLOW);
    assert_eq!(w.next_deadline(), Some(near));
    assert_eq!(fire(&mut w, near), vec![2]);
    assert_eq!(w.next_deadline(), Some(thirty_years), "only the overflow entry is left");
    assert_eq!(w.next_wake(), Some(thirty_years));
    // A mock clock jumps straight there.
    assert!(fire(&mut w, thirty_years - Duration::from_nanos(1)).is_empty());
    assert_eq!(fire(&mut w, thirty_years), vec![1]);
    assert_eq!(w.len(), 0);
}

#[test]
fn cancelling_the_earliest_overflow_entry_keeps_next_deadline_exact() {
    let t0 = Instant::now();
    let mut w = W::new(t0);
    let year = Duration::from_secs(86_400 * 365);
    let a = w.insert(t0 + 3 * year, 0, 1);
    w.insert(t0 + 5 * year, 1, 2);
    assert_eq!(w.next_deadline(), Some(t0 + 3 * year));
    assert_eq!(w.remove(a), Some(1));
    assert_eq!(w.next_deadline(), Some(t0 + 5 * year), "the cancelled one is no deadline");
    assert_eq!(w.next_wake(), Some(t0 + 5 * year));
}

#[test]
fn cancel_of_a_cascaded_entry_removes_it() {
    let t0 = Instant::now();
    let mut w = W::new(t0);
    let a = w.insert(t0 + ms(200), 0, 1); // level 1
    let b = w.insert(t0 + ms(201), 1, 2);
    assert_eq!(list_of(&w, a) as usize / SLOTS, 1);
    // Reach the slot's start: both cascade to level 0 without firing.
    assert!(fire(&mut w, t0 + ms(192)).is_empty());
    assert_eq!(list_of(&w, a) as usize / SLOTS, 0, "cascaded to level 0");
    assert_eq!(w.remove(a), Some(1));
    assert_eq!(w.remove(a), None, "removed twice");
    assert_eq!(w.len(), 1);
    assert_eq!(w.next_deadline(), Some(t0 + ms(201)));
    assert_eq!(w.next_wake(), Some(t0 + ms(201)), "the cancelled one no longer counts");
    assert_eq!(fire(&mut w, t0 + ms(300)), vec![2]);
    assert_eq!(w.remove(b), None, "fired keys are stale");
}

#[test]
fn a_removed_entry_can_be_linked_again_and_knows_its_instant() {
    let t0 = Instant::now();
    let mut w = W::new(t0);
    let k = w.insert(t0 + ms(5), 0, 1);
    assert!(w.live_for(k, t0 + ms(5)));
    assert!(!w.live_for(k, t0 + ms(6)), "linked, but for another instant");
    assert_eq!(w.remove(k), Some(1));
    assert_eq!(w.remove(k), None, "an unlinked entry removes nothing");
    assert!(!w.live_for(k, t0 + ms(5)));
    w.insert_again(k, t0 + ms(7), 1, 2);
    assert_eq!(w.len(), 1);
    assert_eq!(fire(&mut w, t0 + ms(7)), vec![2]);
    assert!(!w.entries[k].is_linked(), "fired entries are unlinked");
}

#[test]
fn clear_unlinks_every_entry_and_hands_out_their_wakers() {
    let t0 = Instant::now();
    let mut w = W::new(t0);
    let year = Duration::from_secs(86_400 * 365);
    for (i, d) in [ms(1), ms(100), ms(70_000), 3 * year, 1000 * year].into_iter().enumerate() {
        w.insert(t0 + d, i as u64, i as u32);
    }
    let mut out = Vec::new();
    w.w.clear(&mut out);
    let mut got: Vec<u32> = out.into_iter().map(value_of).collect();
    got.sort();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
    assert!(w.entries.iter().all(|e| !e.is_linked()));
    assert_eq!((w.len(), w.next_wake(), w.next_deadline()), (0, None, None));
    assert!(w.far.is_empty());
}

#[test]
fn same_instant_fires_by_order_even_after_cascades() {
    let t0 = Instant::now();
    let mut w = W::new(t0);
    let at = t0 + ms(100);
    // Order 0 goes in first on level 1; later ones go in after the clock moved, on level 0.
    w.insert(at, 0, 0);
    w.insert(at + ms(1), 1, 10);
    assert!(fire(&mut w, t0 + ms(64)).is_empty());
    for i in 1..5 {
        w.insert(at, i, i as u32);
    }
    assert_eq!(fire(&mut w, at + ms(1)), vec![0, 1, 2, 3, 4, 10]);
}

#[test]
fn same_instant_follows_a_shuffled_order() {
    let t0 = Instant::now();
    let mut w = W::new(t0);
    let at = t0 + ms(3);
    let orders = [5u64, 1, 4, 2, 3];
    for (v, o) in orders.iter().enumerate() {
        w.insert(at, *o, v as u32);
    }
    // Ranked by order, not by insertion: 1 (v1), 2 (v3), 3 (v4), 4 (v2), 5 (v0).
    assert_eq!(fire(&mut w, at), vec![1, 3, 4, 2, 0]);
}

/// Random inserts, cancels and clock steps, checked at every step against an ordered map:
/// what fires (and in which order), `len`, the exact next deadline, and `next_wake`'s bound.
#[test]
fn matches_an_ordered_map_under_random_operations() {
    for seed in 0..20u64 {
        let mut rng = seed;
        let t0 = Instant::now();
        let mut w = W::new(t0);
        let mut model: BTreeMap<(Instant, u64), u32> = BTreeMap::new();
        let mut keys: Vec<(Key, Instant, u64)> = Vec::new();
        let mut now = t0;
        let mut next_value = 0u32;
        for step in 0..3_000 {
            let r = crate::testing::rng::next(&mut rng);
            match r % 10 {
                0..=4 => {
                    // Deadlines from the past to the overflow range, many on the same instant.
                    // Odd seeds: only far deadlines, so the overflow list is often the earliest.
                    let spans: &[u64] =
                        if seed % 2 == 0 { &[2, 70, 5_000, 300_000, 1 << 37] } else { &[1 << 36, 1 << 38] };
                    let span = spans[(r >> 8) as usize % spans.len()];
                    let d = Duration::from_micros(crate::testing::rng::below(&mut rng, span as usize * 1000) as u64);
                    let at = if r >> 40 & 7 == 0 { now.checked_sub(d).unwrap_or(now).max(t0) } else { now + d };
                    let at = if r >> 43 & 3 == 0 { now + ms(2) } else { at };
                    let order = step as u64;
                    let k = w.insert(at, order, next_value);
                    model.insert((at, order), next_value);
                    keys.push((k, at, order));
                    next_value += 1;
                }
                5..=6 if !keys.is_empty() => {
                    let (k, at, order) = keys.swap_remove(crate::testing::rng::below(&mut rng, keys.len()));
                    assert_eq!(w.remove(k), model.remove(&(at, order)), "seed {seed} step {step}: remove");
                }
                _ => {
                    // Advance like the kernel (to the next wake) or like a mock clock (anywhere).
                    now = match (r >> 8) % 3 {
                        0 => w.next_wake().map_or(now, |t| t.max(now)),
                        1 => now + Duration::from_micros(crate::testing::rng::below(&mut rng, 3_000) as u64),
                        _ => now + ms(crate::testing::rng::below(&mut rng, 400_000) as u64),
                    };
                    let got = fire(&mut w, now);
                    let mut want = Vec::new();
                    while let Some(e) = model.first_entry() {
                        if e.key().0 > now {
                            break;
                        }
                        want.push(e.remove());
                    }
                    assert_eq!(got, want, "seed {seed} step {step}: fired at +{:?}", now - t0);
                    assert!(w.next_wake().is_none_or(|t| t > now), "seed {seed} step {step}: a wake with no progress");
                }
            }
            assert_eq!(w.len(), model.len(), "seed {seed} step {step}: len");
            let exact = model.first_key_value().map(|(k, _)| k.0);
            assert_eq!(w.next_deadline(), exact, "seed {seed} step {step}: next_deadline");
            match (w.next_wake(), exact) {
                (None, None) => {}
                (Some(wake), Some(e)) => {
                    assert!(wake <= e, "seed {seed} step {step}: next_wake after the deadline");
                    if w.tick(e) >> BITS == w.elapsed >> BITS {
                        assert_eq!(wake, e, "seed {seed} step {step}: next_wake inexact on level 0");
                    }
                }
                (wake, e) => panic!("seed {seed} step {step}: next_wake {wake:?}, deadline {e:?}"),
            }
        }
        keys.retain(|(k, at, _)| w.live_for(*k, *at));
        assert_eq!(keys.len(), model.len(), "seed {seed}: live keys");
    }
}

#[test]
fn an_entry_takes_56_bytes() {
    // No `Instant` in the entry (it is `ns` after the origin): a sleeping task's share of it.
    assert_eq!(std::mem::size_of::<Entry>(), 56);
}

#[test]
fn an_entry_beyond_584_years_fires_at_its_own_instant() {
    // Its nanoseconds from the origin saturate: the wheel keeps its instant aside.
    let t0 = Instant::now();
    let year = Duration::from_secs(86_400 * 365);
    let mut w = W::new(t0);
    let k = w.insert(t0 + 1000 * year, 0, 1);
    w.insert(t0 + 900 * year, 1, 2);
    assert_eq!(fire(&mut w, t0 + 600 * year), Vec::<u32>::new());
    assert_eq!(w.next_deadline(), Some(t0 + 900 * year));
    assert_eq!(fire(&mut w, t0 + 900 * year), vec![2]);
    assert_eq!(w.next_deadline(), Some(t0 + 1000 * year));
    assert!(w.live_for(k, t0 + 1000 * year));
    assert!(!w.live_for(k, t0 + 999 * year));
    assert_eq!(fire(&mut w, t0 + 1000 * year), vec![1]);
    assert_eq!(w.len(), 0);
}

#[test]
fn fire_hands_out_each_entrys_owner_hint() {
    // The kernel prefetches a fired sleep's cancel leaf from the hint its entry carries: the
    // wheel must hand back the hint of the entry that fired, not another's or none.
    let t0 = Instant::now();
    let mut w = W::new(t0);
    let a = w.insert(t0 + ms(1), 0, 10);
    let b = w.insert(t0 + ms(200), 1, 20); // on level 1: its hint survives the cascade
    w.insert(t0 + ms(2), 2, 30); // no hint set: `u32::MAX`
    w.entries[a].hint.set(7);
    w.entries[b].hint.set(9);
    let mut got = Vec::new();
    w.w.fire(t0 + ms(300), |_, v, hint| got.push((value_of(v), hint)));
    assert_eq!(got, vec![(10, 7), (30, u32::MAX), (20, 9)]);
}

#[test]
fn only_a_fired_entry_counts_as_fired() {
    // A `Sleep` trusts `has_fired` instead of the clock: a removed or cleared entry must not
    // claim it, and re-linking one clears it.
    let t0 = Instant::now();
    let mut w = W::new(t0);
    let fired = w.insert(t0 + ms(1), 0, 1);
    let removed = w.insert(t0 + ms(1), 1, 2);
    let cleared = w.insert(t0 + ms(500), 2, 3);
    assert!(!w.entries[fired].has_fired(), "linked");
    assert_eq!(w.remove(removed), Some(2));
    assert_eq!(fire(&mut w, t0 + ms(2)), vec![1]);
    assert!(w.entries[fired].has_fired() && !w.entries[fired].is_linked());
    assert!(!w.entries[removed].has_fired());
    assert_eq!(w.remove(fired), None, "a fired entry is not linked");
    w.insert_again(fired, t0 + ms(900), 3, 4);
    assert!(!w.entries[fired].has_fired(), "linked again");
    let mut out = Vec::new();
    w.w.clear(&mut out);
    assert!(!w.entries[cleared].has_fired() && !w.entries[fired].has_fired(), "cleared, not fired");
}
