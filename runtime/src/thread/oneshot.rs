//! A one-value channel between threads: the result slot of `to_thread` and `from_thread`.
//!
//! Loom-checked in `runtime/tests/loom_to_thread.rs`. All state is under one lock; the protocol
//! that keeps wake-ups from being lost is the usual one: the receiver checks for the value and
//! stores its waker in the *same* critical section, and the sender stores the value and takes the
//! waker in one critical section, waking it after unlocking. So a value sent after the check finds
//! the waker, and a value sent before it is seen by the check.
//!
//! Drops: a value sent to a receiver that is gone is handed back to the sender (`send` returns
//! `Err(value)`), so it is dropped on the sending thread; a value the receiver never took is
//! dropped by the receiver's drop, outside the lock.

use crate::sync::{Arc, Mutex, lock, thread};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

/// The sender went away without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sending side was dropped without sending a value")]
pub struct RecvError;

struct State<T> {
    value: Option<T>,
    waker: Option<Waker>,
    sender_alive: bool,
    receiver_alive: bool,
}

struct Inner<T> {
    state: Mutex<State<T>>,
}

/// Creates a channel for one value.
///
/// # Examples
/// ```
/// let (tx, rx) = quartet_runtime::thread::oneshot::channel();
/// std::thread::spawn(move || tx.send(7).unwrap());
/// assert_eq!(rx.recv_blocking(), Ok(7));
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State { value: None, waker: None, sender_alive: true, receiver_alive: true }),
    });
    (Sender { inner: Some(inner.clone()) }, Receiver { inner })
}

/// Sends the value. `Send` if `T` is.
pub struct Sender<T> {
    inner: Option<Arc<Inner<T>>>,
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("closed", &self.is_closed()).finish()
    }
}

impl<T> Sender<T> {
    /// Stores the value and wakes the receiver.
    ///
    /// # Errors
    /// Gives the value back if the receiver has been dropped.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self.inner.take().expect("sender used once");
        let waker = {
            let mut st = lock(&inner.state);
            st.sender_alive = false;
            if !st.receiver_alive {
                return Err(value);
            }
            st.value = Some(value);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// True once the receiver has been dropped: nobody wants the value any more.
    pub fn is_closed(&self) -> bool {
        self.inner.as_ref().is_none_or(|i| !lock(&i.state).receiver_alive)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else { return };
        let waker = {
            let mut st = lock(&inner.state);
            st.sender_alive = false;
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Receives the value: as a future, or by blocking the thread.
pub struct Receiver<T> {
    inner: Arc<Inner<T>>,
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it has arrived; otherwise registers `cx`'s waker.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let mut st = lock(&self.inner.state);
        if let Some(v) = st.value.take() {
            return Poll::Ready(Ok(v));
        }
        if !st.sender_alive {
            return Poll::Ready(Err(RecvError));
        }
        // Planted bug (scripts/mutants.sh): check and registration in two critical sections.
        if crate::mutant::planted("oneshot_split_check") {
            drop(st);
            st = lock(&self.inner.state);
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Blocks this thread until the value arrives or the sender is dropped. Never call it on the
    /// runtime thread: it would stop the loop.
    ///
    /// # Errors
    /// [`RecvError`] if the sender was dropped without sending.
    pub fn recv_blocking(mut self) -> Result<T, RecvError> {
        let waker = Waker::from(std::sync::Arc::new(Unparker(thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(r) = self.poll_recv(&mut cx) {
                return r;
            }
            thread::park();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let (value, waker) = {
            let mut st = lock(&self.inner.state);
            st.receiver_alive = false;
            (st.value.take(), st.waker.take())
        };
        drop(waker);
        drop(value);
    }
}

/// Wakes a thread blocked in [`Receiver::recv_blocking`].
struct Unparker(thread::Thread);

impl Wake for Unparker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.unpark();
    }
}
