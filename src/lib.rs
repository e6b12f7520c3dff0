//! placeholder
pub use quartet_nursery::*;
