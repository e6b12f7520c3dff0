//! The loom shim: every type in this crate that is shared between threads comes from here.
//!
//! Under `--cfg loom` these are loom's model-checked types, so the loom models in
//! `runtime/tests/loom_*.rs` check the real library code, not a copy. Otherwise they are std's.
//! The gate is plain `cfg(loom)` (not `cfg(all(test, loom))`): integration tests link the library
//! built without `cfg(test)`, and a test-only gate would silently check std types.
//!
//! Nothing else in the crate names `std::sync` or `std::thread` for cross-thread state.

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
