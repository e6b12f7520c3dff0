//! Spawn and join N trivial children: quartet nurseries against tokio `spawn` + awaiting the
//! `JoinHandle`s and against `JoinSet`, on tokio's current-thread and multi-thread runtimes.
//!
//! Figure: wall time from the first spawn until every child has been joined, per child (ns).

use crate::child::{Metrics, Params};
use std::time::{Duration, Instant};

/// One run of `peer` with `n` children.
pub fn run(peer: &str, p: &Params) -> Result<Metrics, String> {
    let n = p.num("n")? as usize;
    let dt = match peer {
        "quartet" => quartet_nursery(quartet::Builder::new(), n)?,
        "quartet-instr" => quartet_nursery(super::noop_instrumented(), n)?,
        "quartet-handles" => quartet_handles(n)?,
        "tokio-ct" => super::tokio_ct()?.block_on(tokio_handles(n)),
        "tokio-ct-joinset" => super::tokio_ct()?.block_on(tokio_joinset(n)),
        "tokio-mt" => super::tokio_mt()?.block_on(tokio_handles(n)),
        "tokio-mt-joinset" => super::tokio_mt()?.block_on(tokio_joinset(n)),
        other => return Err(format!("unknown peer {other}")),
    };
    Ok(Metrics::from([("ns_per_task".to_string(), dt.as_nanos() as f64 / n as f64)]))
}

fn quartet_nursery(builder: quartet::Builder, n: usize) -> Result<Duration, String> {
    let out = builder.run(async move {
        let t0 = Instant::now();
        quartet::nursery(async |nur| {
            for _ in 0..n {
                nur.spawn(async { Ok::<_, quartet::Cancelled>(()) })?;
            }
            Ok::<_, quartet::SpawnError>(())
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, String>(t0.elapsed())
    });
    out.map_err(|e| e.to_string())?
}

fn quartet_handles(n: usize) -> Result<Duration, String> {
    let out = quartet::run(async move {
        let t0 = Instant::now();
        quartet::nursery(async |nur| {
            let mut hs = Vec::with_capacity(n);
            for _ in 0..n {
                hs.push(nur.spawn(async { Ok::<_, quartet::Cancelled>(()) })?);
            }
            for h in hs {
                h.await?;
            }
            Ok::<_, quartet::BoxError>(())
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, String>(t0.elapsed())
    });
    out.map_err(|e| e.to_string())?
}

async fn tokio_handles(n: usize) -> Duration {
    let t0 = Instant::now();
    let mut hs = Vec::with_capacity(n);
    for _ in 0..n {
        hs.push(tokio::spawn(async {}));
    }
    for h in hs {
        let _ = h.await;
    }
    t0.elapsed()
}

async fn tokio_joinset(n: usize) -> Duration {
    let t0 = Instant::now();
    let mut js = tokio::task::JoinSet::new();
    for _ in 0..n {
        js.spawn(async {});
    }
    while js.join_next().await.is_some() {}
    t0.elapsed()
}
