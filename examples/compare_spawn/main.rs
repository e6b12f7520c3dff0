//! Detached spawn (tokio's `spawn`, standing in for asyncio's `create_task`) against quartet's
//! nurseries, in four scenarios. Every line printed is what the program observed while it ran:
//! timestamps, results and counters, not canned text. `tests/compare_spawn.rs` runs the same
//! scenarios and asserts the outcomes, so this comparison stays true.
//!
//! 1. A child fails while nobody awaits it: is the error seen, and when?
//! 2. The parent returns early: does the child keep running after its parent is gone?
//! 3. A timeout wraps a parent that started children: are the children stopped, or do they leak?
//! 4. A child panics: does the owner learn of it?
//!
//! Run: `cargo run --release --example compare_spawn`

mod scenarios;

use scenarios::*;

fn main() {
    install_panic_hook();
    println!("1) A child fails while nobody awaits it: is the error seen, and when?");
    report("tokio::spawn (detached):", fail_tokio());
    report("quartet nursery:", fail_quartet());
    println!("\n2) The parent returns early: does the child keep running after its parent is gone?");
    report("tokio::spawn (detached):", early_tokio());
    report("quartet nursery, body returns early:", early_quartet(false));
    report("quartet nursery, body cancels and returns early:", early_quartet(true));
    println!("\n3) A timeout wraps a parent that started children: stopped, or leaked?");
    report("tokio::time::timeout around a parent that spawned 3 children:", timeout_tokio());
    report("quartet::move_on_after around a nursery with 3 children:", timeout_quartet());
    println!("\n4) A child panics: does the owner learn of it?");
    report("tokio::spawn (detached):", panic_tokio());
    report("quartet nursery:", panic_quartet());
}
