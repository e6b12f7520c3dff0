//! placeholder
pub use quartet_runtime::*;
