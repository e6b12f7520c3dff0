//! The task cell: a child's one heap block.
//!
//! A child used to be three blocks: the boxed future, an `Rc` join slot shared with its
//! [`JoinHandle`](crate::JoinHandle), and the boxed wrapper that moved the output into it. The
//! cell holds all of it in one `Rc` allocation (async-task's and tokio's task cell): who the task
//! is ([`TaskInfo`], at a stable address for `run_as`), the join state the handle reads, and the
//! future itself, polled in place. The nursery's slot holds the cell as a `ChildTask` trait object;
//! the handle holds it as a [`JoinSide`] trait object.
//!
//! # Invariants
//! - **C1** The future never moves: it is polled through `Pin::new_unchecked` on its place inside
//!   the `Rc` allocation, and it leaves that place only by being dropped in place
//!   ([`ChildTask::release`]); no code takes it out (no `take`, `replace`, `Rc::try_unwrap` or
//!   `Rc::get_mut` on a cell).
//! - **C2** The nursery releases the future (drops it in place) before it lets go of its `Rc`:
//!   when the child finishes, and in `Child`'s `Drop`. So the cell is only ever freed with the
//!   future already gone, whoever holds the last `Rc`, which is what lets the handle's `Rc` forget
//!   the future's lifetime (see `JoinHandle::new`'s caller). A leaked nursery leaks its `Rc`: the
//!   cell is then never freed, and the future never dropped (nor polled, N2).
//! - **C3** The join result is written once (the first of: the output, `Panicked`, `Dropped`)
//!   and the handle's waker woken.
//! - **C4** The future is reached only through [`ChildTask::run`] and [`ChildTask::release`],
//!   and never re-entrantly, so its place needs no borrow flag (a `RefCell`'s 8 bytes took a
//!   sleeping child's cell to the next malloc chunk size): only the nursery holds a
//!   `ChildTask` (`Child` in its slot, and `poll_child`'s clone; a `JoinHandle` sees only the
//!   join state). `run` is called by `poll_child` alone, which marks the slot busy first and
//!   polls no busy slot, so never inside a poll of the same cell; `release` is called by
//!   `poll_child` after the poll returned and by `Child`'s `Drop`, which runs where the nursery
//!   frees a slot (in `poll_child`, after the poll) or drops its children (`Run`'s drop, which
//!   cannot run inside one of its children's polls: the child is polled from `Run::poll`, which
//!   holds `&mut Run`). A future's own code (its poll or its drop) cannot reach its cell.

use crate::child_output::ChildOutput;
use crate::error::BoxError;
use crate::join::{Ended, Slot as JoinSlot};
use quartet_runtime::is_cancellation;
use quartet_runtime::task::TaskInfo;
use std::cell::UnsafeCell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// The nursery's side of a cell.
pub(super) trait ChildTask {
    /// Who the task is (at a stable address while the cell lives).
    fn info(&self) -> &TaskInfo;
    /// Polls the future in place as the current task, timed by a `PollTimer`, catching a panic.
    /// On completion records the value (or why it failed) for the handle and returns what the
    /// nursery must know; the future is not dropped yet. (One virtual call per poll: the task
    /// switch and the timer are monomorphised with the poll.)
    fn run(&self, cx: &mut Context<'_>) -> std::thread::Result<Poll<Result<(), BoxError>>>;
    /// Drops the future in place if it is still there (its `Drop` may panic: the caller catches),
    /// then records `Dropped` (or `Panicked` while unwinding) for the handle if nothing was.
    fn release(&self);
    /// The poll panicked: records `Panicked` for the handle if nothing was.
    fn panicked(&self);
}

/// The handle's side of a cell: only the join state, never the future.
pub(crate) trait JoinSide<T> {
    fn join_slot(&self) -> &JoinSlot<T>;
}

/// One child: its identity, its join state and its future, in one allocation.
pub(super) struct TaskCell<F, V> {
    info: TaskInfo,
    join: JoinSlot<V>,
    /// `None` once released (C1: dropped in place, never moved out); reached only through
    /// `run` and `release`, never re-entrantly (C4).
    future: UnsafeCell<Option<F>>,
}

impl<F, V> TaskCell<F, V>
where
    F: Future,
    F::Output: ChildOutput<Value = V>,
{
    pub(super) fn new(info: TaskInfo, future: F) -> TaskCell<F, V> {
        TaskCell { info, join: JoinSlot::new(), future: UnsafeCell::new(Some(future)) }
    }

    /// Polls the future in place (see [`ChildTask::run`]).
    fn poll(&self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        let out = {
            // SAFETY: C4: no other reference to the future's place exists while `run` (our only
            // caller) polls it: `release` and another `run` of this cell never run meanwhile.
            let slot = unsafe { &mut *self.future.get() };
            let Some(future) = slot.as_mut() else { return Poll::Ready(Ok(())) };
            // SAFETY: C1: the future is inside the cell's `Rc` allocation, which is never moved
            // or reused while the cell lives, and the future leaves its place only by being
            // dropped there (`release`). So it stays pinned from this first poll until its drop.
            let future = unsafe { Pin::new_unchecked(future) };
            match future.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(out) => out,
            }
        };
        Poll::Ready(match out.into_child_result() {
            Ok(v) => {
                self.join.set(Ended::Value(v));
                Ok(())
            }
            Err(e) => {
                self.join.set(if is_cancellation(&*e) { Ended::ChildCancelled } else { Ended::Failed });
                Err(e)
            }
        })
    }
}

impl<F, V> ChildTask for TaskCell<F, V>
where
    F: Future,
    F::Output: ChildOutput<Value = V>,
{
    fn info(&self) -> &TaskInfo {
        &self.info
    }

    fn run(&self, cx: &mut Context<'_>) -> std::thread::Result<Poll<Result<(), BoxError>>> {
        self.info.run_as(|| {
            let _timer = quartet_runtime::hooks::PollTimer::start(Some(&self.info));
            catch_unwind(AssertUnwindSafe(|| self.poll(cx)))
        })
    }

    fn release(&self) {
        {
            // SAFETY: C4: `release` never runs during a `run` of this cell, nor inside itself
            // (the future's drop cannot reach its own cell), so this is the only reference.
            let slot = unsafe { &mut *self.future.get() };
            if slot.is_some() {
                /// Marks the place empty once the future's drop returns or unwinds, without
                /// dropping it a second time.
                struct Emptied<'a, F>(&'a mut Option<F>);
                impl<F> Drop for Emptied<'_, F> {
                    fn drop(&mut self) {
                        // SAFETY: the `Some` payload was just dropped in place (or its drop
                        // unwound, after which it must not be touched again); `write` puts
                        // `None` over it without reading or dropping the old value.
                        unsafe { std::ptr::write(self.0 as *mut Option<F>, None) }
                    }
                }
                let emptied = Emptied(slot);
                if let Some(future) = emptied.0.as_mut() {
                    let future: *mut F = future;
                    // SAFETY: C1: the future is dropped in the place it was pinned in, exactly
                    // once: `emptied` then overwrites the `Some` with `None` (also if this drop
                    // panics), so no later borrow sees a dropped future.
                    unsafe { std::ptr::drop_in_place(future) };
                }
            }
        }
        self.join.set(if std::thread::panicking() { Ended::Panicked } else { Ended::Dropped });
    }

    fn panicked(&self) {
        self.join.set(Ended::Panicked);
    }
}

impl<F, V> JoinSide<V> for TaskCell<F, V> {
    fn join_slot(&self) -> &JoinSlot<V> {
        &self.join
    }
}

/// A sleeping child's cell is its largest record: 136 bytes, so that with the `Rc`'s counts (16)
/// and malloc's header (8) it takes a 160-byte chunk (at 152 it took 176, at 160 192).
#[cfg(all(test, target_pointer_width = "64"))]
#[test]
fn a_sleeping_child_s_cell_fits_a_160_byte_chunk() {
    let cell = std::mem::size_of::<TaskCell<quartet_runtime::Sleep, ()>>();
    assert!(cell <= 136, "TaskCell<Sleep>: {cell}");
    // And its slot: 16 bytes, a child or the next free slot (no tag, no `busy` field).
    assert_eq!(std::mem::size_of::<super::slots::Slot<'static>>(), 16);
}
