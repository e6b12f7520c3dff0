//! TCP echo over loopback: throughput with many connections and latency with one.
//!
//! Each run starts the server of one runtime as its own process pinned to core 0, then runs the
//! client as another process pinned to core 1 (`once echo-tput` / `once echo-lat`), then kills
//! the server. The client reports msgs/s and the server's CPU time per message (server
//! `utime + stime` in the measured window / messages), or p50/p99 round-trip latency.

pub mod client;
pub mod multicore;
pub mod raw;
pub mod raw_tuned;
pub mod servers;

use crate::child::{self, Metrics, Params};
use crate::sys;
use std::net::SocketAddr;
use std::time::Duration;

/// Cores for server and client (the same core if the machine has only one).
pub fn cores() -> (usize, usize) {
    if sys::online_cpus() >= 2 { (0, 1) } else { (0, 0) }
}

/// Parent side: one run of `kind` (`echo-tput` or `echo-lat`) against `peer`'s server.
pub fn run(peer: &str, kind: &str, p: &Params) -> Result<Metrics, String> {
    let (server_core, _) = cores();
    let server = child::Server::start(peer, server_core)?;
    let p = p.clone().with("port", server.port).with("pid", server.pid());
    let out = child::once(kind, peer, &p, Duration::from_secs(120));
    drop(server);
    out
}

/// Child side: the client of one run.
pub fn client(kind: &str, p: &Params) -> Result<Metrics, String> {
    let (_, client_core) = cores();
    sys::pin_to_core(client_core).map_err(|e| format!("pin client: {e}"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], p.num("port")? as u16));
    let size = p.num("size")? as usize;
    let mut m = Metrics::new();
    match kind {
        "echo-tput" => {
            let t = client::throughput(
                addr,
                p.num("pid")? as u32,
                p.num("conns")? as usize,
                size,
                p.ms("warmup_ms")?,
                p.ms("window_ms")?,
            )?;
            let msgs = t.msgs.max(1) as f64;
            m.insert("msgs_per_s".into(), t.msgs as f64 / t.secs);
            m.insert("cpu_ns_per_msg".into(), t.server_cpu.as_nanos() as f64 / msgs);
            m.insert("server_cpu_util".into(), t.server_cpu.as_secs_f64() / t.secs);
            m.insert("total_msgs".into(), t.total as f64);
        }
        _ => {
            let mut times = client::latency(addr, p.num("rtts")? as usize, size)?;
            times.sort_unstable();
            let pct = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize] as f64 / 1000.0;
            m.insert("p50_us".into(), pct(0.50));
            m.insert("p99_us".into(), pct(0.99));
        }
    }
    Ok(m)
}

/// Child side of `serve <peer> <core>`: pins itself, then serves until killed.
pub fn serve(peer: &str, core: usize) -> Result<(), String> {
    if multicore::is_multicore(peer) {
        // Two-core servers place their own threads; the process is not pinned.
        return multicore::serve(peer);
    }
    sys::pin_to_core(core).map_err(|e| format!("pin server: {e}"))?;
    servers::serve(peer)
}
