//! Time: one userspace timer structure per kernel (`timers.rs` over the timing wheel of
//! `wheel.rs`, data structures that never touch the kernel), and the futures that use it (this
//! file, the front-end).
//!
//! Every registration belongs to the future that made it and is removed when that future is
//! dropped, so an abandoned sleep never fires into a later one (H13). The kernel parks with a
//! single `EXT_ARG` timeout set to `Timers::next_wake` (the earliest registration, or the start of
//! the wheel slot to cascade before it): no timeout SQEs.

use crate::cancel;
use crate::cancel::{from_nanos, to_nanos};
use crate::error::{Cancelled, OpError};
use crate::kernel::context::with_core;
use std::future::Future;
use std::num::NonZeroU64;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

pub use std::time::Instant;

mod entry;
pub(crate) mod timers;
mod wheel;

use entry::Entry;
pub(crate) use timers::{Key, TimerKey, Timers};

/// A raw wake-up at an instant that ignores cancel scopes: the building block of [`Sleep`] and of
/// scope deadlines. Its registration is removed when it is dropped or re-armed.
#[derive(Debug, Default)]
pub struct Timer {
    key: Option<(Key, u64)>,
}

impl Timer {
    /// An unarmed timer.
    pub fn new() -> Timer {
        Timer { key: None }
    }

    /// Ready once `at` has passed; otherwise registers `cx`'s waker for `at`.
    ///
    /// Outside a runtime it is ready only once `at` has passed and never wakes.
    pub fn poll_at(&mut self, at: Instant, cx: &mut Context<'_>) -> Poll<()> {
        if crate::now() >= at {
            self.disarm();
            return Poll::Ready(());
        }
        let released = with_core(|core| {
            let mut timers = core.timers.borrow_mut();
            let mut released = None;
            if let Some((key, id)) = self.key {
                if id == core.id {
                    // Live and for this instant: only the waker may need replacing.
                    let (found, old) = timers.update(key, at, cx.waker());
                    if found {
                        return old;
                    }
                }
                if id == core.id {
                    released = timers.remove(key);
                }
            }
            self.key = Some((timers.insert(at, cx.waker()), core.id));
            released
        });
        drop(released);
        Poll::Pending
    }

    /// Removes the registration, if any.
    pub fn disarm(&mut self) {
        if let Some((key, id)) = self.key.take() {
            let released = with_core(|core| if core.id == id { core.timers.borrow_mut().remove(key) } else { None });
            drop(released);
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// Waits until `deadline`. A checkpoint: see [`Sleep`].
///
/// # Examples
/// ```
/// # quartet_runtime::run(async {
/// use quartet_runtime::{Instant, sleep_until};
/// use std::time::Duration;
/// let tick = Instant::now() + Duration::from_millis(2);
/// sleep_until(tick).await?; // wakes at the instant, however long the code before it took
/// assert!(Instant::now() >= tick);
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline: encode(deadline), entry: Entry::new(), park: cancel::LeanPark::new() }
}

/// Waits for `duration`. A checkpoint: see [`Sleep`].
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// quartet_runtime::sleep(std::time::Duration::from_millis(10)).await?;
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(crate::now().checked_add(duration).unwrap_or_else(far_future))
}

/// A `Sleep`'s deadline in 8 bytes with a niche: `to_nanos`, where 0 (an instant 146 years
/// before the encoding's epoch, or earlier, clamped) becomes 1 ns later, as clamped and as past.
fn encode(deadline: Instant) -> NonZeroU64 {
    NonZeroU64::new(to_nanos(deadline)).unwrap_or(NonZeroU64::MIN)
}

pub(crate) fn far_future() -> Instant {
    crate::now() + Duration::from_secs(86400 * 365 * 30)
}

/// The future of [`sleep`] and [`sleep_until`].
///
/// # Cancellation
/// A checkpoint: it returns `Err(Cancelled)` if an enclosing scope is cancelled before the
/// deadline, and always yields at least once, even for a deadline in the past. Outside
/// `quartet::run` it returns `Err(Cancelled)` with [`Reason::NoRuntime`](crate::Reason::NoRuntime)
/// at once (which converts to [`OpError::NoRuntime`]).
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
///
/// # Examples
/// ```
/// # quartet_runtime::run(async {
/// let s: quartet_runtime::Sleep = quartet_runtime::sleep(std::time::Duration::from_millis(1));
/// s.await?;
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
pub struct Sleep {
    /// The deadline as the scope deadlines' biased nanoseconds (`cancel::state::to_nanos`): 8
    /// bytes where an `Instant` takes 16, which takes a sleeping child's task cell from a 176-
    /// to a 160-byte malloc chunk. Exact for instants from 146 years before the process's first
    /// use of the encoding to 438 years after it; one beyond is clamped to that range (a sleep
    /// that long never ends in practice, and one that far back has passed either way). Never 0
    /// (`encode`): the niche lets a task cell's `Option<Sleep>` be as small as the `Sleep`.
    deadline: NonZeroU64,
    /// The wheel entry, linked while the sleep waits (intrusive: see `entry.rs`). It makes a
    /// `Sleep` `!Unpin` and `!Send`: the wheel points into it. Its `owner_flag` says whether the
    /// sleep was polled before.
    entry: Entry,
    /// Parked on the cancel-status tree while waiting: a cancel wakes it through its own waker.
    /// (A `LeanPark`: the dump's `WaitKind::Timer` is made from `deadline` when it parks.)
    park: cancel::LeanPark,
}

impl Sleep {
    /// The instant this sleep ends.
    ///
    /// ```
    /// # quartet_runtime::run(async {
    /// use std::time::Duration;
    /// let s = quartet_runtime::sleep(Duration::from_secs(1));
    /// assert!(s.deadline() > quartet_runtime::Instant::now());
    /// # drop(s);
    /// # }).unwrap();
    /// ```
    pub fn deadline(&self) -> Instant {
        from_nanos(self.deadline.get())
    }
}

impl Future for Sleep {
    type Output = Result<(), Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out of the sleep; `entry` is only ever used in place (pinned
        // with the sleep), and the other fields are not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if with_core(|_| ()).is_none() {
            // Outside `run` nothing would ever wake this sleep: fail at once (see Reason::NoRuntime).
            return Poll::Ready(Err(Cancelled::new(crate::Reason::NoRuntime)));
        }
        if this.entry.owner_flag.get() && (this.entry.has_fired() || crate::now() >= from_nanos(this.deadline.get())) {
            // Served (the usual wake-up: the timer fired, which needs no clock read to know).
            // Only a cancellation can still win: one borrow of the tree checks for it and ends
            // the wait, with no re-park.
            disarm(&this.entry);
            return Poll::Ready(this.park.finish());
        }
        let deadline = from_nanos(this.deadline.get());
        if let Err(c) = this.park.park(cx, this.deadline.get()) {
            this.park.unpark();
            disarm(&this.entry);
            return Poll::Ready(Err(c));
        }
        // For the tick that fires it: prefetch the leaf that the poll after it frees.
        this.entry.hint.set(this.park.leaf_index());
        let first = !this.entry.owner_flag.replace(true);
        if crate::now() >= deadline {
            disarm(&this.entry);
            if first {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.park.unpark();
            return Poll::Ready(Ok(()));
        }
        // SAFETY: `entry` is part of the pinned sleep: it stays in place until `Sleep::drop`,
        // which unlinks it (E1); it is linked, if at all, in this thread's core's wheel (E3: a
        // `Sleep` is `!Send`, and it links only here).
        let entry = unsafe { Pin::new_unchecked(&this.entry) };
        let waker = cx.waker().clone(); // cloned (user code) before the borrow
        // SAFETY: as above: linked only in this core's wheel, unlinked before it is freed.
        let released = with_core(|core| unsafe { core.timers.borrow_mut().arm(entry, deadline, waker) });
        drop(released);
        Poll::Pending
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
#[test]
fn a_sleep_holds_its_wheel_entry_in_80_bytes() {
    // deadline 8 + entry 56 (its flag in the entry's padding) + park 16: the slab's 48-byte
    // entry is gone, so a sleeping task's timer costs 16 bytes in its cell and nothing outside.
    assert_eq!(std::mem::size_of::<Sleep>(), 80);
    assert_eq!(std::mem::size_of::<Option<Sleep>>(), 80, "a task cell's `Option` costs nothing");
}

#[cfg(test)]
#[test]
fn a_sleep_keeps_its_deadline_exactly() {
    let now = Instant::now();
    for d in [Duration::ZERO, Duration::from_nanos(1), Duration::from_secs(86400 * 365 * 100) + Duration::from_nanos(7)]
    {
        assert_eq!(sleep_until(now + d).deadline(), now + d);
    }
    assert_eq!(sleep_until(now - Duration::from_nanos(3)).deadline(), now - Duration::from_nanos(3));
}

#[cfg(test)]
#[test]
fn a_waiting_sleep_leaves_its_cancel_leafs_slot_as_its_entrys_hint() {
    // The tick that fires the sleep prefetches that leaf (kernel::prefetch) from the hint.
    crate::run(async {
        let mut s = std::pin::pin!(sleep(Duration::from_secs(60)));
        assert!(s.as_mut().poll(&mut Context::from_waker(std::task::Waker::noop())).is_pending());
        assert_ne!(s.park.leaf_index(), u32::MAX, "parked");
        assert_eq!(s.entry.hint.get(), s.park.leaf_index());
    })
    .unwrap();
}

impl Drop for Sleep {
    fn drop(&mut self) {
        disarm(&self.entry);
    }
}

/// Unlinks a `Sleep`'s entry from this thread's wheel, if it is linked (E1 in `entry.rs`).
///
/// A linked entry is always in the current core's wheel (E3), and no code runs while that
/// wheel is borrowed that could drop a sleep; should either ever fail, the entry could not be
/// unlinked and its memory would be freed under the wheel, so the process aborts instead.
#[inline]
fn disarm(entry: &Entry) {
    if !entry.is_linked() {
        return;
    }
    let released = with_core(|core| match core.timers.try_borrow_mut() {
        // SAFETY: a linked entry is linked in this core's wheel (E3).
        Ok(mut timers) => Some(unsafe { timers.disarm(entry) }),
        Err(_) => None,
    })
    .flatten();
    if entry.is_linked() {
        eprintln!("quartet: a linked timer entry could not be unlinked (no runtime, or its timers are borrowed)");
        std::process::abort();
    }
    drop(released);
}

/// Converts [`sleep`]'s error for code that uses [`OpError`].
impl From<Cancelled> for std::io::Error {
    fn from(c: Cancelled) -> std::io::Error {
        OpError::from(c).into()
    }
}
