//! The suite: which groups run, with which peers, interleaved, and which rows and targets each
//! group's figures feed.
//!
//! A group is one scenario run against several peers. Its rounds are interleaved — quartet,
//! peer 1, peer 2, ..., quartet, peer 1, ... — so slow drifts of a noisy machine hit every peer
//! alike; each round's figures give paired ratios (quartet / peer, same round).

use crate::child::{self, Metrics, Params};
use crate::config::Config;
use crate::echo::servers::BUSY_POLL_US;
use crate::{echo, http};
use std::time::Duration;

mod net_plans;

/// Every run of one peer in a group; `None` for a round that failed.
#[derive(Debug, Clone)]
pub struct PeerRuns {
    /// The peer's label.
    pub peer: String,
    /// One entry per round.
    pub runs: Vec<Option<Metrics>>,
    /// Why the peer could not run (first failure), if it could not.
    pub error: Option<String>,
}

/// What a ratio is taken against.
#[derive(Debug, Clone)]
pub enum Vs {
    /// One peer.
    Peer(&'static str),
    /// The best of several peers, round by round.
    Best(&'static [&'static str]),
}

/// A target: `quartet / baseline` must be `<=` (or `>=`, if `ge`) `ratio`; `None` is shown only.
#[derive(Debug, Clone)]
pub struct Target {
    /// Baseline.
    pub vs: Vs,
    /// Bound on the ratio, if this is a target and not just information.
    pub ratio: Option<f64>,
    /// True for "at least".
    pub ge: bool,
}

/// One table row: one metric of one group.
#[derive(Debug, Clone)]
pub struct Row {
    /// Stable id (used by `--only`).
    pub id: String,
    /// Scenario as shown.
    pub title: String,
    /// Key in the run metrics.
    pub metric: &'static str,
    /// Unit as shown.
    pub unit: &'static str,
    /// True if bigger is better (msgs/s, ops/s).
    pub higher_better: bool,
    /// Ratios to show.
    pub targets: Vec<Target>,
    /// Index of the group whose runs this row reads.
    pub group: usize,
    /// The peer whose figures are the ratios' numerator: "quartet", or a quartet variant (the
    /// busy-polling server) measured in the same group.
    pub numerator: &'static str,
}

/// A scenario and its runs.
#[derive(Debug, Clone)]
pub struct Group {
    /// Stable id.
    pub id: String,
    /// Runs per peer (quartet first).
    pub peers: Vec<PeerRuns>,
}

fn le(vs: Vs, r: f64) -> Target {
    Target { vs, ratio: Some(r), ge: false }
}
fn ge(vs: Vs, r: f64) -> Target {
    Target { vs, ratio: Some(r), ge: true }
}
fn info(vs: Vs) -> Target {
    Target { vs, ratio: None, ge: false }
}

const IO_URING_PEERS: &[&str] = &["monoio", "compio"];
const TOKIO: &[&str] = &["tokio-ct", "tokio-mt"];

/// Runs one measurement of one peer.
type RunFn = Box<dyn Fn(&str) -> Result<Metrics, String>>;

struct Plan {
    id: String,
    peers: Vec<&'static str>,
    run: RunFn,
    rows: Vec<Row>,
}

fn size_label(s: usize) -> String {
    if s >= 1024 && s % 1024 == 0 { format!("{} KiB", s / 1024) } else { format!("{s} B") }
}

fn row(id: &str, title: String, metric: &'static str, unit: &'static str, hb: bool, targets: Vec<Target>) -> Row {
    Row { id: id.to_string(), title, metric, unit, higher_better: hb, targets, group: 0, numerator: "quartet" }
}

fn plans(cfg: &Config, file: &std::path::Path) -> Vec<Plan> {
    let limit = Duration::from_secs(300);
    let mut v = net_plans::net_plans(cfg);
    let mut micro = |id: &str, peers: Vec<&'static str>, p: Params, rows: Vec<Row>| {
        let bench = id.to_string();
        v.push(Plan {
            id: id.to_string(),
            peers,
            run: Box::new(move |peer| child::once(&bench, peer, &p, limit)),
            rows,
        });
    };
    micro(
        "spawn",
        vec![
            "quartet",
            "quartet-instr",
            "quartet-handles",
            "tokio-ct",
            "tokio-ct-joinset",
            "tokio-mt",
            "tokio-mt-joinset",
        ],
        Params::default().with("n", cfg.spawn_n),
        vec![row(
            "spawn",
            format!("spawn + join {} trivial children", cfg.spawn_n),
            "ns_per_task",
            "ns/task",
            false,
            vec![
                // Issue 10's targets: spawn + join <= 0.4x, ping-pong <= 0.8x, timers <= 0.8x.
                le(Vs::Best(TOKIO), 0.4),
                le(Vs::Best(&["tokio-ct-joinset", "tokio-mt-joinset"]), 0.4),
                // quartet / quartet with a no-op instrument: below 1 is the hooks' cost.
                info(Vs::Peer("quartet-instr")),
            ],
        )],
    );
    micro(
        "memory",
        vec!["quartet", "tokio-ct", "tokio-mt"],
        Params::default().with("n", cfg.mem_n).with("sleep_ms", cfg.mem_sleep.as_millis()),
        vec![row(
            "memory",
            format!("{} children sleeping {} ms: peak RSS delta per task", cfg.mem_n, cfg.mem_sleep.as_millis()),
            "bytes_per_task",
            "B/task",
            false,
            vec![le(Vs::Best(TOKIO), 0.5)],
        )],
    );
    micro(
        "pingpong",
        vec!["quartet", "tokio-ct", "tokio-mt"],
        Params::default().with("n", cfg.pingpong_n),
        vec![row(
            "pingpong",
            format!("ping-pong over capacity-1 channels, {} round trips", cfg.pingpong_n),
            "ns_per_rtt",
            "ns/rtt",
            false,
            vec![le(Vs::Best(TOKIO), 0.8)],
        )],
    );
    micro(
        "xcore-pingpong",
        vec!["quartet", "quartet-nospin", "quartet-spin", "quartet-eventfd", "quartet-unpinned", "tokio-mt"],
        Params::default().with("n", cfg.pingpong_n / 4),
        vec![row(
            "xcore-pingpong",
            format!(
                "cross-core ping-pong over capacity-1 channels, {} round trips (tokio: 2 workers)",
                cfg.pingpong_n / 4
            ),
            "ns_per_rtt",
            "ns/rtt",
            false,
            vec![
                le(Vs::Peer("tokio-mt"), 0.5),
                info(Vs::Peer("quartet-nospin")),
                info(Vs::Peer("quartet-spin")),
                info(Vs::Peer("quartet-eventfd")),
                info(Vs::Peer("quartet-unpinned")),
            ],
        )],
    );
    micro(
        "xcore-spawn",
        vec!["quartet", "quartet-nospin", "quartet-spin", "quartet-eventfd", "quartet-unpinned", "tokio-mt"],
        Params::default().with("n", cfg.pingpong_n / 4),
        vec![row(
            "xcore-spawn",
            format!(
                "spawn on the other core + join, {} sequential (tokio: spawn + JoinHandle, 2 workers)",
                cfg.pingpong_n / 4
            ),
            "ns_per_rtt",
            "ns/rtt",
            false,
            vec![
                le(Vs::Peer("tokio-mt"), 0.5),
                info(Vs::Peer("quartet-nospin")),
                info(Vs::Peer("quartet-spin")),
                info(Vs::Peer("quartet-eventfd")),
                info(Vs::Peer("quartet-unpinned")),
            ],
        )],
    );
    micro(
        "xcore-wake",
        vec!["msg-ring", "eventfd"],
        Params::default().with("n", cfg.pingpong_n / 4),
        vec![
            row(
                "xcore-wake",
                format!(
                    "wake mechanism alone: two rings ping-pong, {} round trips (MSG_RING vs eventfd write)",
                    cfg.pingpong_n / 4
                ),
                "ns_per_rtt",
                "ns/rtt",
                false,
                vec![],
            ),
            row(
                "xcore-wake-cpu",
                format!("wake mechanism alone: CPU of both threads per round trip, {} round trips", cfg.pingpong_n / 4),
                "cpu_ns_per_rtt",
                "ns",
                false,
                vec![],
            ),
        ],
    );
    micro(
        "udp",
        vec!["quartet", "tokio-ct"],
        Params::default().with("n", cfg.udp_n),
        vec![row(
            "udp-pingpong",
            format!("UDP ping-pong over loopback, 64 B, {} round trips", cfg.udp_n),
            "ns_per_rtt",
            "ns/rtt",
            false,
            vec![info(Vs::Peer("tokio-ct"))],
        )],
    );
    micro(
        "cancel",
        vec!["quartet", "tokio-ct"],
        Params::default().with("n", cfg.cancel_n),
        vec![row(
            "cancel",
            format!("cancel {} children blocked in recv (tokio: JoinSet::shutdown)", cfg.cancel_n),
            "ns_per_child",
            "ns/child",
            false,
            vec![le(Vs::Peer("tokio-ct"), 2.0)],
        )],
    );
    micro(
        "timers",
        vec!["quartet", "tokio-ct"],
        Params::default().with("n", cfg.timers_n).with("window_ms", cfg.timers_window.as_millis()),
        vec![
            row(
                "timers-cpu",
                format!("{} concurrent timers, random deadlines: CPU per timer", cfg.timers_n),
                "cpu_ns_per_timer",
                "ns",
                false,
                vec![le(Vs::Peer("tokio-ct"), 0.8)],
            ),
            row(
                "timers-late",
                format!("{} concurrent timers: mean lateness", cfg.timers_n),
                "mean_late_us",
                "µs",
                false,
                vec![info(Vs::Peer("tokio-ct"))],
            ),
        ],
    );
    micro(
        "thread",
        vec!["quartet", "tokio-ct", "tokio-mt"],
        Params::default().with("n", cfg.thread_n),
        vec![row(
            "thread",
            format!("to_thread round trip vs spawn_blocking, {} sequential", cfg.thread_n),
            "ns_per_rtt",
            "ns/rtt",
            false,
            vec![le(Vs::Best(TOKIO), 1.0)],
        )],
    );
    micro(
        "file",
        vec!["quartet", "raw", "tokio-fs", "tokio-pread"],
        Params::default().with("path", file.display()).with("ops", cfg.file_ops).with("depth", cfg.file_depth),
        vec![row(
            "file",
            format!("4 KiB random reads, {} MiB file in page cache, {} in flight", cfg.file_size >> 20, cfg.file_depth),
            "ops_per_s",
            "ops/s",
            true,
            vec![ge(Vs::Peer("tokio-fs"), 3.0), info(Vs::Peer("tokio-pread")), info(Vs::Peer("raw"))],
        )],
    );
    v
}

/// Runs every selected group, interleaved, and returns groups and rows.
pub fn run(cfg: &Config) -> Result<(Vec<Group>, Vec<Row>), String> {
    let file = std::env::var_os("QB_FILE").map(std::path::PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| {
            child::exe().ok().and_then(|e| e.parent()?.parent().map(|p| p.to_path_buf())).unwrap_or_else(|| ".".into())
        });
        target.join("bench-data").join(format!("random-{}MiB.bin", cfg.file_size >> 20))
    });
    let mut groups = Vec::new();
    let mut rows = Vec::new();
    for plan in plans(cfg, &file) {
        let selected: Vec<Row> = plan.rows.into_iter().filter(|r| cfg.wants(&r.id)).collect();
        if selected.is_empty() {
            continue;
        }
        if plan.id == "file" {
            eprintln!("preparing {} ({} MiB) in the page cache ...", file.display(), cfg.file_size >> 20);
            crate::micro::file::prepare(&file, cfg.file_size)?;
        }
        eprintln!("== {} ({} peers x {} rounds)", plan.id, plan.peers.len(), cfg.runs);
        let started = std::time::Instant::now();
        let mut peers: Vec<PeerRuns> =
            plan.peers.iter().map(|p| PeerRuns { peer: p.to_string(), runs: Vec::new(), error: None }).collect();
        for round in 0..cfg.runs {
            for pr in peers.iter_mut() {
                if pr.error.is_some() && pr.runs.iter().all(Option::is_none) {
                    pr.runs.push(None);
                    continue;
                }
                match (plan.run)(&pr.peer) {
                    Ok(m) => {
                        eprintln!("   round {round} {:<18} {}", pr.peer, fmt_metrics(&m));
                        pr.runs.push(Some(m));
                    }
                    Err(e) => {
                        eprintln!("   round {round} {:<18} FAILED: {e}", pr.peer);
                        pr.error.get_or_insert(e);
                        pr.runs.push(None);
                    }
                }
            }
        }
        eprintln!("   ({} took {:.1} s)", plan.id, started.elapsed().as_secs_f64());
        let g = groups.len();
        groups.push(Group { id: plan.id, peers });
        rows.extend(selected.into_iter().map(|mut r| {
            r.group = g;
            r
        }));
    }
    Ok((groups, rows))
}

fn fmt_metrics(m: &Metrics) -> String {
    m.iter().map(|(k, v)| format!("{k}={v:.1}")).collect::<Vec<_>>().join(" ")
}
