//! The two things a [`CapacityLimiter`] hands out: a [`Token`] (a borrowed unit, given back on
//! drop, on any thread) and the [`Acquire`] future that waits for one (FIFO, cancellable: a
//! waiter that gives up after being handed a token passes it on, invariant 1 of the parent).

use super::*;

/// A borrowed token; dropping it (on any thread) gives it back.
///
/// # Examples
/// ```
/// let limiter = quartet_runtime::thread::CapacityLimiter::new(1);
/// let token = limiter.try_acquire().unwrap();
/// assert_eq!(limiter.available(), 0);
/// std::thread::spawn(move || drop(token)).join().unwrap(); // released on another thread
/// assert_eq!(limiter.available(), 1);
/// ```
#[must_use = "dropping the token releases it at once"]
pub struct Token {
    pub(super) shared: Arc<Shared>,
    pub(super) borrower: Borrower,
}

impl Token {
    /// Who borrowed it.
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// let l = CapacityLimiter::new(1);
    /// let t = l.try_acquire().unwrap();
    /// assert!(l.borrowers().contains(&t.borrower()));
    /// ```
    pub fn borrower(&self) -> Borrower {
        self.borrower
    }

    /// The limiter it belongs to.
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// let l = CapacityLimiter::new(1);
    /// let t = l.try_acquire().unwrap();
    /// assert_eq!(t.limiter().total(), 1);
    /// ```
    pub fn limiter(&self) -> CapacityLimiter {
        CapacityLimiter { shared: self.shared.clone() }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token").field("borrower", &self.borrower).finish()
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.shared.release(self.borrower);
    }
}

pub(super) enum AcquireState {
    Start,
    /// Took a free token; yields once before returning it.
    Yielding(Token),
    Waiting(u64),
    Done,
}

/// The future of [`CapacityLimiter::acquire`].
///
/// # Examples
/// ```
/// # quartet_runtime::run(async {
/// let limiter = quartet_runtime::thread::CapacityLimiter::new(1);
/// let acquire: quartet_runtime::thread::limiter::Acquire = limiter.acquire();
/// let token = acquire.await?;
/// # drop(token);
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire {
    pub(super) shared: Arc<Shared>,
    pub(super) borrower: Borrower,
    pub(super) state: AcquireState,
    /// Parked on the cancel-status tree while waiting for a token.
    pub(super) park: cancel::Park,
}

impl fmt::Debug for Acquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire").field("borrower", &self.borrower).finish_non_exhaustive()
    }
}

impl Acquire {
    /// Leaves the queue; a token already handed to this waiter goes back to the limiter.
    fn give_up(&mut self) {
        let AcquireState::Waiting(id) = std::mem::replace(&mut self.state, AcquireState::Done) else { return };
        let mut wake = Vec::new();
        {
            let mut st = lock(&self.shared.state);
            if let Some(pos) = st.granted.iter().position(|&g| g == id) {
                st.granted.swap_remove(pos);
                st.give_back(self.borrower, &mut wake);
            } else if let Some(pos) = st.waiters.iter().position(|w| w.id == id) {
                st.waiters.remove(pos);
            }
        }
        wake.into_iter().for_each(Waker::wake);
    }
}

impl Future for Acquire {
    type Output = Result<Token, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match std::mem::replace(&mut this.state, AcquireState::Done) {
            AcquireState::Start => {
                if let Some(c) = cancel::current() {
                    return Poll::Ready(Err(c));
                }
                let mut st = lock(&this.shared.state);
                if st.borrowed < st.total && st.waiters.is_empty() {
                    st.lend(this.borrower);
                    drop(st);
                    this.state = AcquireState::Yielding(Token { shared: this.shared.clone(), borrower: this.borrower });
                    cx.waker().wake_by_ref();
                } else {
                    let id = st.next_waiter;
                    st.next_waiter += 1;
                    st.waiters.push_back(Waiter { id, borrower: this.borrower, waker: cx.waker().clone() });
                    drop(st);
                    this.state = AcquireState::Waiting(id);
                    // Not cancelled a moment ago (checked above), so this registers.
                    if let Err(c) = this.park.park(cx) {
                        this.give_up();
                        return Poll::Ready(Err(c));
                    }
                }
                Poll::Pending
            }
            AcquireState::Yielding(token) => Poll::Ready(Ok(token)),
            AcquireState::Waiting(id) => {
                this.state = AcquireState::Waiting(id);
                if let Err(c) = this.park.park(cx) {
                    this.park.unpark();
                    this.give_up();
                    return Poll::Ready(Err(c));
                }
                let mut st = lock(&this.shared.state);
                if let Some(pos) = st.granted.iter().position(|&g| g == id) {
                    st.granted.swap_remove(pos);
                    drop(st);
                    this.park.unpark();
                    this.state = AcquireState::Done;
                    return Poll::Ready(Ok(Token { shared: this.shared.clone(), borrower: this.borrower }));
                }
                if let Some(w) = st.waiters.iter_mut().find(|w| w.id == id) {
                    if !w.waker.will_wake(cx.waker()) {
                        w.waker = cx.waker().clone();
                    }
                }
                Poll::Pending
            }
            // Polled again after it returned (misuse): a typed error, not a panic.
            AcquireState::Done => Poll::Ready(Err(Cancelled::new(crate::Reason::PolledAfterCompletion))),
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        self.give_up();
    }
}
