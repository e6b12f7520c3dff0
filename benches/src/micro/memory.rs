//! Memory per task: N children each sleeping S, in a fresh process.
//!
//! Figure: (VmHWM after every child finished - VmRSS just before the first spawn) / N, read
//! from `/proc/self/status`. Each peer keeps what it needs to join its children: quartet's
//! nursery holds them itself; tokio keeps a `Vec` of `JoinHandle`s (8 bytes per task).

use crate::child::{Metrics, Params};
use crate::sys;
use std::time::Duration;

/// One run of `peer`.
pub fn run(peer: &str, p: &Params) -> Result<Metrics, String> {
    let n = p.num("n")? as usize;
    let d = p.ms("sleep_ms")?;
    let (before, peak) = match peer {
        "quartet" => quartet(n, d)?,
        "tokio-ct" => super::tokio_ct()?.block_on(tokio(n, d))?,
        "tokio-mt" => super::tokio_mt()?.block_on(tokio(n, d))?,
        other => return Err(format!("unknown peer {other}")),
    };
    let per = peak.saturating_sub(before) as f64 / n as f64;
    Ok(Metrics::from([("bytes_per_task".to_string(), per)]))
}

fn quartet(n: usize, d: Duration) -> Result<(u64, u64), String> {
    let out = quartet::run(async move {
        let before = sys::status_bytes("VmRSS").map_err(|e| e.to_string())?;
        quartet::nursery(async |nur| {
            for _ in 0..n {
                nur.spawn(quartet::sleep(d))?;
            }
            Ok::<_, quartet::SpawnError>(())
        })
        .await
        .map_err(|e| e.to_string())?;
        let peak = sys::status_bytes("VmHWM").map_err(|e| e.to_string())?;
        Ok::<_, String>((before, peak))
    });
    out.map_err(|e| e.to_string())?
}

async fn tokio(n: usize, d: Duration) -> Result<(u64, u64), String> {
    let before = sys::status_bytes("VmRSS").map_err(|e| e.to_string())?;
    let mut hs = Vec::with_capacity(n);
    for _ in 0..n {
        hs.push(tokio::spawn(tokio::time::sleep(d)));
    }
    for h in hs {
        h.await.map_err(|e| e.to_string())?;
    }
    let peak = sys::status_bytes("VmHWM").map_err(|e| e.to_string())?;
    Ok((before, peak))
}
