//! The process pipeline example (`examples/process_pipeline.rs`): `seq | quartet | sort` gives the
//! same answer as computing it directly, also for more output than a pipe holds.

#[allow(dead_code)]
#[path = "../examples/process_pipeline.rs"]
mod pipeline;

mod fs_support;

use fs_support::{Via, run_with};

fn expected(n: u64, keep: usize) -> Vec<u64> {
    let mut v: Vec<u64> = (1..=n).filter(|x| x % 7 == 0).map(|x| x * x).collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.truncate(keep);
    v
}

#[test]
fn seq_through_quartet_into_sort_gives_the_largest_squares() {
    let got = run_with(Via::Ring, pipeline::largest_squares(1000, 5)).unwrap();
    assert_eq!(got, expected(1000, 5));
}

#[test]
fn the_pipeline_streams_more_than_a_pipe_holds() {
    // ~1.4 MB of squares pass through quartet into sort: both directions must keep flowing
    let got = run_with(Via::Fallback, pipeline::largest_squares(1_000_000, 3)).unwrap();
    assert_eq!(got, expected(1_000_000, 3));
}
