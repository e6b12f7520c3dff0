//! Prefetching the records a batch of wake-ups is about to touch.
//!
//! # Why
//! With many sleeping tasks (100k timers: tens of MB of task cells, wheel entries and side
//! tables), nearly every record a wake-up touches is cold, and a loop that handles one wake-up
//! at a time waits for each miss in turn: `perf` shows those loads, not the instructions, as the
//! cost (benches/analysis.md, "timers"). The kernel's batches (the wakers a turn collected, the
//! entries a wheel tick fired) are known in advance, so each loop asks the CPU to start loading
//! the record [`AHEAD`] items ahead: the misses overlap instead of queueing.
//!
//! A prefetch is only a hint: it never faults, reads nothing the program sees and changes no
//! behaviour, whatever the address (a stale or dangling one included).

/// How many items ahead a batch loop prefetches: far enough to cover a miss with the work of a
/// few items, near enough that the line is still cached when its item comes.
pub const AHEAD: usize = 4;

/// Starts loading the cache line at `p` into the cache (no effect on architectures without a
/// stable prefetch instruction).
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: PREFETCHT0 is a hint: it cannot fault and its result is never observed, for any
        // address; SSE, which it needs, is part of the x86_64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Wakes every waker in `wakers` (emptying it, in order), prefetching the record of the waker
/// [`AHEAD`] places on: for a child's waker, its block's `SlotWake` header, which the wake
/// reads first (`waker::wake_record`).
#[inline(always)]
pub(crate) fn wake_all(wakers: &mut Vec<std::task::Waker>) {
    let mut batch = wakers.drain(..);
    while let Some(w) = batch.next() {
        if let Some(ahead) = batch.as_slice().get(AHEAD - 1) {
            prefetch(super::waker::wake_record(ahead));
        }
        w.wake();
    }
}
