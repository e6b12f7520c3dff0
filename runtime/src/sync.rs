//! The loom shim: every type in this crate that is shared between threads comes from here.
//!
//! Under `--cfg loom` these are loom's model-checked types, so the loom models in
//! `runtime/tests/loom_*.rs` check the real library code, not a copy. Otherwise they are std's.
//! The gate is plain `cfg(loom)` (not `cfg(all(test, loom))`): integration tests link the library
//! built without `cfg(test)`, and a test-only gate would silently check std types.
//!
//! Nothing else in the crate names `std::sync` or `std::thread` for cross-thread state.

#[cfg(loom)]
#[doc(hidden)]
pub use loom as __loom;
#[cfg(loom)]
pub use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(loom)]
pub use loom::thread;

#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub use std::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub use std::thread;

/// Locks a mutex, ignoring poisoning.
///
/// The runtime never panics while it holds one of its own locks, and user code never runs under
/// one, so a poisoned lock still guards consistent data.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
    #[cfg(not(loom))]
    {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Waits on a condition variable for at most `timeout`, ignoring poisoning (see [`lock`]). Returns
/// the guard and whether the wait timed out.
///
/// Under loom the wait never times out (loom does not model time): a model must wake the waiter.
pub fn wait_timeout<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
) -> (MutexGuard<'a, T>, bool) {
    #[cfg(loom)]
    {
        let (g, r) = cv.wait_timeout(guard, timeout).unwrap();
        (g, r.timed_out())
    }
    #[cfg(not(loom))]
    {
        let (g, r) = cv.wait_timeout(guard, timeout).unwrap_or_else(|e| e.into_inner());
        (g, r.timed_out())
    }
}

/// Declares a thread-local: std's `thread_local!`, or loom's under `--cfg loom` (all loom threads
/// share one OS thread, so a std thread-local would leak between model threads). Accepts std's
/// `const { ... }` initialiser form, which loom's macro lacks.
#[cfg(loom)]
#[macro_export]
#[doc(hidden)]
macro_rules! __quartet_thread_local {
    ($(#[$a:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr };) => {
        $crate::sync::__loom::thread_local! { $(#[$a])* $vis static $name: $t = $init; }
    };
    ($(#[$a:meta])* $vis:vis static $name:ident: $t:ty = $init:expr;) => {
        $crate::sync::__loom::thread_local! { $(#[$a])* $vis static $name: $t = $init; }
    };
}

/// Declares a thread-local: std's `thread_local!`, or loom's under `--cfg loom` (all loom threads
/// share one OS thread, so a std thread-local would leak between model threads).
#[cfg(not(loom))]
#[macro_export]
#[doc(hidden)]
macro_rules! __quartet_thread_local {
    ($($t:tt)*) => { std::thread_local! { $($t)* } };
}

#[doc(hidden)]
pub use crate::__quartet_thread_local as thread_local;

/// Waits on a condition variable, ignoring poisoning (see [`lock`]).
pub fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    #[cfg(loom)]
    {
        cv.wait(guard).unwrap()
    }
    #[cfg(not(loom))]
    {
        cv.wait(guard).unwrap_or_else(|e| e.into_inner())
    }
}
