//! In-process benchmarks, each run in its own child process (`once <bench> <peer> ...`).

pub mod cancel;
pub mod file;
pub mod memory;
pub mod pingpong;
pub mod spawn;
pub mod thread;
pub mod timers;
pub mod udp;
pub mod wake;
pub mod xcore;

use crate::child::{Metrics, Params};

/// Runs one measurement in this (child) process.
pub fn run(bench: &str, peer: &str, p: &Params) -> Result<Metrics, String> {
    match bench {
        "spawn" => spawn::run(peer, p),
        "memory" => memory::run(peer, p),
        "pingpong" => pingpong::run(peer, p),
        "cancel" => cancel::run(peer, p),
        "timers" => timers::run(peer, p),
        "thread" => thread::run(peer, p),
        "file" => file::run(peer, p),
        "udp" => udp::run(peer, p),
        "xcore-pingpong" | "xcore-spawn" => xcore::run(bench, peer, p),
        "xcore-wake" => wake::run(peer, p),
        other => Err(format!("unknown benchmark {other:?}")),
    }
}

/// tokio's current-thread runtime with I/O and time enabled.
pub fn tokio_ct() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())
}

/// tokio's multi-thread runtime (one worker per core) with I/O and time enabled.
pub fn tokio_mt() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())
}

/// A tiny deterministic PRNG (xorshift64*), so every peer gets the same sequence.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator (0 is mapped to a fixed non-zero seed).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A runtime builder with an instrument that does nothing: the spawn and echo rows run quartet
/// with and without it, so the table shows what the hooks cost once someone listens (issue 14).
pub fn noop_instrumented() -> quartet::Builder {
    struct Noop;
    impl quartet::introspect::Instrument for Noop {}
    quartet::Builder::new().instrument(std::sync::Arc::new(Noop))
}
