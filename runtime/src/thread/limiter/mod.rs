//! [`CapacityLimiter`]: a counted, borrower-tracked, FIFO-fair semaphore usable from any thread
//! (Trio's `trio.CapacityLimiter`). It bounds [`to_thread`](crate::thread::to_thread), and programs
//! use it directly to bound anything else (connections, memory-hungry jobs).
//!
//! Invariants (all state is under one lock, so they hold whenever the lock is free):
//! 1. `borrowed` counts every token that exists: held by a [`Token`], or handed to a waiter that
//!    has not picked it up yet (`granted`). Each token is released exactly once (when its `Token`
//!    drops, or when the waiter it was handed to gives up), so the count never leaks.
//! 2. Waiters exist only while `borrowed >= total`: a release or a raised total hands tokens
//!    straight to the oldest waiters (hand-off), so nobody can barge ahead of the queue (FIFO).
//! 3. Wakers are called after the lock is released, so a waker that runs code (or re-enters the
//!    limiter) cannot deadlock it.
//!
//! `borrowed` may exceed `total` after the total is lowered; new borrowing then waits until enough
//! tokens have come back.

use crate::cancel;
use crate::error::Cancelled;
use crate::sync::{Arc, Mutex, lock};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Who holds a token. Each [`CapacityLimiter::acquire`] borrows on behalf of a fresh borrower;
/// [`CapacityLimiter::acquire_on_behalf_of`] lets a program name one, and the limiter then refuses
/// to lend that borrower a second token at once (Trio's rule, which catches a task deadlocking on
/// itself).
///
/// # Examples
/// ```
/// use quartet_runtime::thread::{Borrower, CapacityLimiter, TryAcquireError};
/// let limiter = CapacityLimiter::new(5);
/// let me = Borrower::new();
/// let token = limiter.try_acquire_on_behalf_of(me)?;
/// assert_eq!(token.borrower(), me);
/// // A second token for the same borrower is refused: it would deadlock on itself.
/// assert!(matches!(limiter.try_acquire_on_behalf_of(me), Err(TryAcquireError::AlreadyBorrowing { .. })));
/// # Ok::<(), TryAcquireError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Borrower(u64);

impl Borrower {
    /// A borrower id never handed out before in this process.
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// assert_ne!(Borrower::new(), Borrower::new());
    /// ```
    pub fn new() -> Borrower {
        // A plain std atomic: ids only need to be unique, this is not cross-thread state.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Borrower(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// The numeric id.
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// let b = Borrower::new();
    /// println!("borrower #{}", b.id());
    /// ```
    pub fn id(self) -> u64 {
        self.0
    }
}

impl Default for Borrower {
    fn default() -> Self {
        Self::new()
    }
}

/// Why [`CapacityLimiter::try_acquire`] did not lend a token.
///
/// # Examples
/// ```
/// use quartet_runtime::thread::{CapacityLimiter, TryAcquireError};
/// let limiter = CapacityLimiter::new(1);
/// let _held = limiter.try_acquire()?;
/// assert!(matches!(limiter.try_acquire(), Err(TryAcquireError::NoCapacity { .. })));
/// # Ok::<(), TryAcquireError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// Every token is borrowed (or others are already waiting for one).
    #[error("no token available: all {total} are borrowed or promised to waiting tasks")]
    NoCapacity {
        /// The limiter's total at the time.
        total: usize,
    },
    /// This borrower already holds a token of this limiter.
    #[error("borrower {0:?} already holds a token of this CapacityLimiter")]
    AlreadyBorrowing(Borrower),
}

/// Why [`CapacityLimiter::acquire_on_behalf_of`] failed.
///
/// # Examples
/// ```
/// use quartet_runtime::thread::{AcquireError, CapacityLimiter};
/// # quartet_runtime::run(async {
/// let limiter = CapacityLimiter::new(2);
/// let me = limiter.try_acquire()?.borrower(); // a token held by `me`, dropped at once
/// let held = limiter.acquire_on_behalf_of(me).await?;
/// let again = limiter.acquire_on_behalf_of(held.borrower()).await;
/// assert!(matches!(again, Err(AcquireError::AlreadyBorrowing { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcquireError {
    /// The caller was cancelled; it holds nothing.
    #[error("{0}")]
    Cancelled(#[source] Cancelled),
    /// This borrower already holds a token of this limiter.
    #[error("borrower {0:?} already holds a token of this CapacityLimiter")]
    AlreadyBorrowing(Borrower),
}

impl crate::fused::PolledAgain for AcquireError {
    /// `Cancelled` with [`Reason::PolledAfterCompletion`](crate::Reason::PolledAfterCompletion)
    /// (misuse, not a cancellation).
    fn polled_again() -> Self {
        AcquireError::Cancelled(Cancelled::polled_again())
    }
}

/// A snapshot of a limiter's counters.
///
/// # Examples
/// ```
/// let limiter = quartet_runtime::thread::CapacityLimiter::new(3);
/// let _t = limiter.try_acquire().unwrap();
/// let s = limiter.stats();
/// assert_eq!((s.borrowed, s.total, s.waiting), (1, 3, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimiterStats {
    /// Tokens lent out (including ones handed to a waiter that has not woken yet).
    pub borrowed: usize,
    /// The current total.
    pub total: usize,
    /// Acquires waiting for a token.
    pub waiting: usize,
}

struct Waiter {
    id: u64,
    borrower: Borrower,
    waker: Waker,
}

struct State {
    total: usize,
    borrowed: usize,
    /// How many tokens each borrower holds (1, unless concurrent acquires raced).
    borrowers: HashMap<Borrower, usize>,
    waiters: VecDeque<Waiter>,
    /// Waiter ids that were handed a token and have not picked it up.
    granted: Vec<u64>,
    next_waiter: u64,
}

impl State {
    fn lend(&mut self, b: Borrower) {
        self.borrowed += 1;
        *self.borrowers.entry(b).or_insert(0) += 1;
    }

    /// Takes one token back from `b` and hands free tokens to the oldest waiters.
    fn give_back(&mut self, b: Borrower, wake: &mut Vec<Waker>) {
        self.borrowed -= 1;
        if let Some(n) = self.borrowers.get_mut(&b) {
            *n -= 1;
            if *n == 0 {
                self.borrowers.remove(&b);
            }
        }
        // Planted bug (scripts/mutants.sh): a released token is not handed to a waiter.
        if !crate::mutant::planted("limiter_release_no_hand_off") {
            self.hand_off(wake);
        }
    }

    fn hand_off(&mut self, wake: &mut Vec<Waker>) {
        while self.borrowed < self.total {
            let Some(w) = self.waiters.pop_front() else { break };
            self.lend(w.borrower);
            self.granted.push(w.id);
            wake.push(w.waker);
        }
    }
}

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn release(&self, b: Borrower) {
        let mut wake = Vec::new();
        lock(&self.state).give_back(b, &mut wake);
        wake.into_iter().for_each(Waker::wake);
    }
}

/// A limit on how many things may happen at once: `total` tokens, lent out one per borrower.
///
/// Cloning gives another handle to the same limiter. It is `Send + Sync`: tokens may be released
/// on any thread (worker threads release [`to_thread`](crate::thread::to_thread)'s tokens).
///
/// - Fair: waiters get tokens in the order they started waiting; a release hands its token
///   directly to the oldest waiter.
/// - Adjustable: [`set_total`](Self::set_total) at any time; raising it wakes waiters, lowering it
///   lets current borrowers keep their tokens.
/// - Cancellation-atomic: a cancelled [`acquire`](Self::acquire) holds nothing, and a token handed
///   to it just before it noticed the cancellation goes back to the limiter (to the next waiter).
///
/// # Examples
/// ```no_run
/// use quartet_runtime::thread::CapacityLimiter;
/// quartet_runtime::run(async {
///     let limiter = CapacityLimiter::new(2);
///     let token = limiter.acquire().await?; // a checkpoint
///     assert_eq!(limiter.stats().borrowed, 1);
///     drop(token); // gives the token back
///     assert_eq!(limiter.available(), 2);
///     Ok::<(), quartet_runtime::Cancelled>(())
/// }).unwrap().unwrap();
/// ```
#[derive(Clone)]
pub struct CapacityLimiter {
    shared: Arc<Shared>,
}

impl fmt::Debug for CapacityLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.stats();
        f.debug_struct("CapacityLimiter")
            .field("borrowed", &s.borrowed)
            .field("total", &s.total)
            .field("waiting", &s.waiting)
            .finish()
    }
}

impl CapacityLimiter {
    /// A limiter with `total` tokens. A total of 0 is allowed and means "nothing may borrow until
    /// the total is raised".
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// let db_connections = CapacityLimiter::new(10);
    /// assert_eq!(db_connections.available(), 10);
    /// ```
    pub fn new(total: usize) -> CapacityLimiter {
        let state = State {
            total,
            borrowed: 0,
            borrowers: HashMap::new(),
            waiters: VecDeque::new(),
            granted: Vec::new(),
            next_waiter: 0,
        };
        CapacityLimiter { shared: Arc::new(Shared { state: Mutex::new(state) }) }
    }

    /// The total number of tokens.
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// assert_eq!(CapacityLimiter::new(3).total(), 3);
    /// ```
    pub fn total(&self) -> usize {
        lock(&self.shared.state).total
    }

    /// Changes the total. Raising it hands the new tokens to waiters at once; lowering it below
    /// the number borrowed takes nothing away, but new borrowing waits until enough have come back.
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// let l = CapacityLimiter::new(1);
    /// let _t = l.try_acquire().unwrap();
    /// l.set_total(2); // one more may borrow now
    /// assert!(l.try_acquire().is_ok());
    /// ```
    pub fn set_total(&self, total: usize) {
        let mut wake = Vec::new();
        {
            let mut st = lock(&self.shared.state);
            st.total = total;
            st.hand_off(&mut wake);
        }
        wake.into_iter().for_each(Waker::wake);
    }

    /// Tokens lent out.
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// let l = CapacityLimiter::new(2);
    /// let _t = l.try_acquire().unwrap();
    /// assert_eq!(l.borrowed(), 1);
    /// ```
    pub fn borrowed(&self) -> usize {
        lock(&self.shared.state).borrowed
    }

    /// Tokens that could be borrowed right now (0 if the total was lowered below `borrowed`).
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// let l = CapacityLimiter::new(2);
    /// let _t = l.try_acquire().unwrap();
    /// assert_eq!(l.available(), 1);
    /// ```
    pub fn available(&self) -> usize {
        let st = lock(&self.shared.state);
        st.total.saturating_sub(st.borrowed)
    }

    /// Borrowed, total and waiting, read at one instant.
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// let s = CapacityLimiter::new(2).stats();
    /// assert_eq!((s.borrowed, s.total, s.waiting), (0, 2, 0));
    /// ```
    pub fn stats(&self) -> LimiterStats {
        let st = lock(&self.shared.state);
        LimiterStats { borrowed: st.borrowed, total: st.total, waiting: st.waiters.len() }
    }

    /// The borrowers holding tokens now (in no particular order).
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// let l = CapacityLimiter::new(2);
    /// let t = l.try_acquire().unwrap();
    /// assert_eq!(l.borrowers(), vec![t.borrower()]);
    /// ```
    pub fn borrowers(&self) -> Vec<Borrower> {
        lock(&self.shared.state).borrowers.keys().copied().collect()
    }

    /// Borrows a token without waiting, for a fresh borrower.
    ///
    /// # Errors
    /// [`TryAcquireError::NoCapacity`] if none is free or others are waiting (they go first).
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// let l = CapacityLimiter::new(1);
    /// let t = l.try_acquire()?;
    /// assert!(l.try_acquire().is_err()); // all borrowed
    /// drop(t);
    /// # Ok::<(), TryAcquireError>(())
    /// ```
    pub fn try_acquire(&self) -> Result<Token, TryAcquireError> {
        self.try_acquire_on_behalf_of(Borrower::new())
    }

    /// Borrows a token for `borrower` without waiting.
    ///
    /// # Errors
    /// [`TryAcquireError::AlreadyBorrowing`] if `borrower` holds one already,
    /// [`TryAcquireError::NoCapacity`] if none is free or others are waiting.
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// let l = CapacityLimiter::new(4);
    /// let job = Borrower::new();
    /// let t = l.try_acquire_on_behalf_of(job)?;
    /// assert_eq!(t.borrower(), job);
    /// # Ok::<(), TryAcquireError>(())
    /// ```
    pub fn try_acquire_on_behalf_of(&self, borrower: Borrower) -> Result<Token, TryAcquireError> {
        let mut st = lock(&self.shared.state);
        if st.borrowers.contains_key(&borrower) {
            return Err(TryAcquireError::AlreadyBorrowing(borrower));
        }
        if st.borrowed < st.total && st.waiters.is_empty() {
            st.lend(borrower);
            drop(st);
            return Ok(Token { shared: self.shared.clone(), borrower });
        }
        Err(TryAcquireError::NoCapacity { total: st.total })
    }

    /// Waits for a token, for a fresh borrower.
    ///
    /// # Cancellation
    /// A checkpoint: it fails with `Cancelled` if an enclosing scope is cancelled on entry or while
    /// it waits, and then holds nothing. Once a token is taken the acquisition is final; it still
    /// yields once (cancel-shielded) so that it is a scheduling point even when a token is free.
    /// Dropping the future gives back any token it was handed.
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// # quartet_runtime::run(async {
    /// let l = CapacityLimiter::new(1);
    /// let token = l.acquire().await?; // waits (fairly) while all tokens are out
    /// assert_eq!(l.available(), 0);
    /// drop(token);
    /// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
    /// ```
    pub fn acquire(&self) -> Acquire {
        Acquire {
            shared: self.shared.clone(),
            borrower: Borrower::new(),
            state: AcquireState::Start,
            park: cancel::Park::waiting_for(crate::introspect::WaitKind::CapacityLimiter),
        }
    }

    /// Waits for a token for `borrower` (see [`acquire`](Self::acquire)).
    ///
    /// # Errors
    /// [`AcquireError::AlreadyBorrowing`] if `borrower` holds one already (checked on entry),
    /// [`AcquireError::Cancelled`] as for `acquire`.
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// # quartet_runtime::run(async {
    /// let l = CapacityLimiter::new(1);
    /// let me = Borrower::new();
    /// let t = l.acquire_on_behalf_of(me).await?;
    /// assert_eq!(t.borrower(), me);
    /// # Ok::<(), AcquireError>(()) }).unwrap().unwrap();
    /// ```
    pub fn acquire_on_behalf_of(
        &self,
        borrower: Borrower,
    ) -> impl std::future::Future<Output = Result<Token, AcquireError>> {
        crate::fused::once(async move {
            if let Some(c) = cancel::current() {
                return Err(AcquireError::Cancelled(c));
            }
            if lock(&self.shared.state).borrowers.contains_key(&borrower) {
                return Err(AcquireError::AlreadyBorrowing(borrower));
            }
            let acquire = Acquire {
                shared: self.shared.clone(),
                borrower,
                state: AcquireState::Start,
                park: cancel::Park::waiting_for(crate::introspect::WaitKind::CapacityLimiter),
            };
            acquire.await.map_err(AcquireError::Cancelled)
        })
    }
}

mod token;
use token::AcquireState;
pub use token::{Acquire, Token};
