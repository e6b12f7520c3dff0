//! N concurrent timers with random deadlines (uniform in a window, the same sequence for every
//! peer), one task per timer.
//!
//! Figure: CPU time of the runtime thread from the first spawn until the last timer fired, per
//! timer (ns): the wall time is the window whatever the runtime does, the CPU it burns is not.
//! Also reported: how late, on average, timers fired (µs).

use super::Rng;
use crate::child::{Metrics, Params};
use crate::sys;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// One run of `peer`.
pub fn run(peer: &str, p: &Params) -> Result<Metrics, String> {
    let n = p.num("n")? as usize;
    let window = p.ms("window_ms")?;
    let mut rng = Rng::new(7);
    let delays: Vec<Duration> = (0..n).map(|_| Duration::from_nanos(rng.below(window.as_nanos() as u64))).collect();
    let (cpu, late, parks) = match peer {
        "quartet" => quartet(delays)?,
        "tokio-ct" => super::tokio_ct()?.block_on(tokio(delays)),
        other => return Err(format!("unknown peer {other}")),
    };
    let mut m = Metrics::from([
        ("cpu_ns_per_timer".to_string(), cpu.as_nanos() as f64 / n as f64),
        ("mean_late_us".to_string(), late.as_nanos() as f64 / n as f64 / 1000.0),
    ]);
    if let Some(p) = parks {
        m.insert("ring_enters".to_string(), p as f64);
    }
    Ok(m)
}

fn quartet(delays: Vec<Duration>) -> Result<(Duration, Duration, Option<u64>), String> {
    let out = quartet::run(async move {
        let late = Cell::new(Duration::ZERO);
        let c0 = sys::thread_cpu();
        let start = Instant::now();
        quartet::nursery(async |nur| {
            for d in &delays {
                let at = start + *d;
                let late = &late;
                nur.spawn(async move {
                    quartet::sleep_until(at).await?;
                    late.set(late.get() + at.elapsed());
                    Ok::<_, quartet::Cancelled>(())
                })?;
            }
            Ok::<_, quartet::SpawnError>(())
        })
        .await
        .map_err(|e| e.to_string())?;
        let cpu = sys::thread_cpu() - c0;
        Ok::<_, String>((cpu, late.get(), quartet::stats().map(|s| s.driver.enters)))
    });
    out.map_err(|e| e.to_string())?
}

async fn tokio(delays: Vec<Duration>) -> (Duration, Duration, Option<u64>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let late = Arc::new(AtomicU64::new(0));
    let c0 = sys::thread_cpu();
    let start = tokio::time::Instant::now();
    let mut hs = Vec::with_capacity(delays.len());
    for d in &delays {
        let at = start + *d;
        let late = late.clone();
        hs.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            late.fetch_add(at.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }));
    }
    for h in hs {
        let _ = h.await;
    }
    (sys::thread_cpu() - c0, Duration::from_nanos(late.load(Ordering::Relaxed)), None)
}
