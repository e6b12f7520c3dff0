//! The one blocking primitive: a leaf parked on the current cancel status (Trio's
//! `wait_task_rescheduled` with its `abort_func`).
//!
//! Every operation that can block registers itself here when it returns `Pending`, so a
//! cancellation reaches it wherever it is awaited. Two kinds:
//! - [`Park`]: an in-memory wait. The abort wakes the waker the wait stored at its last poll
//!   (never the task's root waker, so the wake reaches it through any combinator) and records the
//!   cancellation; the next `park` call returns it (`Abort.SUCCEEDED`: the wait leaves its queue
//!   then, unless it was served first, in which case it returns its outcome).
//! - [`OpPark`]: a ring op. The abort queues `ASYNC_CANCEL` for it; the op keeps waiting for its
//!   own completion, which decides (`Abort.FAILED`).
//!
//! # Invariants
//! - **P1** `park` reads the effective state of the current status once: if it is cancelled the
//!   leaf does not register and gets `Err` (level-triggered, C2); otherwise it is linked under it.
//! - **P2** Each park is aborted at most once (T3); after an abort, every later `park` of the same
//!   leaf returns the same `Cancelled` until `unpark`.
//! - **P3** A served wait calls `unpark` or `finish` (or drops the `Park`) before returning its
//!   outcome, so a later walk never aborts it. `finish` is `park` + `unpark` for a served wait in
//!   one borrow: it still reports a cancellation in force or recorded (P1, P2), then ends the wait.
//! - **P4** A leaf re-polled under another status moves there (its future was moved); the stored
//!   waker is replaced only when `will_wake` says it differs, and the old one is dropped outside
//!   the tree's borrow.

use super::tree::{LeafId, LeafKind, LeafMeta, Since, Waiting};
use super::{CURRENT, here, with_tree};
use crate::driver::OpKey;
use crate::error::Cancelled;
use crate::introspect::{OpInfo, WaitKind};
use std::num::NonZeroU64;
use std::task::{Context, Waker};

/// Where a wait is parked: 16 bytes, and an `Option` of it too (thread ids are never 0), so
/// every `Sleep` and op future is 8 bytes smaller than with a plain `u64`.
#[derive(Debug, Clone, Copy)]
struct Registered {
    thread: NonZeroU64,
    leaf: LeafId,
}

/// This thread's id in cancel bookkeeping, which starts at 1 (`cancel::here`).
#[inline]
fn me() -> NonZeroU64 {
    NonZeroU64::new(here()).expect("cancel thread ids start at 1")
}

/// An in-memory wait's registration with the cancel-status tree (see the module docs).
///
/// # Examples
/// A wait that parks on the tree: cancellation wakes it through its own waker.
/// ```
/// use quartet_runtime::cancel::Park;
/// use quartet_runtime::Cancelled;
/// use std::future::poll_fn;
/// use std::task::Poll;
///
/// async fn wait_until_cancelled() -> Cancelled {
///     let mut park = Park::new();
///     poll_fn(|cx| match park.park(cx) {
///         Err(c) => Poll::Ready(c),
///         Ok(()) => Poll::Pending, // someone with the waker would wake us when served
///     })
///     .await
/// }
/// ```
#[derive(Debug)]
pub struct Park {
    reg: Option<Registered>,
    /// What the wait is for, shown by the task-tree dump.
    what: WaitKind,
}

impl Default for Park {
    fn default() -> Park {
        Park::new()
    }
}

/// The dump's record of a new leaf: what, for which task, since the current tick.
#[inline]
fn meta(what: Waiting) -> LeafMeta {
    LeafMeta { what, task: crate::task::current_task_id(), since: since_tick() }
}

/// The current tick as a [`Since`] (none outside a runtime), encoded once per tick
/// (`Core::tick_since`).
#[inline]
fn since_tick() -> Since {
    crate::kernel::context::with_core(|c| {
        c.tick_since.get().unwrap_or_else(|| {
            let since = Since::new(Some(c.tick.get()));
            c.tick_since.set(Some(since));
            since
        })
    })
    .unwrap_or(Since::NONE)
}

impl Park {
    /// A wait that is not parked yet, for something unspecified (see [`Park::waiting_for`]).
    pub const fn new() -> Park {
        Park { reg: None, what: WaitKind::Other }
    }

    /// A wait for `what`: the task-tree dump shows it while the wait is parked.
    ///
    /// ```
    /// use quartet_runtime::cancel::Park;
    /// use quartet_runtime::introspect::WaitKind;
    /// let park = Park::waiting_for(WaitKind::Lock);
    /// # drop(park);
    /// ```
    pub const fn waiting_for(what: WaitKind) -> Park {
        Park { reg: None, what }
    }

    /// Changes what the wait is for (a timer whose deadline moved); applies from the next park.
    pub fn set_waiting_for(&mut self, what: WaitKind) {
        self.what = what;
    }

    /// Parks (or re-parks) on the current status with `cx`'s waker. `Err` if the code here is
    /// cancelled, now or by an earlier abort of this wait (P1, P2).
    #[inline]
    pub fn park(&mut self, cx: &Context<'_>) -> Result<(), Cancelled> {
        self.park_kind(cx.waker(), false).map(drop)
    }

    /// Parks a wait for graceful cancellation: `Ok(true)` once graceful cancellation reaches the
    /// code here, `Ok(false)` while parked, `Err` once it is hard-cancelled.
    pub fn park_graceful(&mut self, cx: &Context<'_>) -> Result<bool, Cancelled> {
        self.park_kind(cx.waker(), true)
    }

    /// [`Park::park`] with a waker the caller owns already (a clone it made for its own wait
    /// queue, say), which the leaf keeps instead of cloning the context's waker once more. It
    /// must wake the same task as the context's waker would.
    ///
    /// ```
    /// use quartet_runtime::cancel::Park;
    /// use std::future::poll_fn;
    /// use std::task::Poll;
    /// # quartet_runtime::run(async {
    /// let mut park = Park::new();
    /// let mut first = true;
    /// poll_fn(|cx| {
    ///     if std::mem::replace(&mut first, false) {
    ///         let kept = cx.waker().clone(); // stored by the wait's own queue too, typically
    ///         park.park_owned(kept).unwrap();
    ///         cx.waker().wake_by_ref(); // served at once in this sketch
    ///         return Poll::Pending;
    ///     }
    ///     park.unpark();
    ///     Poll::Ready(())
    /// })
    /// .await;
    /// # }).unwrap();
    /// ```
    #[inline]
    pub fn park_owned(&mut self, waker: Waker) -> Result<(), Cancelled> {
        let what = &self.what;
        park_leaf(&mut self.reg, || Waiting::Kind(what.clone()), Lent::Owned(waker), false).map(drop)
    }

    #[inline]
    fn park_kind(&mut self, waker: &Waker, graceful: bool) -> Result<bool, Cancelled> {
        let what = &self.what;
        park_leaf(&mut self.reg, || Waiting::Kind(what.clone()), Lent::Borrowed(waker), graceful)
    }

    /// The cancellation recorded by an abort of this wait, if it was aborted.
    pub fn aborted(&self) -> Option<Cancelled> {
        let r = self.reg.filter(|r| r.thread == me())?;
        with_tree(|t| t.leaf_aborted(r.leaf).cloned())
    }

    /// Ends the wait: it is served (or gave up) and must not be aborted any more (P3).
    pub fn unpark(&mut self) {
        unpark(&mut self.reg);
    }

    /// Ends a wait that was served, unless the code here is cancelled: what `park` followed by
    /// `unpark` returns for a served wait, in one borrow of the tree and without refreshing the
    /// waker. `Err` with the reason in force if the code here is cancelled now or this wait was
    /// aborted (P2); the wait ends either way (P3).
    ///
    /// ```
    /// use quartet_runtime::cancel::Park;
    /// let mut park = Park::new();
    /// assert!(park.finish().is_ok()); // never parked, nothing cancelled
    /// ```
    pub fn finish(&mut self) -> Result<(), Cancelled> {
        finish_leaf(&mut self.reg)
    }
}

impl Drop for Park {
    fn drop(&mut self) {
        unpark(&mut self.reg);
    }
}

/// Frees the leaf; returns the abort recorded for it, if any.
fn unpark(reg: &mut Option<Registered>) -> Option<Cancelled> {
    let r = reg.take()?;
    if r.thread != me() {
        return None; // dropped on another thread: the slot stays until that tree is gone
    }
    let (kind, aborted) = with_tree(|t| t.unpark(r.leaf))?;
    drop(kind); // a stored waker is dropped outside the borrow
    aborted.map(|c| *c)
}

/// The waker a park stores: the context's (cloned if the leaf keeps it) or one the caller gave.
enum Lent<'a> {
    Borrowed(&'a Waker),
    Owned(Waker),
}

impl Lent<'_> {
    #[inline]
    fn as_ref(&self) -> &Waker {
        match self {
            Lent::Borrowed(w) => w,
            Lent::Owned(w) => w,
        }
    }

    #[inline]
    fn into_owned(self) -> Waker {
        match self {
            Lent::Borrowed(w) => w.clone(),
            Lent::Owned(w) => w,
        }
    }
}

/// `Park::park_kind` over a bare registration; `what` is asked for only at the first park.
fn park_leaf(
    reg: &mut Option<Registered>,
    what: impl FnOnce() -> Waiting,
    lent: Lent<'_>,
    graceful: bool,
) -> Result<bool, Cancelled> {
    let waker = lent.as_ref();
    let node = CURRENT.with(std::cell::Cell::get);
    let thread = me();
    if let Some(r) = reg.filter(|r| r.thread == thread) {
        // Re-park: return a recorded abort, else follow the current status and refresh the waker.
        let status = with_tree(|t| {
            if let Some(c) = t.leaf_aborted(r.leaf) {
                // The reason in force now (an inner scope may have been cancelled since).
                let now = t.effective(node).cloned().map(Cancelled::new);
                return Some(Err(now.unwrap_or_else(|| c.clone())));
            }
            if graceful && t.leaf_graceful_fired(r.leaf) {
                return Some(Ok(true));
            }
            if let Some(reason) = t.effective(node) {
                return Some(Err(Cancelled::new(reason.clone())));
            }
            if graceful && t.graceful(node) {
                return Some(Ok(true));
            }
            t.move_leaf(r.leaf, node);
            let same = t.leaf_waker(r.leaf).is_some_and(|w| w.will_wake(waker));
            if same { Some(Ok(false)) } else { None }
        });
        if let Some(s) = status {
            return s;
        }
        let new = lent.into_owned();
        let old = with_tree(|t| t.leaf_waker(r.leaf).map(|w| std::mem::replace(w, new)));
        drop(old);
        return Ok(false);
    }
    // First park: one borrow of the tree. (Cloning a waker runs no code of ours that could
    // use the tree: wakers made by quartet only bump a count or make a queue's waker.)
    let w = lent.into_owned();
    let meta = meta(what());
    let parked = with_tree(|t| {
        if let Some(reason) = t.effective(node) {
            return Err(Cancelled::new(reason.clone()));
        }
        if graceful && t.graceful(node) {
            return Ok(None);
        }
        Ok(Some(t.park(node, LeafKind::Wake(w), graceful, meta)))
    })?;
    match parked {
        Some(leaf) => {
            *reg = Some(Registered { thread, leaf });
            Ok(false)
        }
        None => Ok(true),
    }
}

/// `Park::finish` over a bare registration.
fn finish_leaf(reg: &mut Option<Registered>) -> Result<(), Cancelled> {
    let node = CURRENT.with(std::cell::Cell::get);
    let reg = reg.take().filter(|r| r.thread == me());
    let (kind, out) = with_tree(|t| {
        let kind = reg.and_then(|r| t.unpark(r.leaf));
        // The reason in force now, else the one an abort recorded (as `park` reports it).
        let now = t.effective(node).cloned().map(Cancelled::new);
        let out = match (now, kind.as_ref().and_then(|(_, aborted)| aborted.as_deref())) {
            (Some(c), _) => Err(c),
            (None, Some(c)) => Err(c.clone()),
            (None, None) => Ok(()),
        };
        (kind, out)
    });
    drop(kind); // a stored waker is dropped outside the borrow
    out
}

/// A wait that is told what it waits for when it parks, rather than storing it: [`Park`] minus
/// its `WaitKind` (40 bytes less in every future that holds one). `Sleep` uses it, since its
/// deadline already says what it waits for.
#[derive(Debug, Default)]
pub(crate) struct LeanPark {
    reg: Option<Registered>,
}

impl LeanPark {
    pub(crate) const fn new() -> LeanPark {
        LeanPark { reg: None }
    }

    /// [`Park::park`] for a timer due at `deadline` (biased nanoseconds, `cancel::to_nanos`): the
    /// dump shows `WaitKind::Timer` with it.
    pub(crate) fn park(&mut self, cx: &Context<'_>, deadline: u64) -> Result<(), Cancelled> {
        park_leaf(&mut self.reg, || Waiting::Timer(deadline), Lent::Borrowed(cx.waker()), false).map(drop)
    }

    /// [`Park::finish`].
    pub(crate) fn finish(&mut self) -> Result<(), Cancelled> {
        finish_leaf(&mut self.reg)
    }

    /// The slot of its leaf while parked (`u32::MAX`: not parked), a prefetch hint only.
    pub(crate) fn leaf_index(&self) -> u32 {
        self.reg.map_or(u32::MAX, |r| r.leaf.index())
    }

    /// [`Park::unpark`].
    pub(crate) fn unpark(&mut self) {
        unpark(&mut self.reg);
    }
}

impl Drop for LeanPark {
    fn drop(&mut self) {
        unpark(&mut self.reg);
    }
}

/// What `OpPark::park` found.
#[derive(Debug)]
pub enum OpParkStatus {
    /// Parked; nothing to do.
    Parked,
    /// A walk aborted the op: `ASYNC_CANCEL` is queued already.
    Aborted(Cancelled),
    /// The code here is cancelled: the caller must cancel the op itself (P1).
    Cancelled(Cancelled),
}

/// A ring op's registration with the cancel-status tree: the abort queues `ASYNC_CANCEL`.
#[derive(Debug, Default)]
pub struct OpPark {
    reg: Option<Registered>,
}

impl OpPark {
    /// Not parked yet.
    pub const fn new() -> OpPark {
        OpPark { reg: None }
    }

    /// Parks (or re-parks) the op `key` (described by `info`) on the current status.
    pub(crate) fn park(&mut self, key: OpKey, info: impl FnOnce() -> OpInfo) -> OpParkStatus {
        let node = CURRENT.with(std::cell::Cell::get);
        let thread = me();
        with_tree(|t| {
            if let Some(r) = self.reg.filter(|r| r.thread == thread) {
                if let Some(c) = t.leaf_aborted(r.leaf) {
                    return OpParkStatus::Aborted(c.clone());
                }
                if let Some(reason) = t.effective(node) {
                    return OpParkStatus::Cancelled(Cancelled::new(reason.clone()));
                }
                t.move_leaf(r.leaf, node);
                return OpParkStatus::Parked;
            }
            if let Some(reason) = t.effective(node) {
                return OpParkStatus::Cancelled(Cancelled::new(reason.clone()));
            }
            // Reads only thread-locals and the op's data, never the tree.
            let meta = meta(Waiting::Kind(WaitKind::Op(info())));
            self.reg = Some(Registered { thread, leaf: t.park(node, LeafKind::Op(key), false, meta) });
            OpParkStatus::Parked
        })
    }

    /// The cancellation recorded by an abort, if any.
    pub fn aborted(&self) -> Option<Cancelled> {
        let r = self.reg.filter(|r| r.thread == me())?;
        with_tree(|t| t.leaf_aborted(r.leaf).cloned())
    }

    /// Ends the registration (the op completed or was handed to the driver).
    pub fn unpark(&mut self) {
        unpark(&mut self.reg);
    }

    /// Ends the registration and returns the cancellation an abort recorded, if any: `aborted`
    /// then `unpark` in one borrow of the tree.
    pub fn finish(&mut self) -> Option<Cancelled> {
        unpark(&mut self.reg)
    }
}

impl Drop for OpPark {
    fn drop(&mut self) {
        unpark(&mut self.reg);
    }
}
