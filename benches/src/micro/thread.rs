//! Round trips to a worker thread and back, one at a time: `quartet::to_thread` (built only with
//! the `to_thread` feature, once that API exists) against tokio's `spawn_blocking`.
//!
//! Figure: wall time per round trip (ns).

use crate::child::{Metrics, Params};
use std::time::{Duration, Instant};

/// One run of `peer`.
pub fn run(peer: &str, p: &Params) -> Result<Metrics, String> {
    let n = p.num("n")?;
    let dt = match peer {
        "quartet" => quartet(n)?,
        "tokio-ct" => super::tokio_ct()?.block_on(tokio(n))?,
        "tokio-mt" => super::tokio_mt()?.block_on(tokio(n))?,
        other => return Err(format!("unknown peer {other}")),
    };
    Ok(Metrics::from([("ns_per_rtt".to_string(), dt.as_nanos() as f64 / n as f64)]))
}

#[cfg(not(feature = "to_thread"))]
fn quartet(_n: u64) -> Result<Duration, String> {
    Err("quartet::to_thread not built (enable the `to_thread` feature)".into())
}

#[cfg(feature = "to_thread")]
fn quartet(n: u64) -> Result<Duration, String> {
    let out = quartet::run(async move {
        let t0 = Instant::now();
        let mut sum = 0u64;
        for i in 0..n {
            sum += quartet::to_thread(move || i).await.map_err(|e| e.to_string())?;
        }
        std::hint::black_box(sum);
        Ok::<_, String>(t0.elapsed())
    });
    out.map_err(|e| e.to_string())?
}

async fn tokio(n: u64) -> Result<Duration, String> {
    let t0 = Instant::now();
    let mut sum = 0u64;
    for i in 0..n {
        sum += tokio::task::spawn_blocking(move || i).await.map_err(|e| e.to_string())?;
    }
    std::hint::black_box(sum);
    Ok(t0.elapsed())
}
