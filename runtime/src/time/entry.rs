//! A timer wheel entry: the node the wheel (`wheel.rs`) links into its slot lists.
//!
//! # Why intrusive
//! A timer used to be a slot in a slab owned by the wheel: one more cold record per timer (the
//! task's cell, its cancel leaf, its waker's target, and the slab entry), and the slab kept its
//! high-water mark for the runtime's life. Now the entry lives where its owner lives: inside the
//! pinned [`Sleep`](super::Sleep), which sits in the task's own cell, so a sleeping task's timer
//! costs no allocation and no separate cache line. (Scope deadlines and the public `Timer`,
//! which are not pinned, use entries from a pool of boxes owned by `Timers`.)
//!
//! # Soundness
//! The wheel keeps raw pointers to linked entries. That is sound because of three rules:
//! - **E1** An entry is linked only while pinned, and its owner unlinks it before its memory is
//!   freed or reused: `Sleep`'s `Drop` (pin's drop guarantee: a pinned value is dropped before its
//!   memory is invalidated, or it is leaked and stays valid forever), the pool's entries when the
//!   pool is dropped. A wheel that is dropped (or closed at shutdown) unlinks every entry first.
//! - **E2** Every field is a `Cell`: the wheel and the owner only ever hold shared references,
//!   never at the same time as a `&mut` to the same field, and never from two threads (an `Entry`
//!   is `!Send` and `!Sync`, through its pointers, so its owner is too).
//! - **E3** An entry is linked into at most one wheel: that of the core installed on its thread
//!   when it was linked. A thread has at most one core installed at a time (nested `run` is
//!   refused), and a core's wheel unlinks everything when it is closed at shutdown, before the
//!   core is uninstalled. So a linked entry's wheel is always the current core's.

use std::cell::Cell;
use std::marker::PhantomPinned;
use std::ptr::NonNull;
use std::task::Waker;

/// `list` of an entry that no wheel holds.
pub(super) const UNLINKED: u16 = u16::MAX;
/// `list` of an entry that no wheel holds because it fired (rather than was removed or never
/// linked): its instant had passed when the wheel took it, so its owner need not read the clock
/// to know it is due (a `Sleep`'s wake-up poll).
pub(super) const FIRED: u16 = u16::MAX - 1;

/// One timer: its instant, its place in a wheel list, and the waker to wake.
pub(crate) struct Entry {
    pub(super) prev: Cell<Option<NonNull<Entry>>>,
    pub(super) next: Cell<Option<NonNull<Entry>>>,
    /// The instant in nanoseconds from the wheel's origin (saturating: see `Wheel::nanos`).
    pub(super) ns: Cell<u64>,
    /// Rank among the entries due at the same instant (registration or seeded order).
    pub(super) order: Cell<u64>,
    pub(super) waker: Cell<Option<Waker>>,
    /// Which wheel list holds it, or `UNLINKED`.
    pub(super) list: Cell<u16>,
    /// A flag for the owner, never touched by the wheel: `Sleep`'s "polled before" (it fits in
    /// the padding after `list`, so the `Sleep` is 8 bytes smaller than with a field of its own).
    pub(crate) owner_flag: Cell<bool>,
    /// A number the owner leaves for [`Wheel::fire`](super::wheel::Wheel::fire) to hand back when
    /// the entry fires, never read by the wheel otherwise: a `Sleep` puts its cancel leaf's index
    /// here, so the kernel can prefetch the leaf its next poll frees (`u32::MAX`: none). It fits
    /// in the padding after `owner_flag`.
    pub(crate) hint: Cell<u32>,
    /// Linked entries are pointed to: they must not move (`Sleep` is `!Unpin` through this).
    _pin: PhantomPinned,
}

impl Default for Entry {
    fn default() -> Entry {
        Entry::new()
    }
}

impl Entry {
    /// An entry that no wheel holds.
    pub(crate) const fn new() -> Entry {
        Entry {
            prev: Cell::new(None),
            next: Cell::new(None),
            ns: Cell::new(0),
            order: Cell::new(0),
            waker: Cell::new(None),
            list: Cell::new(UNLINKED),
            owner_flag: Cell::new(false),
            hint: Cell::new(u32::MAX),
            _pin: PhantomPinned,
        }
    }

    /// Whether a wheel holds it (it has neither fired nor been removed since it was inserted).
    #[inline]
    pub(crate) fn is_linked(&self) -> bool {
        self.list.get() < FIRED
    }

    /// Whether the last wheel that held it let it go by firing it (its instant had passed then).
    #[inline]
    pub(crate) fn has_fired(&self) -> bool {
        self.list.get() == FIRED
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry").field("linked", &self.is_linked()).finish_non_exhaustive()
    }
}
