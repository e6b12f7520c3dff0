//! A heap home for the parts of op data whose address the kernel keeps.
//!
//! Op data lives inline in its future and moves (into the slab when the future is dropped while
//! the op is in flight, back to the caller with the result), so an SQE may not point into it
//! (the [`OpData`](crate::op::OpData) contract). A field the kernel reads or writes through a
//! pointer it keeps (a `sockaddr` and its length, a `msghdr` and its `iovec`, a `statx` or
//! `siginfo` buffer) lives in a [`Stable`] instead: one allocation, made when the op data is built,
//! whose address does not change when the data moves, freed when the data is dropped.
//!
//! Why not a `Box`: moving a `Box` (passing it by value) asserts that nothing else accesses its
//! contents, while the kernel may be writing into them. `Stable` owns its block through a raw
//! pointer, so moving it is a copy of an address and asserts nothing; its contents are only
//! referenced by the op's own code, after the final completion or for fields the kernel only
//! reads.

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// One heap block at a fixed address, owned like a `Box` (dropped with its owner) but moved as
/// a raw address. `!Send`, like the op data that holds it.
pub(crate) struct Stable<T>(NonNull<T>);

impl<T> Stable<T> {
    pub fn new(value: T) -> Stable<T> {
        Stable(NonNull::from(Box::leak(Box::new(value))))
    }

    /// The address to give the kernel: valid until this value is dropped, wherever it moves.
    pub fn as_ptr(&self) -> *mut T {
        self.0.as_ptr()
    }
}

impl<T> Deref for Stable<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the block is a live allocation owned by `self` (freed only in `Drop`). The op
        // data that owns a `Stable` reads it only when the kernel is not writing it: after the
        // op's final completion, or fields the kernel only reads (a `connect` address).
        unsafe { self.0.as_ref() }
    }
}

impl<T> DerefMut for Stable<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; `&mut self` makes this the only Rust reference, and the op data
        // writes through it only before submission (`sqe`) or after the final completion.
        unsafe { self.0.as_mut() }
    }
}

impl<T> Drop for Stable<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new` and is freed only here, once. The op
        // data that owns `self` is dropped only after the kernel's final completion for it, or
        // forgotten (never dropped) when that completion may never come (H4).
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}
