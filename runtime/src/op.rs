//! The generic in-flight operation future and the cancel protocol (semantics §3.5).
//!
//! ```text
//!   Start ──poll: scope cancelled──────────────────────────────▶ Cancelled (nothing submitted)
//!     │ poll: submit SQE (data inline; its pointers lead only to heap or static memory)
//!     ▼
//!   Waiting ──poll: scope cancelled──▶ CancelSent ──final CQE──▶ result as the kernel says:
//!     │  (ASYNC_CANCEL queued)            │                      -ECANCELED ⇒ Cancelled,
//!     │                                   │                      anything else ⇒ real result
//!     ├──final CQE──▶ Done (result)       │
//!     └──future dropped──▶ Abandoned (data moved into a box the driver owns, cancel queued)
//!                               ──final CQE──▶ cleanup
//! ```
//! "Cancelled means nothing happened": only the kernel's `-ECANCELED` (or never submitting) yields
//! `Cancelled`. A result that raced the cancel is returned, and the *next* checkpoint raises.
//!
//! Storage (monoio's layout): an op's data lives inline in the `Op` future, so submitting costs no
//! allocation. It moves: into a box handed to the driver's slab if the future is dropped while the
//! op is in flight (the one allocation, on that rare path), and back to the caller by value with
//! the result. That is sound because of the [`OpData`] contract: the SQE points only at memory
//! whose address does not change when the data moves (heap blocks the data owns, [`Stable`]
//! parts, buffers under the [`IoBuf`] contract, or `'static` memory), never into the inline bytes.
//!
//! [`Stable`]: crate::stable::Stable
//! [`IoBuf`]: crate::IoBuf

use crate::cancel::{self, OpPark, OpParkStatus};
use crate::driver::{Cleanup, Delivery, OpKey};
use crate::error::{Cancelled, OpError};
use crate::introspect::OpInfo;
use crate::kernel::context::{was_unclean, with_core};
use io_uring::squeue;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The data of one opcode: its buffers, fd and arguments. Kept inline in the [`Op`] future, and
/// moved while the kernel works on it (see the module docs).
///
/// # Safety
/// `sqe` may only put into the entry pointers to memory that stays valid and in place when `self`
/// is *moved*, until `self` is dropped: heap memory `self` owns (a `Vec`'s or `CString`'s bytes, a
/// [`Stable`](crate::stable::Stable) part, a buffer through the `IoBuf`/`IoBufMut` contract, which
/// promises exactly this) or `'static` memory. Never a pointer into `self`'s own inline bytes (a
/// field of `self`, an inline array): `Op` moves `self` while the op is in flight. Memory the kernel
/// writes must not be read or written by `self`'s methods until the op's final completion (`info`
/// may run while the op is in flight).
pub(crate) unsafe trait OpData: 'static {
    /// What to do with a result nobody will collect.
    const CLEANUP: Cleanup = Cleanup::Nothing;
    /// The op's name for the task-tree dump and instruments (its type's name: `"Recv"`). A
    /// constant because the op is described at every park: deriving it from
    /// `std::any::type_name` there cost ~770 instructions per op (a substring search).
    const NAME: &'static str;
    /// Builds the SQE. Called once per `Op` (the data may be resubmitted in a new `Op` after it
    /// came back); `self` may move afterwards.
    fn sqe(&mut self) -> squeue::Entry;
    /// What the task-tree dump and instruments show for this op (default: its name).
    fn info(&self) -> OpInfo {
        OpInfo::new(Self::NAME)
    }
    /// Told when the final completion was reaped, before the data is handed back (default:
    /// ignored; a stream receive keeps it for its hint, `net/recv_hint.rs`).
    fn delivered(&mut self, _at: Delivery) {}
}

enum State {
    Start,
    /// In flight. `cancel` is set once a cancel was requested (by a walk or by a poll that found
    /// the code cancelled), so at most one `ASYNC_CANCEL` is ever queued for the op.
    Waiting {
        core: u64,
        key: OpKey,
        cancel: Option<Cancelled>,
    },
    Done,
}

/// A submitted (or about to be) operation.
///
/// `!Send` (and so is every future that holds one): an op submitted on one thread's ring is polled
/// and dropped on that thread only, so `Drop` always finds the runtime that owns the op if it is
/// still running, and can hand the data to it.
///
/// `Unpin` whatever `T` is: the kernel's pointers never lead into the `Op` (the [`OpData`]
/// contract), so it may move at any time, and nothing pins the data (it is never pin-projected).
pub(crate) struct Op<T: OpData> {
    /// Inline; `None` once handed back (`Done`) or to the driver (dropped in flight).
    data: Option<T>,
    state: State,
    cancellable: bool,
    /// The op's registration with the cancel-status tree while it is in flight.
    park: OpPark,
    _not_send: PhantomData<*const ()>,
}

impl<T: OpData> Unpin for Op<T> {}

impl<T: OpData> Op<T> {
    /// An op over `data`, which stays inline (no allocation); submitted at the first poll.
    pub fn new(data: T) -> Op<T> {
        Op { data: Some(data), state: State::Start, cancellable: true, park: OpPark::new(), _not_send: PhantomData }
    }

    /// An op that ignores cancel scopes (used for `close`, which must happen even when cancelled).
    pub fn uncancellable(data: T) -> Op<T> {
        let mut op = Op::new(data);
        op.cancellable = false;
        op
    }
}

/// An op's outcome: the non-negative result, or why it failed; and its data back, by value (the
/// caller may resubmit it in a new `Op` without allocating).
pub(crate) type OpOutput<T> = (Result<u32, OpError>, T);

impl<T: OpData> Future for Op<T> {
    type Output = OpOutput<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OpOutput<T>> {
        let this = self.get_mut();
        match &mut this.state {
            State::Start => {
                let data = this.data.as_mut().expect("op data present until Done");
                if let Some(c) = this.cancellable.then(cancel::current).flatten() {
                    this.state = State::Done;
                    return Poll::Ready((Err(c.into()), this.data.take().expect("data")));
                }
                let submitted = with_core(|core| {
                    let mut entry = data.sqe();
                    if let Some(faults) = &core.testing.faults {
                        entry = crate::testing::faults::inject(faults, entry)?;
                    }
                    // The SQE points only at memory that stays valid and in place when the data
                    // moves, until the data is dropped (OpData contract), so the data must not be
                    // *dropped* before the final completion: `Op` holds it until then, and `Drop`
                    // in flight moves it into a box the driver keeps (`Driver::abandon`). `Op` is
                    // `!Send`, so that `Drop` runs on this thread, where the runtime is alive, or
                    // gone after draining the op, or marked unclean with the data forgotten (H4).
                    // SAFETY: by the above, nothing the SQE names is freed or moved before then.
                    let key = unsafe { core.driver.borrow_mut().submit(entry, cx.waker()) };
                    core.introspect.op_submitted(key.user_data(), || data.info());
                    Ok((core.id, key))
                });
                match submitted {
                    // An injected fault (testing): the op was never submitted, nothing happened.
                    Some(Err(errno)) => {
                        this.state = State::Done;
                        Poll::Ready((Err(OpError::from_errno(errno)), this.data.take().expect("data")))
                    }
                    Some(Ok((core, key))) => {
                        if this.cancellable {
                            // Not cancelled a moment ago (checked above), so this registers.
                            let _ = this.park.park(key, || data.info());
                        }
                        this.state = State::Waiting { core, key, cancel: None };
                        Poll::Pending
                    }
                    None => {
                        this.state = State::Done;
                        Poll::Ready((Err(OpError::NoRuntime), this.data.take().expect("data")))
                    }
                }
            }
            State::Waiting { core, key, cancel } => {
                let (core_id, key) = (*core, *key);
                let mut released = Vec::new();
                let polled = with_core(|c| {
                    if c.id != core_id {
                        return None;
                    }
                    let mut p = c.driver.borrow_mut().poll_op(key, cx);
                    if p.is_pending() && cancel.is_none() && this.cancellable {
                        match this.park.park(key, || this.data.as_ref().map_or(OpInfo::new("?"), |d| d.info())) {
                            OpParkStatus::Parked => {}
                            // A walk queued the op's ASYNC_CANCEL already; its CQE decides.
                            OpParkStatus::Aborted(c) => *cancel = Some(c),
                            OpParkStatus::Cancelled(cancelled) => {
                                let mut driver = c.driver.borrow_mut();
                                driver.cancel(key, &mut released);
                                *cancel = Some(cancelled);
                                // An op still in the SQ backlog never reached the kernel: `cancel`
                                // completed it on the spot, and no CQE will ever wake this task.
                                p = driver.poll_op(key, cx);
                            }
                        }
                    }
                    Some(p)
                })
                .flatten();
                drop(released); // this task is being polled: the backlog op's waker is not needed
                let (res, _flags, at) = match polled {
                    Some(Poll::Pending) => return Poll::Pending,
                    Some(Poll::Ready(r)) => r,
                    None => {
                        // Polled after the runtime that submitted it is gone. Its shutdown
                        // drained the op unless the drain timed out; in that case the kernel may
                        // still write the data's heap parts, so the data must be neither handed
                        // back nor dropped: forgetting it leaks those parts (H4). The inline bytes
                        // are freed with the future, which is fine: the kernel never points there.
                        if was_unclean(core_id) {
                            std::mem::forget(this.data.take());
                            this.state = State::Done;
                            panic!(
                                "quartet: an I/O future was polled after its runtime shut down with the op still in \
                                 the kernel; its buffer was leaked, not returned"
                            );
                        }
                        this.state = State::Done;
                        let e = std::io::Error::other("the runtime that started this operation has shut down");
                        return Poll::Ready((Err(OpError::Io(e)), this.data.take().expect("data")));
                    }
                };
                // Report the reason in force now if the code is still cancelled (an inner scope may
                // have been cancelled since the abort), else the one recorded.
                let aborted = this.park.finish();
                let cancelled = cancel.take().or(aborted).map(|c| cancel::current().unwrap_or(c));
                this.state = State::Done;
                let mut data = this.data.take().expect("data");
                data.delivered(at);
                let out = if res >= 0 {
                    Ok(res as u32)
                } else if res == -libc::ECANCELED || (res == -libc::EINTR && cancelled.is_some()) {
                    match cancelled {
                        Some(c) => Err(OpError::Cancelled(c)),
                        None => Err(OpError::from_errno(libc::ECANCELED)),
                    }
                } else {
                    Err(OpError::from_errno(-res))
                };
                Poll::Ready((out, data))
            }
            // Polled again after it returned: the data went back with the result, so there is
            // nothing left to return, and submitting again would run the op twice. The public
            // futures never get here (`fused::once_pending` stops the second poll before it);
            // for a caller inside the crate, pending and never woken is the safe answer.
            State::Done => Poll::Pending,
        }
    }
}

impl<T: OpData> Drop for Op<T> {
    fn drop(&mut self) {
        let State::Waiting { core, key, cancel } = &self.state else { return };
        // An uncancellable op (close) must still run once abandoned: never cancel it. An op a
        // walk already cancelled needs no second ASYNC_CANCEL.
        let already = self.park.finish().is_some() || cancel.is_some();
        let (core, key, send_cancel) = (*core, *key, !already && self.cancellable);
        let mut data = self.data.take();
        with_core(|c| {
            if c.id == core {
                if let Some(d) = data.take() {
                    // The one allocation of an op's life, on this rare path: the data moves out of
                    // the dying future into a box the driver keeps until the final completion.
                    // Moving it is fine (OpData contract: the kernel's pointers lead elsewhere).
                    c.driver.borrow_mut().abandon(key, Box::new(d), T::CLEANUP, send_cancel);
                }
            }
        });
        if let Some(d) = data {
            // The runtime that submitted this op is gone (an op never leaves its thread, so "not
            // the current core" cannot mean "still running elsewhere"). Its shutdown drained the
            // op unless the drain timed out; then the kernel might still use the heap memory the
            // data owns: forget the data so that memory is leaked, never freed (H4). The inline
            // bytes go with the future; the kernel never points into them.
            if was_unclean(core) {
                std::mem::forget(d);
            }
        }
    }
}

pub(crate) struct Nop;

// SAFETY: NOP carries no pointers.
unsafe impl OpData for Nop {
    const NAME: &'static str = "Nop";
    fn sqe(&mut self) -> squeue::Entry {
        io_uring::opcode::Nop::new().build()
    }
}

/// Submits `data` in an `Op`, then moves the `Op` (and so the inline data) to the heap before the
/// kernel has even seen the SQE (it is still in the SQ), and awaits it there: an SQE that pointed
/// into the inline bytes would make the kernel read and write the old place, and the moved data
/// would miss what the kernel wrote. For the ops' own tests of the `OpData` contract.
#[cfg(all(test, not(loom)))]
pub(crate) async fn submit_then_move<T: OpData>(data: T) -> OpOutput<T> {
    let mut op = Op::new(data);
    let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut op).poll(cx))).await;
    assert!(first.is_pending(), "submitted, not completed before the ring was entered");
    let mut moved = Box::new(op);
    std::future::poll_fn(|cx| Pin::new(&mut *moved).poll(cx)).await
}
