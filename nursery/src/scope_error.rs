//! What a scope's body may return as its error: [`ScopeError`].
//!
//! A cancel scope ([`CancelScope::run`](crate::CancelScope::run), [`shield`](crate::shield),
//! [`move_on_after`](crate::move_on_after), [`fail_after`](crate::fail_after), ...) must look
//! inside the body's error to tell the cancellation it owns (which it absorbs) from a real failure
//! (which it passes on). So the error must be viewable as a `&dyn Error`: every type that
//! implements `std::error::Error`, and the boxes and containers that do not (`BoxError`,
//! `Box<dyn Error>`, `anyhow::Error` with the `anyhow` feature).
//!
//! Coherence forbids one trait with a blanket impl for `E: Error` *and* impls for the boxes (std
//! may one day make `Box<dyn Error>` an `Error`, and so may anyhow for its type), so the trait has
//! a marker parameter: each impl uses its own marker ([`via`]), the impls never overlap, and the
//! compiler infers the marker from the error type. Callers never name it.

use crate::NurseryError;
use quartet_runtime::{Cancelled, OpError, is_cancellation};
use std::any::{Any, TypeId};
use std::error::Error as StdError;

/// Markers that keep the [`ScopeError`] impls apart. Never named by callers.
pub mod via {
    /// The error implements `std::error::Error`.
    ///
    /// ```
    /// fn body_error<E: quartet_nursery::ScopeError<V>, V>(_: &E) {}
    /// body_error(&std::io::Error::other("any std::error::Error")); // V is inferred
    /// ```
    #[derive(Debug)]
    pub struct StdError;
    /// A `Box<dyn Error ...>`.
    ///
    /// ```
    /// fn body_error<E: quartet_nursery::ScopeError<V>, V>(_: &E) {}
    /// let e: quartet_nursery::BoxError = "boxed".into();
    /// body_error(&e); // V is inferred
    /// ```
    #[derive(Debug)]
    pub struct Boxed;
    /// An `anyhow::Error`.
    #[cfg(feature = "anyhow")]
    #[derive(Debug)]
    pub struct Anyhow;
}

/// An error type a scope's body may return: one whose value can be inspected as a
/// `&dyn Error`, so the scope can recognise a cancellation inside it.
///
/// Implemented for every `E: std::error::Error + 'static` (`io::Error`, `OpError`, `Cancelled`,
/// `NurseryError`, your own types), for `BoxError` / `Box<dyn Error + Send + Sync>`,
/// `Box<dyn Error + Send>` and `Box<dyn Error>`, and for `anyhow::Error` with the `anyhow`
/// feature. Another error container can implement it with a marker type of its own.
///
/// # Examples
/// ```
/// use quartet_nursery::{BoxError, move_on_after};
/// use quartet_runtime::sleep;
/// use std::time::Duration;
/// # quartet_runtime::run(async {
/// // A body that mixes error types returns BoxError; the scope still recognises the cancellation.
/// let r = move_on_after(Duration::from_millis(1), async {
///     sleep(Duration::from_secs(60)).await?;
///     let n: u32 = "42".parse()?;
///     Ok::<_, BoxError>(n)
/// })
/// .await;
/// assert!(matches!(r, Ok(None)));
/// # }).unwrap();
/// ```
#[diagnostic::on_unimplemented(
    message = "a cancel scope's body cannot return `{Self}` as its error",
    label = "the scope must look inside this error for a cancellation",
    note = "return a type that implements `std::error::Error`, or `quartet::BoxError` (or `anyhow::Error` with the `anyhow` feature)"
)]
pub trait ScopeError<Via>: 'static {
    /// The error as a `&dyn Error`, for finding a `Cancelled` in its `source()` chain.
    ///
    /// ```
    /// use quartet_nursery::ScopeError;
    /// let e = std::io::Error::other("disk full");
    /// assert_eq!(e.as_dyn_error().to_string(), "disk full");
    /// ```
    fn as_dyn_error(&self) -> &(dyn StdError + 'static);

    /// This error type holding `refused`, a misuse the scope refuses before its body runs (a
    /// scope run inside its own active block: [`Reason::ScopeReentered`]), or `None` if the type
    /// cannot hold it: the body then runs under a scope whose every checkpoint fails with the
    /// refusal instead. The provided method says `None`.
    ///
    /// [`Reason::ScopeReentered`]: quartet_runtime::Reason::ScopeReentered
    ///
    /// Some for `Cancelled`, `OpError`, `io::Error`, `NurseryError`, the boxes and `anyhow::Error`.
    ///
    /// ```
    /// use quartet_nursery::{BoxError, ScopeError};
    /// use quartet_runtime::{Cancelled, Reason};
    /// let refused = Cancelled::new(Reason::ScopeReentered);
    /// assert!(<BoxError as ScopeError<_>>::refusal(refused.clone()).is_some());
    /// assert!(<std::fmt::Error as ScopeError<_>>::refusal(refused).is_none());
    /// ```
    fn refusal(refused: Cancelled) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = refused;
        None
    }
}

impl<E: StdError + 'static> ScopeError<via::StdError> for E {
    fn as_dyn_error(&self) -> &(dyn StdError + 'static) {
        self
    }

    /// The error types of this crate and the runtime that can hold a `Cancelled` (found by type
    /// id: there is no `From<Cancelled>` bound to use).
    fn refusal(refused: Cancelled) -> Option<Self> {
        let id = TypeId::of::<E>();
        let held: Box<dyn Any> = if id == TypeId::of::<Cancelled>() {
            Box::new(refused)
        } else if id == TypeId::of::<OpError>() {
            Box::new(OpError::from(refused))
        } else if id == TypeId::of::<std::io::Error>() {
            Box::new(std::io::Error::other(refused))
        } else if id == TypeId::of::<NurseryError>() {
            Box::new(NurseryError::refused(refused))
        } else {
            return None;
        };
        held.downcast::<E>().ok().map(|e| *e)
    }
}

impl ScopeError<via::Boxed> for Box<dyn StdError + Send + Sync> {
    fn as_dyn_error(&self) -> &(dyn StdError + 'static) {
        &**self
    }

    fn refusal(refused: Cancelled) -> Option<Self> {
        Some(Box::new(refused))
    }
}

impl ScopeError<via::Boxed> for Box<dyn StdError + Send> {
    fn as_dyn_error(&self) -> &(dyn StdError + 'static) {
        &**self
    }

    fn refusal(refused: Cancelled) -> Option<Self> {
        Some(Box::new(refused))
    }
}

impl ScopeError<via::Boxed> for Box<dyn StdError> {
    fn as_dyn_error(&self) -> &(dyn StdError + 'static) {
        &**self
    }

    fn refusal(refused: Cancelled) -> Option<Self> {
        Some(Box::new(refused))
    }
}

#[cfg(feature = "anyhow")]
impl ScopeError<via::Anyhow> for anyhow::Error {
    fn as_dyn_error(&self) -> &(dyn StdError + 'static) {
        let e: &(dyn StdError + Send + Sync + 'static) = self.as_ref();
        e
    }

    fn refusal(refused: Cancelled) -> Option<Self> {
        Some(anyhow::Error::new(refused))
    }
}

/// True if `e` is (or wraps) a cancellation.
pub(crate) fn is_cancelled<E: ScopeError<V>, V>(e: &E) -> bool {
    is_cancellation(e.as_dyn_error())
}
