//! Files over the ring.

mod file;
mod ops;

pub use file::{File, Metadata, OpenOptions};
