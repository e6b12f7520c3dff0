//! Turns the runs into figures (median and min–max), paired ratios and target verdicts, and
//! prints them as a terminal table and as BENCHMARKS.md.

use crate::config::Config;
use crate::suite::{Group, Row, Target, Vs};

/// Median and spread of a set of runs.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// The median (mean of the middle two for an even count).
    pub median: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
}

/// Median/min/max of `v`, or `None` if empty.
pub fn summarize(v: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some(Summary { median, min: v[0], max: v[n - 1] })
}

/// The verdict on one ratio.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Target met.
    Met,
    /// Target missed by this many percent.
    Missed(f64),
    /// Shown for information, no target.
    Info,
    /// Could not be computed (a side did not run).
    NotAvailable(String),
}

/// One ratio of a row.
#[derive(Debug, Clone)]
pub struct Ratio {
    /// "raw", "best of monoio/compio", ...
    pub vs: String,
    /// Paired ratios over rounds.
    pub summary: Option<Summary>,
    /// The target.
    pub target: Target,
    /// Met or missed.
    pub verdict: Verdict,
}

/// A row with its figures.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// The row.
    pub row: Row,
    /// Per peer: summary or why it is missing.
    pub cells: Vec<(String, Result<Summary, String>)>,
    /// Ratios (quartet / baseline).
    pub ratios: Vec<Ratio>,
}

fn values(g: &Group, peer: &str, metric: &str) -> Vec<Option<f64>> {
    g.peers
        .iter()
        .find(|p| p.peer == peer)
        .map(|p| p.runs.iter().map(|r| r.as_ref().and_then(|m| m.get(metric).copied())).collect())
        .unwrap_or_default()
}

fn reason(g: &Group, peer: &str) -> String {
    g.peers
        .iter()
        .find(|p| p.peer == peer)
        .and_then(|p| p.error.clone())
        .unwrap_or_else(|| format!("{peer} did not run"))
}

/// Computes every row's figures.
pub fn evaluate(groups: &[Group], rows: &[Row]) -> Vec<Evaluated> {
    rows.iter()
        .map(|row| {
            let g = &groups[row.group];
            let cells = g
                .peers
                .iter()
                .map(|p| {
                    let v: Vec<f64> = values(g, &p.peer, row.metric).into_iter().flatten().collect();
                    (p.peer.clone(), summarize(&v).ok_or_else(|| reason(g, &p.peer)))
                })
                .collect();
            let q = values(g, row.numerator, row.metric);
            let ratios = row.targets.iter().map(|t| ratio(g, row, &q, t)).collect();
            Evaluated { row: row.clone(), cells, ratios }
        })
        .collect()
}

fn ratio(g: &Group, row: &Row, q: &[Option<f64>], t: &Target) -> Ratio {
    let names: Vec<&str> = match &t.vs {
        Vs::Peer(p) => vec![p],
        Vs::Best(ps) => ps.to_vec(),
    };
    let vs = if names.len() == 1 { names[0].to_string() } else { format!("best of {}", names.join("/")) };
    let cols: Vec<Vec<Option<f64>>> = names.iter().map(|p| values(g, p, row.metric)).collect();
    let mut paired = Vec::new();
    for (r, qv) in q.iter().enumerate() {
        let base = cols.iter().filter_map(|c| c.get(r).copied().flatten());
        let base = if row.higher_better { base.reduce(f64::max) } else { base.reduce(f64::min) };
        if let (Some(qv), Some(b)) = (qv, base) {
            if b > 0.0 {
                paired.push(qv / b);
            }
        }
    }
    let summary = summarize(&paired);
    let verdict = match (summary, t.ratio) {
        (None, _) => {
            let missing: Vec<String> = std::iter::once(row.numerator)
                .chain(names.iter().copied())
                .filter(|p| values(g, p, row.metric).iter().all(Option::is_none))
                .map(|p| reason(g, p))
                .collect();
            Verdict::NotAvailable(if missing.is_empty() { "no paired rounds".into() } else { missing.join("; ") })
        }
        (Some(_), None) => Verdict::Info,
        (Some(s), Some(bound)) if t.ge => {
            if s.median >= bound {
                Verdict::Met
            } else {
                Verdict::Missed((1.0 - s.median / bound) * 100.0)
            }
        }
        (Some(s), Some(bound)) => {
            if s.median <= bound {
                Verdict::Met
            } else {
                Verdict::Missed((s.median / bound - 1.0) * 100.0)
            }
        }
    };
    Ratio { vs, summary, target: t.clone(), verdict }
}

/// A figure with a sensible number of digits and thousands separators.
pub fn num(v: f64) -> String {
    if v.abs() >= 1000.0 {
        let s = format!("{:.0}", v);
        let (sign, digits) = s.strip_prefix('-').map(|d| ("-", d)).unwrap_or(("", &s));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn cell(s: &Result<Summary, String>) -> String {
    match s {
        Ok(s) => format!("{} ({}–{})", num(s.median), num(s.min), num(s.max)),
        Err(e) => format!("n/a ({e})"),
    }
}

/// The bound as text, e.g. "≤ 1.03x".
pub fn bound(t: &Target) -> String {
    match t.ratio {
        Some(r) => format!("{} {r:?}x", if t.ge { "≥" } else { "≤" }),
        None => "(info)".into(),
    }
}

fn ratio_text(r: &Ratio) -> String {
    let fig = match r.summary {
        Some(s) => format!("{:.2}x ({:.2}–{:.2})", s.median, s.min, s.max),
        None => "n/a".into(),
    };
    format!("vs {}: {fig}", r.vs)
}

/// Verdict as text.
pub fn verdict(v: &Verdict) -> String {
    match v {
        Verdict::Met => "met".into(),
        Verdict::Missed(p) if *p < 10.0 => format!("MISSED by {p:.1}%"),
        Verdict::Missed(p) => format!("MISSED by {p:.0}%"),
        Verdict::Info => "info".into(),
        Verdict::NotAvailable(why) => format!("n/a: {why}"),
    }
}

/// The terminal table.
pub fn print(rows: &[Evaluated]) {
    println!();
    for e in rows {
        let dir = if e.row.higher_better { "higher is better" } else { "lower is better" };
        println!("[{}] {} ({}, {dir})", e.row.id, e.row.title, e.row.unit);
        let cells: Vec<String> = e.cells.iter().map(|(p, s)| format!("{p} {}", cell(s))).collect();
        for c in cells.chunks(3) {
            println!("    {}", c.join(" | "));
        }
        for r in &e.ratios {
            println!("    {:<48} target {:<9} {}", ratio_text(r), bound(&r.target), verdict(&r.verdict));
        }
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The results table in Markdown.
pub fn markdown_table(rows: &[Evaluated]) -> String {
    let mut s = String::from(
        "| Scenario | Unit | quartet | Peers: median (min–max) | Ratio quartet/peer: paired median (min–max) | Target | Result |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for e in rows {
        let num = e.row.numerator;
        let q = e.cells.iter().find(|(p, _)| p == num).map(|(_, c)| cell(c)).unwrap_or_default();
        let q = if num == "quartet" { q } else { format!("{num}: {q}") };
        let peers: Vec<String> =
            e.cells.iter().filter(|(p, _)| p != num).map(|(p, c)| format!("{p}: {}", cell(c))).collect();
        let ratios: Vec<String> = e.ratios.iter().map(ratio_text).collect();
        let bounds: Vec<String> = e.ratios.iter().map(|r| bound(&r.target)).collect();
        let verdicts: Vec<String> = e.ratios.iter().map(|r| verdict(&r.verdict)).collect();
        let dir = if e.row.higher_better { "↑" } else { "↓" };
        s += &format!(
            "| {} | {} {dir} | {} | {} | {} | {} | {} |\n",
            md_escape(&e.row.title),
            e.row.unit,
            md_escape(&q),
            md_escape(&peers.join("<br>")),
            md_escape(&ratios.join("<br>")),
            bounds.join("<br>"),
            md_escape(&verdicts.join("<br>")),
        );
    }
    s
}

/// The list of missed targets.
pub fn misses(rows: &[Evaluated]) -> Vec<String> {
    let mut out = Vec::new();
    for e in rows {
        for r in &e.ratios {
            match &r.verdict {
                Verdict::Missed(p) => out.push(format!(
                    "{} — {}: {:.2}x against a target of {} (missed by {p:.1}%)",
                    e.row.title,
                    format_args!("vs {}", r.vs),
                    r.summary.map_or(f64::NAN, |s| s.median),
                    bound(&r.target)
                )),
                Verdict::NotAvailable(why) if r.target.ratio.is_some() => {
                    out.push(format!("{} — vs {}: not measured ({why})", e.row.title, r.vs))
                }
                _ => {}
            }
        }
    }
    out
}

/// BENCHMARKS.md.
pub fn markdown(cfg: &Config, machine: &[(String, String)], groups: &[Group], rows: &[Evaluated]) -> String {
    let mut s = String::from("# quartet benchmarks\n\n");
    s += "Generated by `scripts/bench.sh` (equivalently `cargo run --release -p quartet-benches --`); \
          do not edit by hand: re-run it.\n\n";
    if cfg.quick {
        s += "> **Quick mode**: small sizes and short windows, for development. Run `scripts/bench.sh` \
              without `--quick` on a quiet machine for the figures to quote.\n\n";
    }
    s += "## Machine\n\n| | |\n|---|---|\n";
    for (k, v) in machine {
        s += &format!("| {k} | {} |\n", md_escape(v));
    }
    s += &format!("| Date (UTC) | {} |\n| Settings | {} |\n\n", now_utc(), md_escape(&cfg.describe()));
    s += METHOD;
    s += "\n## Results\n\n";
    s += &markdown_table(rows);
    s += "\n![Ratios quartet/peer against their targets](benches/ratios.svg)\n\n";
    s += "## Targets missed\n\n";
    let m = misses(rows);
    if m.is_empty() {
        s += "None in this run.\n";
    }
    for line in m {
        s += &format!("- {line}\n");
    }
    if let Ok(a) = std::fs::read_to_string(crate::repo_root().join("benches/analysis.md")) {
        s += "\n";
        s += &a;
    }
    s += "\n## Every run\n\n<details><summary>Figures of each run, in the order they ran</summary>\n\n";
    for g in groups {
        s += &format!("**{}**\n\n", g.id);
        for p in &g.peers {
            let runs: Vec<String> = p
                .runs
                .iter()
                .map(|r| match r {
                    Some(m) => m.iter().map(|(k, v)| format!("{k}={}", num(*v))).collect::<Vec<_>>().join(" "),
                    None => "failed".into(),
                })
                .collect();
            s += &format!("- {}: {}\n", p.peer, md_escape(&runs.join(" · ")));
        }
        s += "\n";
    }
    s += "</details>\n";
    s
}

fn now_utc() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

const METHOD: &str = "## Method

- **Interleaving and figures.** Every scenario runs its peers in rounds — quartet, peer 1, peer 2,
  ..., then again — so that the slow drifts of a shared machine hit every peer alike. Each figure
  is the median of the rounds, with the smallest and largest run in brackets. Each ratio is the
  median of the per-round ratios quartet/peer (same round), with their spread.
- **Isolation.** Every run is a fresh process (the bench binary re-executed with a subcommand).
- **TCP echo.** The server of each runtime is its own process pinned to core 0 (`sched_setaffinity`);
  the client is another process pinned to core 1. Every server does the same work: one task per
  connection, `TCP_NODELAY`, receive into a 64 KiB buffer and send what arrived back. The quartet
  server has the structure of `examples/echo.rs`. *raw* is a hand-written io_uring loop with no
  runtime (the limit). With 100 connections the client is a raw io_uring closed loop per
  connection (send N bytes, receive N bytes), as in monoio-benchmark; the server's CPU time
  (user + system, every thread, from `/proc/PID/task/*/schedstat`) is sampled at the start and end
  of the measured window, and divided by the round trips completed in it. On a 2-core machine over
  loopback the client is about as busy as the server, so msgs/s is capped by the client and the
  kernel; server CPU per message is the figure that separates the runtimes. With 1 connection the
  client busy-polls a non-blocking socket and records every round trip.
- **HTTP.** A keep-alive \"Hello, world!\" server pinned to core 0 and `wrk -t1` pinned to core 1
  (a warm-up run, then the measured run); the figure is the server's CPU time during the measured
  run per request wrk completed. *hyper*: the same hyper 1.x HTTP/1.1 server, on quartet through
  `quartet::io::Compat`, on tokio current-thread through hyper-util's `TokioIo`. *native*: the same
  `httparse` loop (answer every complete request in what arrived with one write), on quartet with
  `quartet::io::BufReader` and owned-buffer writes.
- **Spawn.** Wall time from the first spawn until every child is joined: quartet's nursery (its
  exit joins all children) and, for information, a nursery whose body awaits every `JoinHandle`;
  tokio `spawn` then awaiting each `JoinHandle`, and `JoinSet`, on the current-thread (ct) and
  multi-thread (mt, one worker per core) runtimes. The target is against the best tokio variant.
- **Memory per task.** A fresh process spawns N children that each sleep, and reads `VmRSS` from
  `/proc/self/status` before the first spawn and `VmHWM` after the last child finished.
- **Cancellation.** N accepted loopback connections, one child per connection blocked in a
  receive (the nursery waits until every receive is in the kernel). Timed: from `cancel()` until
  the nursery returns, which is after every child has unwound and the kernel has confirmed each
  receive's cancellation with its own completion; tokio: `JoinSet::shutdown()` of N tasks blocked
  in `read`.
- **Timers.** One task per timer, deadlines uniform in a window (the same pseudo-random sequence
  for every peer). The figure is the CPU time of the runtime thread per timer, since the wall time
  is the window whatever the runtime does.
- **Threads.** Sequential round trips to a worker thread: `quartet::to_thread` against tokio's
  `spawn_blocking`.
- **File reads.** 4 KiB reads at random 4 KiB-aligned offsets of a file that was just read whole
  (so it is in the page cache), with a fixed number in flight. tokio-fs is how `tokio::fs` is
  used (one `File` per task, `seek` + `read_exact`, each a trip to the blocking pool); tokio-pread
  is `spawn_blocking(pread)`, the cheapest way to read a file from tokio.
- **Peers** are built from crates.io: tokio 1, monoio 0.2 (io_uring driver), compio 0.19
  (io_uring driver). A peer that cannot build or run here keeps its column with `n/a` and the
  reason.
";
