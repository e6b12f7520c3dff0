//! Task-local values (Trio's context variables, tokio's `task_local!`): a value set for a block of
//! async code and seen by everything that runs inside it, including the children of nurseries
//! opened inside it.
//!
//! Design: [`TaskLocal::scope`] wraps a future and, around each poll of it (and its drop), swaps
//! the value into a thread-local slot, swapping the previous one back afterwards, also on unwind.
//! A nursery polls its children from inside its own poll, so children of a nursery opened inside
//! the block see the value, exactly like they see the block's cancel scopes; siblings that set
//! their own values never see each other's, because each value is in the slot only while its own
//! future is being polled. Nested scopes of the same key shadow and then restore.
//!
//! Like cancel scopes, values follow where a nursery was *opened*, not who spawned into it: a
//! child spawned through the handle of a nursery opened outside the block does not see the value
//! (Trio's children likewise get the context of the task that opened the nursery).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::LocalKey;

/// Declares task-local keys: `static NAME: Type;` items that [`TaskLocal::scope`] sets for a
/// block of async code.
///
/// # Examples
/// ```
/// quartet_nursery::task_local! {
///     /// The request being served, for log lines.
///     static REQUEST_ID: u64;
/// }
/// # quartet_runtime::run(async {
/// REQUEST_ID.scope(42, async {
///     assert_eq!(REQUEST_ID.get(), Some(42));
/// }).await;
/// assert_eq!(REQUEST_ID.get(), None);
/// # }).unwrap();
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::TaskLocal<$t> = {
            ::std::thread_local! {
                static SLOT: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::TaskLocal::__new(&SLOT)
        };
        $crate::task_local!($($rest)*);
    };
}

/// A task-local key, declared with [`task_local!`](crate::task_local).
///
/// # Examples
/// ```
/// quartet_nursery::task_local! { static TENANT: &'static str; }
/// # quartet_runtime::run(async {
/// let seen = TENANT.scope("acme", async { TENANT.get() }).await;
/// assert_eq!(seen, Some("acme"));
/// # }).unwrap();
/// ```
pub struct TaskLocal<T: 'static> {
    slot: &'static LocalKey<RefCell<Option<T>>>,
}

impl<T: 'static> fmt::Debug for TaskLocal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocal").finish_non_exhaustive()
    }
}

impl<T: 'static> TaskLocal<T> {
    #[doc(hidden)]
    pub const fn __new(slot: &'static LocalKey<RefCell<Option<T>>>) -> Self {
        TaskLocal { slot }
    }

    /// Runs `fut` with this key set to `value`: code polled inside it (including the children of
    /// nurseries opened inside it) sees the value; code outside does not.
    ///
    /// # Examples
    /// ```
    /// use quartet_nursery::{BoxError, nursery};
    /// quartet_nursery::task_local! { static USER: &'static str; }
    /// # quartet_runtime::run(async {
    /// USER.scope("ada", async {
    ///     nursery(async |n| -> Result<(), BoxError> {
    ///         // children inherit the value of the block their nursery was opened in
    ///         n.spawn(async { assert_eq!(USER.get(), Some("ada")); Ok::<_, BoxError>(()) })?;
    ///         n.spawn(USER.scope("bob", async {
    ///             assert_eq!(USER.get(), Some("bob")); // shadowed for this child only
    ///             Ok::<_, BoxError>(())
    ///         }))?;
    ///         Ok(())
    ///     })
    ///     .await
    /// })
    /// .await?;
    /// # Ok::<(), quartet_nursery::NurseryError>(())
    /// # }).unwrap().unwrap();
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, fut: F) -> TaskLocalScope<T, F> {
        TaskLocalScope { key: self, value: Some(value), fut: Some(fut) }
    }

    /// Runs the closure `f` (synchronous code) with this key set to `value`.
    ///
    /// # Examples
    /// ```
    /// quartet_nursery::task_local! { static DEPTH: u32; }
    /// assert_eq!(DEPTH.sync_scope(3, || DEPTH.get()), Some(3));
    /// ```
    pub fn sync_scope<R>(&'static self, value: T, f: impl FnOnce() -> R) -> R {
        let mut value = Some(value);
        let _swapped = Swapped::new(self, &mut value);
        f()
    }

    /// Calls `f` with the current value, or `None` outside every scope of this key.
    ///
    /// # Panics
    /// If `f` starts a scope of the same key (the value is borrowed while `f` runs).
    ///
    /// # Examples
    /// ```
    /// quartet_nursery::task_local! { static NAME: String; }
    /// let len = NAME.sync_scope("quartet".to_string(), || NAME.with(|n| n.map(String::len)));
    /// assert_eq!(len, Some(7));
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(Option<&T>) -> R) -> R {
        self.slot.with(|s| f(s.borrow().as_ref()))
    }

    /// The current value (cloned), or `None` outside every scope of this key.
    ///
    /// # Examples
    /// ```
    /// quartet_nursery::task_local! { static TRACE: u64; }
    /// assert_eq!(TRACE.get(), None);
    /// assert_eq!(TRACE.sync_scope(9, || TRACE.get()), Some(9));
    /// ```
    pub fn get(&'static self) -> Option<T>
    where
        T: Clone,
    {
        self.with(|v| v.cloned())
    }
}

/// Puts a value into the key's slot and swaps the previous one back when dropped (also on unwind).
struct Swapped<'a, T: 'static> {
    key: &'static TaskLocal<T>,
    value: &'a mut Option<T>,
}

impl<'a, T: 'static> Swapped<'a, T> {
    fn new(key: &'static TaskLocal<T>, value: &'a mut Option<T>) -> Self {
        key.slot.with(|s| std::mem::swap(&mut *s.borrow_mut(), value));
        Swapped { key, value }
    }
}

impl<T: 'static> Drop for Swapped<'_, T> {
    fn drop(&mut self) {
        self.key.slot.with(|s| std::mem::swap(&mut *s.borrow_mut(), self.value));
    }
}

pin_project_lite::pin_project! {
    /// The future of [`TaskLocal::scope`]: polls the inner future with the value set. Polled
    /// again after it completed, it stays pending and never wakes (its output is the inner
    /// future's, which has no value to report the misuse with).
    ///
    /// # Examples
    /// ```
    /// quartet_nursery::task_local! { static ID: u8; }
    /// let fut: quartet_nursery::TaskLocalScope<u8, _> = ID.scope(1, async { ID.get() });
    /// assert_eq!(quartet_runtime::run(fut).unwrap(), Some(1));
    /// ```
    #[must_use = "futures do nothing unless awaited"]
    pub struct TaskLocalScope<T: 'static, F> {
        key: &'static TaskLocal<T>,
        value: Option<T>,
        #[pin]
        fut: Option<F>,
    }

    impl<T: 'static, F> PinnedDrop for TaskLocalScope<T, F> {
        fn drop(this: Pin<&mut Self>) {
            // The inner future's destructors run with the value set, as its polls did.
            let mut this = this.project();
            if this.fut.is_some() {
                let _swapped = Swapped::new(this.key, this.value);
                this.fut.set(None);
            }
        }
    }
}

impl<T: 'static, F> fmt::Debug for TaskLocalScope<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalScope").field("finished", &self.fut.is_none()).finish()
    }
}

impl<T: 'static, F: Future> Future for TaskLocalScope<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        // Polled again after it completed: the output is the body's own type, with no misuse
        // value to give, so stay pending (never wakes) rather than panic.
        let Some(fut) = this.fut.as_mut().as_pin_mut() else { return Poll::Pending };
        let _swapped = Swapped::new(this.key, this.value);
        let out = fut.poll(cx);
        if out.is_ready() {
            this.fut.set(None);
        }
        out
    }
}
