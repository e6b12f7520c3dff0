//! Sizes and repetition counts of every benchmark, for `--quick` and full mode.
//!
//! Any value can be overridden with `--name=value` on the command line or with the environment
//! variable `QB_NAME` (upper case, e.g. `QB_RUNS=7`); the flag wins over the variable.

use std::collections::HashMap;
use std::time::Duration;

/// The suite's knobs. Names match the `--name=value` flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--quick`: small sizes, finishes in under two minutes.
    pub quick: bool,
    /// Interleaved runs per figure (the median of these is reported).
    pub runs: usize,
    /// Only rows whose id contains one of these substrings (comma separated; empty = all).
    pub only: Vec<String>,
    /// Connections of the throughput echo test.
    pub echo_conns: usize,
    /// Connections of the many-connections echo row (64 B messages).
    pub echo_conns_many: usize,
    /// Message sizes in bytes.
    pub echo_sizes: Vec<usize>,
    /// Warm-up before the measured window.
    pub echo_warmup: Duration,
    /// Measured window of each throughput run.
    pub echo_secs: Duration,
    /// Round trips per latency run (1 connection).
    pub lat_rtts: usize,
    /// Children spawned and joined.
    pub spawn_n: usize,
    /// Sleeping children of the memory test.
    pub mem_n: usize,
    /// How long each of them sleeps.
    pub mem_sleep: Duration,
    /// Round trips over the capacity-1 channel.
    pub pingpong_n: usize,
    /// UDP ping-pong round trips.
    pub udp_n: usize,
    /// Children blocked in recv when the scope is cancelled.
    pub cancel_n: usize,
    /// Concurrent timers.
    pub timers_n: usize,
    /// Timer deadlines are uniform in [0, this).
    pub timers_window: Duration,
    /// to_thread / spawn_blocking round trips.
    pub thread_n: usize,
    /// Size of the file for random reads (bytes).
    pub file_size: u64,
    /// Reads per file run.
    pub file_ops: usize,
    /// Reads in flight.
    pub file_depth: usize,
    /// wrk connections of the HTTP rows.
    pub http_conns: usize,
    /// wrk warm-up run before each measured one.
    pub http_warmup: Duration,
    /// Measured wrk run (whole seconds, at least 1).
    pub http_secs: Duration,
}

impl Config {
    /// Full or quick defaults, then overrides from `args` (`--k=v`) and the environment.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let quick = args.iter().any(|a| a == "--quick") || env("quick").is_some_and(|v| v != "0");
        let mut c = if quick { Config::quick() } else { Config::full() };
        let mut kv: HashMap<String, String> = HashMap::new();
        for key in KEYS {
            if let Some(v) = env(key) {
                kv.insert(key.to_string(), v);
            }
        }
        for a in args {
            if a == "--quick" {
                continue;
            }
            let Some((k, v)) = a.strip_prefix("--").and_then(|a| a.split_once('=')) else {
                return Err(format!("unknown argument {a:?} (expected --quick or --name=value)"));
            };
            let k = k.replace('-', "_");
            if !KEYS.contains(&k.as_str()) {
                return Err(format!("unknown option --{k}; known: {}", KEYS.join(", ")));
            }
            kv.insert(k, v.to_string());
        }
        for (k, v) in kv {
            c.set(&k, &v).map_err(|e| format!("--{k}={v}: {e}"))?;
        }
        if c.runs == 0 {
            return Err("runs must be at least 1".into());
        }
        Ok(c)
    }

    fn full() -> Config {
        Config {
            quick: false,
            runs: 5,
            only: Vec::new(),
            echo_conns: 100,
            echo_conns_many: 1000,
            echo_sizes: vec![64, 1024, 16 * 1024],
            echo_warmup: Duration::from_millis(500),
            echo_secs: Duration::from_secs(2),
            lat_rtts: 20_000,
            spawn_n: 1_000_000,
            mem_n: 100_000,
            mem_sleep: Duration::from_secs(1),
            pingpong_n: 1_000_000,
            udp_n: 200_000,
            cancel_n: 10_000,
            timers_n: 100_000,
            timers_window: Duration::from_secs(1),
            thread_n: 100_000,
            file_size: 1 << 30,
            file_ops: 200_000,
            file_depth: 64,
            http_conns: 50,
            http_warmup: Duration::from_secs(1),
            http_secs: Duration::from_secs(3),
        }
    }

    fn quick() -> Config {
        Config {
            quick: true,
            runs: 5,
            echo_warmup: Duration::from_millis(50),
            echo_secs: Duration::from_millis(200),
            lat_rtts: 2_000,
            spawn_n: 200_000,
            mem_n: 20_000,
            mem_sleep: Duration::from_millis(200),
            pingpong_n: 100_000,
            udp_n: 20_000,
            cancel_n: 2_000,
            timers_n: 20_000,
            timers_window: Duration::from_millis(200),
            thread_n: 10_000,
            file_size: 128 << 20,
            file_ops: 20_000,
            http_secs: Duration::from_secs(1),
            ..Config::full()
        }
    }

    fn set(&mut self, k: &str, v: &str) -> Result<(), String> {
        let n = || v.parse::<usize>().map_err(|e| e.to_string());
        let ms = || v.parse::<u64>().map(Duration::from_millis).map_err(|e| e.to_string());
        match k {
            "quick" => {}
            "runs" => self.runs = n()?,
            "only" => self.only = v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            "echo_conns" => self.echo_conns = n()?,
            "echo_conns_many" => self.echo_conns_many = n()?,
            "echo_sizes" => {
                self.echo_sizes =
                    v.split(',').map(|s| s.parse::<usize>().map_err(|e| e.to_string())).collect::<Result<_, _>>()?
            }
            "echo_warmup_ms" => self.echo_warmup = ms()?,
            "echo_ms" => self.echo_secs = ms()?,
            "lat_rtts" => self.lat_rtts = n()?,
            "spawn_n" => self.spawn_n = n()?,
            "mem_n" => self.mem_n = n()?,
            "mem_sleep_ms" => self.mem_sleep = ms()?,
            "pingpong_n" => self.pingpong_n = n()?,
            "udp_n" => self.udp_n = n()?,
            "cancel_n" => self.cancel_n = n()?,
            "timers_n" => self.timers_n = n()?,
            "timers_window_ms" => self.timers_window = ms()?,
            "thread_n" => self.thread_n = n()?,
            "file_mib" => self.file_size = (n()? as u64) << 20,
            "file_ops" => self.file_ops = n()?,
            "file_depth" => self.file_depth = n()?,
            "http_conns" => self.http_conns = n()?,
            "http_warmup_ms" => self.http_warmup = ms()?,
            "http_ms" => self.http_secs = ms()?,
            _ => return Err("unknown option".into()),
        }
        Ok(())
    }

    /// True if the row `id` is selected by `--only`.
    pub fn wants(&self, id: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| id.contains(o.as_str()))
    }

    /// One-line description of the sizes, for the report.
    pub fn describe(&self) -> String {
        format!(
            "{} mode, {} interleaved runs per figure; echo: {} connections, {:?} B, {} ms warm-up + {} ms measured; \
             latency: {} round trips; spawn: {}; memory: {} children sleeping {} ms; ping-pong: {}; udp: {}; cancel: {}; \
             timers: {} in a {} ms window; to_thread: {}; file: {} MiB, {} reads, {} in flight; \
             http: wrk, {} connections, {} ms warm-up + {} ms measured",
            if self.quick { "quick" } else { "full" },
            self.runs,
            self.echo_conns,
            self.echo_sizes,
            self.echo_warmup.as_millis(),
            self.echo_secs.as_millis(),
            self.lat_rtts,
            self.spawn_n,
            self.mem_n,
            self.mem_sleep.as_millis(),
            self.pingpong_n,
            self.udp_n,
            self.cancel_n,
            self.timers_n,
            self.timers_window.as_millis(),
            self.thread_n,
            self.file_size >> 20,
            self.file_ops,
            self.file_depth,
            self.http_conns,
            self.http_warmup.as_millis(),
            self.http_secs.as_millis(),
        )
    }
}

const KEYS: &[&str] = &[
    "quick",
    "runs",
    "only",
    "echo_conns",
    "echo_conns_many",
    "echo_sizes",
    "echo_warmup_ms",
    "echo_ms",
    "lat_rtts",
    "spawn_n",
    "mem_n",
    "mem_sleep_ms",
    "pingpong_n",
    "udp_n",
    "cancel_n",
    "timers_n",
    "timers_window_ms",
    "thread_n",
    "file_mib",
    "file_ops",
    "file_depth",
    "http_conns",
    "http_warmup_ms",
    "http_ms",
];

fn env(key: &str) -> Option<String> {
    std::env::var(format!("QB_{}", key.to_uppercase())).ok()
}
