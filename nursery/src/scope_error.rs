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

use quartet_runtime::is_cancellation;
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
}

impl<E: StdError + 'static> ScopeError<via::StdError> for E {
    fn as_dyn_error(&self) -> &(dyn StdError + 'static) {
        self
    }
}

impl ScopeError<via::Boxed> for Box<dyn StdError + Send + Sync> {
    fn as_dyn_error(&self) -> &(dyn StdError + 'static) {
        &**self
    }
}

impl ScopeError<via::Boxed> for Box<dyn StdError + Send> {
    fn as_dyn_error(&self) -> &(dyn StdError + 'static) {
        &**self
    }
}

impl ScopeError<via::Boxed> for Box<dyn StdError> {
    fn as_dyn_error(&self) -> &(dyn StdError + 'static) {
        &**self
    }
}

#[cfg(feature = "anyhow")]
impl ScopeError<via::Anyhow> for anyhow::Error {
    fn as_dyn_error(&self) -> &(dyn StdError + 'static) {
        let e: &(dyn StdError + Send + Sync + 'static) = self.as_ref();
        e
    }
}

/// True if `e` is (or wraps) a cancellation.
pub(crate) fn is_cancelled<E: ScopeError<V>, V>(e: &E) -> bool {
    is_cancellation(e.as_dyn_error())
}
