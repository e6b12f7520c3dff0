//! Shared by the thread tests: wait on the loop until a condition set by another thread holds.

use quartet::sleep;
use std::time::{Duration, Instant};

/// Polls `cond` every millisecond (yielding to the loop), failing the test after 10 s.
pub async fn until(mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < end, "condition not reached in 10 s");
        sleep(Duration::from_millis(1)).await.unwrap();
    }
}
