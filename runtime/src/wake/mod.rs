//! How one thread wakes another thread's kernel: the queue of wakers pushed from other threads
//! with its wake flags ([`remote`]), and the two ways to unpark a kernel blocked in its ring, an
//! eventfd write or a `MSG_RING` completion from another kernel's ring ([`msg_ring`]).
//!
//! A module of its own, below both the kernel and the driver: the driver needs the wake flags and
//! the outbox of `MSG_RING`s, the kernel needs the queue and the unparkers, and neither may depend
//! on the other for them (the kernel owns the driver, so the driver must not import the kernel).
//! Nothing here touches a ring or a kernel: only `crate::sync` (std or loom) and libc.

pub mod msg_ring;
pub mod remote;
