//! The channel core shared by every handle, and the send/receive operations as state machines
//! that the futures and the `Stream` impl drive.
//!
//! One mutex guards the buffer, the handle counts and the parked operations (parked senders in
//! the wait set's first queue, each holding its value; parked receivers in the second).
//! Invariants under the mutex:
//! - parked receivers exist only while the buffer is empty (a send hands its value straight to
//!   the oldest one);
//! - parked senders exist only while the buffer is at least full (a receive that frees a slot
//!   moves the oldest parked sender's value into the buffer, or takes it directly when the
//!   capacity is 0), so values come out in the order their sends were accepted;
//! - a value leaves the channel only into a receive operation; if that operation is dropped before
//!   returning it, the value is put back at the front (to the oldest parked receiver, or the
//!   buffer), so it is never lost while a receiver is open.
//!
//! Values and wakers are dropped and woken only after the mutex is released.

use super::error::{RecvError, SendError};
use crate::sync::waitset::{Key, Queue, WaitSet, Waiter};
use quartet_runtime::hooks::Park;
use quartet_runtime::sync::{Mutex, MutexGuard, lock};
use quartet_runtime::{Cancelled, cancel};
use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

pub(crate) const SEND_Q: Queue = Queue::First;
pub(crate) const RECV_Q: Queue = Queue::Second;

/// The capacity that means "unbounded".
pub(crate) const UNBOUNDED: usize = usize::MAX;

#[derive(Debug)]
pub(crate) struct State<T> {
    pub buffer: VecDeque<T>,
    pub capacity: usize,
    pub peak: usize,
    pub senders: usize,
    pub receivers: usize,
    pub waiters: WaitSet<Waiter<T>>,
}

/// Why a value could not be sent without waiting.
pub(crate) enum Refused<T> {
    Full(T),
    Broken(T),
}

/// Why nothing could be received without waiting.
pub(crate) enum Nothing {
    Empty,
    End,
}

impl<T> State<T> {
    /// Sends without waiting: to the oldest parked receiver, else into the buffer.
    pub fn try_send(&mut self, value: T) -> Result<Option<Waker>, Refused<T>> {
        if self.receivers == 0 {
            return Err(Refused::Broken(value));
        }
        if let Some(k) = self.waiters.pop_front(RECV_Q) {
            let w = self.waiters.get_mut(k);
            w.value = Some(value);
            return Ok(w.complete());
        }
        if self.buffer.len() < self.capacity {
            self.push_back(value);
            return Ok(None);
        }
        Err(Refused::Full(value))
    }

    /// Receives without waiting: the buffer's front (admitting the oldest parked sender's value
    /// into the freed slot), else straight from the oldest parked sender. Also returns the waker
    /// of the sender whose value was accepted.
    pub fn try_recv(&mut self) -> Result<(T, Option<Waker>), Nothing> {
        if let Some(v) = self.buffer.pop_front() {
            let mut woken = None;
            if self.buffer.len() < self.capacity {
                if let Some(k) = self.waiters.pop_front(SEND_Q) {
                    let w = self.waiters.get_mut(k);
                    let admitted = w.value.take().expect("a parked sender holds its value");
                    woken = w.complete();
                    self.push_back(admitted);
                }
            }
            return Ok((v, woken));
        }
        if let Some(k) = self.waiters.pop_front(SEND_Q) {
            let w = self.waiters.get_mut(k);
            let v = w.value.take().expect("a parked sender holds its value");
            return Ok((v, w.complete()));
        }
        Err(if self.senders == 0 { Nothing::End } else { Nothing::Empty })
    }

    /// Puts back a value that a dropped receive operation had taken: to the oldest parked
    /// receiver, else the buffer's front. With no receiver left, hands the value back to drop.
    fn unreceive(&mut self, value: T) -> (Option<Waker>, Option<T>) {
        if self.receivers == 0 {
            return (None, Some(value));
        }
        if let Some(k) = self.waiters.pop_front(RECV_Q) {
            let w = self.waiters.get_mut(k);
            w.value = Some(value);
            return (w.complete(), None);
        }
        self.buffer.push_front(value);
        self.peak = self.peak.max(self.buffer.len());
        (None, None)
    }

    fn push_back(&mut self, value: T) {
        self.buffer.push_back(value);
        self.peak = self.peak.max(self.buffer.len());
    }
}

/// The shared part of a channel.
#[derive(Debug)]
pub(crate) struct Chan<T> {
    state: Mutex<State<T>>,
}

impl<T> Chan<T> {
    pub fn new(capacity: usize) -> Chan<T> {
        let state =
            State { buffer: VecDeque::new(), capacity, peak: 0, senders: 1, receivers: 1, waiters: WaitSet::default() };
        Chan { state: Mutex::new(state) }
    }

    pub fn state(&self) -> MutexGuard<'_, State<T>> {
        lock(&self.state)
    }

    /// One sender handle closed. The last one ends the channel: parked receivers are woken to see
    /// the end.
    pub fn close_sender(&self) {
        let wakers = {
            let mut st = self.state();
            st.senders -= 1;
            if st.senders > 0 {
                return;
            }
            st.waiters.kick_all(RECV_Q)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// One receiver handle closed. The last one breaks the channel: parked senders are woken to
    /// take their values back, and buffered values are dropped.
    pub fn close_receiver(&self) {
        let (wakers, buffer) = {
            let mut st = self.state();
            st.receivers -= 1;
            if st.receivers > 0 {
                return;
            }
            (st.waiters.kick_all(SEND_Q), std::mem::take(&mut st.buffer))
        };
        drop(buffer);
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// A send in progress.
#[derive(Debug)]
pub(crate) enum SendOp<T> {
    Start(T),
    /// Refused before it started (closed handle): returned at once.
    Fail(SendError<T>),
    /// Finished; yielding once before returning the outcome.
    Yield(Result<(), SendError<T>>),
    /// Queued; parked on the cancel-status tree so a cancel wakes it.
    Parked(Key, Park),
    Done,
}

impl<T> SendOp<T> {
    /// Drops whatever the op still owns and leaves it `Done` (the future's `Drop`, after
    /// `abandon`; the future keeps the op in a `ManuallyDrop`). A finished op owns nothing: one
    /// test.
    #[inline]
    pub fn release(&mut self) {
        if !matches!(self, SendOp::Done) {
            self.release_owned();
        }
    }

    #[inline(never)]
    fn release_owned(&mut self) {
        drop(std::mem::replace(self, SendOp::Done));
    }

    /// Whether the op has finished (returned `Ready`).
    pub fn is_done(&self) -> bool {
        matches!(self, SendOp::Done)
    }

    pub fn poll(&mut self, chan: &Chan<T>, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        // The checkpoint's second poll, the most common one: finished in place, with nothing to
        // move out (the other states are taken out with `mem::replace` below).
        if let SendOp::Yield(Ok(())) = self {
            set_state(self, SendOp::Done); // `Yield(Ok(()))` owns nothing
            return Poll::Ready(Ok(()));
        }
        match std::mem::replace(self, SendOp::Done) {
            SendOp::Start(value) => {
                if let Some(cancelled) = cancel::current() {
                    return Poll::Ready(Err(SendError::Cancelled { value, cancelled }));
                }
                let mut st = chan.state();
                let outcome = match st.try_send(value) {
                    Ok(woken) => {
                        drop(st);
                        wake(woken);
                        Ok(())
                    }
                    Err(Refused::Broken(v)) => Err(SendError::Broken(v)),
                    Err(Refused::Full(v)) => {
                        // One clone of the context's waker (a lent child waker makes its slot's
                        // waker); the second, for the cancel leaf, is a count on that one.
                        let waker = cx.waker().clone();
                        let key = st.waiters.insert(SEND_Q, Waiter::with_waker(waker.clone(), Some(v)));
                        drop(st);
                        let mut park = Park::waiting_for(quartet_runtime::introspect::WaitKind::Channel);
                        // Not cancelled a moment ago (checked above), so this registers.
                        let _ = park.park_owned(waker);
                        set_state(self, SendOp::Parked(key, park));
                        return Poll::Pending;
                    }
                };
                set_state(self, SendOp::Yield(outcome));
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            SendOp::Yield(outcome) => Poll::Ready(outcome),
            // A closed handle refuses, but a cancellation comes first, as in Trio (whose `send`
            // checks for cancellation before `send_nowait` raises `ClosedResourceError`).
            SendOp::Fail(e) => Poll::Ready(Err(match cancel::current() {
                Some(cancelled) => SendError::Cancelled { value: e.into_inner(), cancelled },
                None => e,
            })),
            SendOp::Parked(key, mut park) => {
                let mut st = chan.state();
                if st.waiters.get(key).done {
                    st.waiters.remove(key);
                    return Poll::Ready(Ok(())); // served: `park` is dropped (unparked) here
                }
                let cancelled = park.park(cx).err();
                // Cancellation first (level-triggered): a cancelled, unserved send reports
                // `Cancelled`, not whatever else happened to the channel meanwhile.
                if let Some(cancelled) = cancelled {
                    let value = st.waiters.remove(key).value.expect("an unserved sender holds its value");
                    return Poll::Ready(Err(SendError::Cancelled { value, cancelled }));
                }
                if st.receivers == 0 {
                    let v = st.waiters.remove(key).value.expect("an unserved sender holds its value");
                    return Poll::Ready(Err(SendError::Broken(v)));
                }
                st.waiters.get_mut(key).set_waker(cx.waker());
                set_state(self, SendOp::Parked(key, park));
                Poll::Pending
            }
            // Polled again after it returned (misuse). Every `SendError` gives a value back and
            // this send has none left, so it stays pending and is never woken (like a fused
            // future); `SendFuture::is_terminated` tells. Not a panic.
            SendOp::Done => Poll::Pending,
        }
    }

    /// Withdraws a parked send (its value, not delivered, is dropped with the op).
    #[inline]
    pub fn abandon(&mut self, chan: &Chan<T>) {
        // Only a parked send has something to withdraw; the other states drop as they are.
        if matches!(self, SendOp::Parked(..)) {
            self.withdraw(chan);
        }
    }

    /// [`SendOp::abandon`] for a parked send (out of line, off the path of a finished send).
    #[inline(never)]
    fn withdraw(&mut self, chan: &Chan<T>) {
        if let SendOp::Parked(key, _park) = std::mem::replace(self, SendOp::Done) {
            let waiter = chan.state().waiters.remove(key);
            drop(waiter);
        }
    }
}

/// A receive in progress.
#[derive(Debug)]
pub(crate) enum RecvOp<T> {
    Start,
    /// Refused before it started (closed handle): returned at once.
    Fail(RecvError),
    /// Finished; yielding once before returning the outcome.
    Yield(Option<T>),
    /// Queued; parked on the cancel-status tree so a cancel wakes it.
    Parked(Key, Park),
    Done,
}

impl<T> RecvOp<T> {
    /// Drops whatever the op still owns and leaves it `Done` (the future's `Drop`, after
    /// `abandon`; the future keeps the op in a `ManuallyDrop`). A finished op owns nothing: one
    /// test.
    #[inline]
    pub fn release(&mut self) {
        if !matches!(self, RecvOp::Done) {
            self.release_owned();
        }
    }

    #[inline(never)]
    fn release_owned(&mut self) {
        drop(std::mem::replace(self, RecvOp::Done));
    }

    /// Whether the op has finished (returned `Ready`).
    pub fn is_done(&self) -> bool {
        matches!(self, RecvOp::Done)
    }

    pub fn poll(&mut self, chan: &Chan<T>, cx: &mut Context<'_>) -> Poll<Result<Option<T>, RecvError>> {
        // The checkpoint's second poll, the most common one: only the value moves out.
        if let RecvOp::Yield(got) = self {
            let got = got.take();
            set_state(self, RecvOp::Done); // `Yield(None)` owns nothing
            return Poll::Ready(Ok(got));
        }
        match std::mem::replace(self, RecvOp::Done) {
            RecvOp::Start => {
                if let Some(c) = cancel::current() {
                    return Poll::Ready(Err(RecvError::Cancelled(c)));
                }
                let mut st = chan.state();
                let got = match st.try_recv() {
                    Ok((v, woken)) => {
                        drop(st);
                        wake(woken);
                        Some(v)
                    }
                    Err(Nothing::End) => None,
                    Err(Nothing::Empty) => {
                        // One clone of the context's waker (a lent child waker makes its slot's
                        // waker); the second, for the cancel leaf, is a count on that one.
                        let waker = cx.waker().clone();
                        let key = st.waiters.insert(RECV_Q, Waiter::with_waker(waker.clone(), None));
                        drop(st);
                        let mut park = Park::waiting_for(quartet_runtime::introspect::WaitKind::Channel);
                        // Not cancelled a moment ago (checked above), so this registers.
                        let _ = park.park_owned(waker);
                        set_state(self, RecvOp::Parked(key, park));
                        return Poll::Pending;
                    }
                };
                set_state(self, RecvOp::Yield(got));
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            RecvOp::Yield(got) => Poll::Ready(Ok(got)),
            // As for a send: a cancellation comes before the closed handle's refusal.
            RecvOp::Fail(e) => Poll::Ready(Err(cancel::current().map_or(e, RecvError::Cancelled))),
            RecvOp::Parked(key, mut park) => {
                let mut st = chan.state();
                if st.waiters.get(key).done {
                    let v = st.waiters.remove(key).value;
                    return Poll::Ready(Ok(v));
                }
                if st.senders == 0 {
                    // The end woke us; values put back by dropped receives may still be there.
                    st.waiters.remove(key);
                    let got = st.try_recv().ok().map(|(v, _)| v);
                    return Poll::Ready(Ok(got));
                }
                if let Err(c) = park.park(cx) {
                    st.waiters.remove(key);
                    return Poll::Ready(Err(RecvError::Cancelled(c)));
                }
                st.waiters.get_mut(key).set_waker(cx.waker());
                set_state(self, RecvOp::Parked(key, park));
                Poll::Pending
            }
            // Polled again after it returned (misuse): a typed error, not a panic.
            RecvOp::Done => {
                Poll::Ready(Err(RecvError::Cancelled(Cancelled::new(quartet_runtime::Reason::PolledAfterCompletion))))
            }
        }
    }

    /// Withdraws a receive; a value it had already taken goes back into the channel.
    #[inline]
    pub fn abandon(&mut self, chan: &Chan<T>) {
        // Only a parked receive or one holding a value has something to give back.
        if matches!(self, RecvOp::Parked(..) | RecvOp::Yield(Some(_))) {
            self.give_back(chan);
        }
    }

    /// [`RecvOp::abandon`] for a receive that has something to give back (out of line: a
    /// finished receive, the usual case, only pays the test above).
    #[inline(never)]
    fn give_back(&mut self, chan: &Chan<T>) {
        let (woken, dropped) = match std::mem::replace(self, RecvOp::Done) {
            RecvOp::Parked(key, _park) => {
                let mut st = chan.state();
                let w = st.waiters.remove(key);
                match w.value {
                    // Planted bug (scripts/mutants.sh): the taken value is dropped, not put back.
                    Some(v) if w.done && !quartet_runtime::mutant::planted("recv_drop_loses_value") => st.unreceive(v),
                    _ => return,
                }
            }
            RecvOp::Yield(Some(v)) => chan.state().unreceive(v),
            RecvOp::Yield(None) | RecvOp::Start | RecvOp::Fail(_) | RecvOp::Done => return,
        };
        drop(dropped);
        wake(woken);
    }
}

/// Stores `next` as an op's state where the old state is known to own nothing (`Done`, just
/// taken with `mem::replace`, or a finished state without a value): no drop glue runs on this
/// hot path.
#[inline]
fn set_state<S>(state: &mut S, next: S) {
    std::mem::forget(std::mem::replace(state, next));
}

#[inline]
fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}
