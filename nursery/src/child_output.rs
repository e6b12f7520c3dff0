//! What a child may return: [`ChildOutput`], so `()` and any `Result<T, E>` both work.

use crate::error::BoxError;

/// The output of a child task: `()` (a child that cannot fail) or `Result<T, E>` with
/// `E: Into<BoxError>`. `T` goes to the child's [`JoinHandle`](crate::JoinHandle); an `Err` is a
/// failure of the nursery (unless it is the nursery's cancellation).
///
/// # Examples
/// ```
/// use quartet_nursery::{BoxError, nursery};
/// # quartet_runtime::run(async {
/// nursery(async |n| -> Result<(), BoxError> {
///     n.spawn(async { println!("a child that cannot fail returns ()") })?;
///     let h = n.spawn(async { Ok::<_, std::io::Error>(5) })?; // or any Result
///     assert_eq!(h.await?, 5);
///     Ok(())
/// })
/// .await?;
/// # Ok::<(), quartet_nursery::NurseryError>(()) }).unwrap().unwrap();
/// ```
#[diagnostic::on_unimplemented(
    message = "a child task cannot return `{Self}`",
    label = "children return `()` or a `Result<T, E>` whose error converts into `BoxError`",
    note = "return `Ok(value)` / `Err(error)`, or nothing at all"
)]
pub trait ChildOutput {
    /// What the child's `JoinHandle` yields.
    type Value;
    /// The child's value, or its error as a `BoxError`.
    ///
    /// ```
    /// use quartet_nursery::ChildOutput;
    /// assert!(().into_child_result().is_ok());
    /// assert!(Err::<(), _>(std::io::Error::other("x")).into_child_result().is_err());
    /// ```
    fn into_child_result(self) -> Result<Self::Value, BoxError>;
}

impl ChildOutput for () {
    type Value = ();
    fn into_child_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<T, E: Into<BoxError>> ChildOutput for Result<T, E> {
    type Value = T;
    fn into_child_result(self) -> Result<T, BoxError> {
        self.map_err(Into::into)
    }
}
