//! Ping-pong between two children over two capacity-1 channels, N round trips.
//!
//! Figure: wall time per round trip (ns). quartet uses `quartet::channel(1)` (built only with the
//! `channel` feature, once that API exists); tokio uses `tokio::sync::mpsc::channel(1)`.

use crate::child::{Metrics, Params};
use std::time::{Duration, Instant};

/// One run of `peer`.
pub fn run(peer: &str, p: &Params) -> Result<Metrics, String> {
    let n = p.num("n")?;
    let (dt, enters) = match peer {
        "quartet" => quartet(n)?,
        "tokio-ct" => (super::tokio_ct()?.block_on(tokio(n))?, None),
        "tokio-mt" => (super::tokio_mt()?.block_on(tokio(n))?, None),
        other => return Err(format!("unknown peer {other}")),
    };
    let mut m = Metrics::from([("ns_per_rtt".to_string(), dt.as_nanos() as f64 / n as f64)]);
    if let Some(e) = enters {
        m.insert("ring_enters_per_rtt".to_string(), e as f64 / n as f64);
    }
    Ok(m)
}

#[cfg(not(feature = "channel"))]
fn quartet(_n: u64) -> Result<(Duration, Option<u64>), String> {
    Err("quartet::channel not built (enable the `channel` feature)".into())
}

#[cfg(feature = "channel")]
fn quartet(n: u64) -> Result<(Duration, Option<u64>), String> {
    let out = quartet::run(async move {
        let (tx1, rx1) = quartet::channel::<u64>(1);
        let (tx2, rx2) = quartet::channel::<u64>(1);
        let t0 = Instant::now();
        quartet::nursery(async |nur| {
            nur.spawn(async move {
                for i in 0..n {
                    tx1.send(i).await.map_err(|e| e.to_string())?;
                    rx2.recv().await?.ok_or("pong ended")?;
                }
                Ok::<_, quartet::BoxError>(())
            })?;
            nur.spawn(async move {
                while let Some(v) = rx1.recv().await? {
                    tx2.send(v).await.map_err(|e| e.to_string())?;
                }
                Ok::<_, quartet::BoxError>(())
            })?;
            Ok::<_, quartet::SpawnError>(())
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, String>((t0.elapsed(), quartet::stats().map(|s| s.driver.enters)))
    });
    out.map_err(|e| e.to_string())?
}

async fn tokio(n: u64) -> Result<Duration, String> {
    let (tx1, mut rx1) = tokio::sync::mpsc::channel::<u64>(1);
    let (tx2, mut rx2) = tokio::sync::mpsc::channel::<u64>(1);
    let t0 = Instant::now();
    let ping = tokio::spawn(async move {
        for i in 0..n {
            tx1.send(i).await.map_err(|e| e.to_string())?;
            rx2.recv().await.ok_or("pong ended")?;
        }
        Ok::<_, String>(())
    });
    let pong = tokio::spawn(async move {
        while let Some(v) = rx1.recv().await {
            if tx2.send(v).await.is_err() {
                break;
            }
        }
    });
    ping.await.map_err(|e| e.to_string())??;
    pong.await.map_err(|e| e.to_string())?;
    Ok(t0.elapsed())
}
