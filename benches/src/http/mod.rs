//! HTTP over loopback with `wrk`: CPU per request of a keep-alive "Hello, world!" server.
//!
//! Each run starts the server as its own process pinned to core 0 (`serve http-<name> 0`), then a
//! child pinned to core 1 runs `wrk` (which inherits the pinning): a short warm-up run, then the
//! measured run. The figure is the server's CPU time (all threads, from `/proc`) during the
//! measured run divided by the requests wrk completed in it.

pub mod servers;

use crate::child::{self, Metrics, Params};
use crate::{echo, sys};
use std::process::Command;
use std::time::Duration;

/// Parent side: one run of server `name` (e.g. `hyper-quartet`).
pub fn run(name: &str, p: &Params) -> Result<Metrics, String> {
    which_wrk()?;
    let (server_core, _) = echo::cores();
    let server = child::Server::start(&format!("http-{name}"), server_core)?;
    let p = p.clone().with("port", server.port).with("pid", server.pid());
    let out = child::once("http", name, &p, Duration::from_secs(120));
    drop(server);
    out
}

fn which_wrk() -> Result<(), String> {
    match Command::new("wrk").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(_) => Err("wrk is not installed (Debian: `apt-get install wrk`; scripts/bench.sh tries that)".into()),
    }
}

/// Child side: pins itself to the client core, runs wrk, reads the server's CPU time.
pub fn client(p: &Params) -> Result<Metrics, String> {
    let (_, client_core) = echo::cores();
    sys::pin_to_core(client_core).map_err(|e| format!("pin client: {e}"))?;
    let url = format!("http://127.0.0.1:{}/", p.num("port")?);
    let pid = p.num("pid")? as u32;
    let conns = p.num("conns")?;
    wrk(&url, conns, p.ms("warmup_ms")?)?;
    let before = sys::process_cpu(pid).map_err(|e| format!("server CPU: {e}"))?;
    let (requests, secs) = wrk(&url, conns, p.ms("window_ms")?)?;
    let after = sys::process_cpu(pid).map_err(|e| format!("server CPU: {e}"))?;
    let cpu = after.saturating_sub(before);
    let mut m = Metrics::new();
    m.insert("cpu_ns_per_req".into(), cpu.as_nanos() as f64 / requests.max(1) as f64);
    m.insert("reqs_per_s".into(), requests as f64 / secs);
    m.insert("server_cpu_util".into(), cpu.as_secs_f64() / secs);
    Ok(m)
}

/// Runs wrk for `d` with `conns` keep-alive connections; returns (requests, seconds).
fn wrk(url: &str, conns: u64, d: Duration) -> Result<(u64, f64), String> {
    let secs = d.as_secs_f64().max(1.0).round() as u64;
    let out = Command::new("wrk")
        .args(["-t1", &format!("-c{conns}"), &format!("-d{secs}s"), url])
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("wrk failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    if let Some(errors) = text.lines().find(|l| l.contains("Socket errors") || l.contains("Non-2xx")) {
        return Err(format!("wrk saw errors: {}", errors.trim()));
    }
    // "  64201 requests in 1.00s, 7.59MB read"
    let line = text.lines().find(|l| l.contains(" requests in ")).ok_or_else(|| format!("no summary in {text:?}"))?;
    let mut words = line.split_whitespace();
    let requests = words.next().and_then(|w| w.parse::<u64>().ok()).ok_or("bad request count")?;
    let secs = words
        .nth(2)
        .and_then(|w| w.trim_end_matches(',').strip_suffix('s'))
        .and_then(|w| w.parse::<f64>().ok())
        .ok_or("bad duration")?;
    Ok((requests, secs))
}
