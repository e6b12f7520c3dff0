//! Cross-core hand-offs (issue 16): a ping-pong over two capacity-1 channels whose ends are on
//! different cores, and a spawn on the other core + join round trip, N times.
//!
//! quartet: `PerCore` with two pinned kernels; the channel is `quartet::channel(1)` (a send wakes
//! the receiver's core through its remote-wake queue: a MSG_RING posted from the sender's ring,
//! the default where the kernel has it), the spawn is `CoreNursery::spawn_on(1, ..)` awaited on
//! core 0. Pinned cores spin after a cross-core wake by default (`Builder::wake_spin`,
//! `DEFAULT_CORE_WAKE_SPIN`), and a core that spins counts as awake: a wake sent to it is a queue
//! push, no MSG_RING. `quartet-nospin`: the same with `wake_spin(0)`, so every hand-off wakes a
//! core that sleeps in its ring (a MSG_RING and a vCPU wake-up). `quartet-eventfd`: no spin and
//! `Builder::msg_ring(false)`, so every cross-core wake writes the target's eventfd.
//! `quartet-spin`: pinned, MSG_RING, and `Builder::busy_poll` of [`SPIN`] (spins before every
//! wait, not only after a cross-core wake).
//! tokio: the multi-thread runtime with 2 workers, `tokio::sync::mpsc` between
//! two spawned tasks, `tokio::spawn(..).await` from a task (the scheduler decides where each task
//! runs, so not every tokio hand-off crosses workers). `quartet-unpinned`: the same with
//! `Pinning::Off`, so the OS may run both kernels on one CPU. Figure: wall time per round trip
//! (ns). On a machine whose CPUs are busy with other work, a pinned thread that is woken waits
//! for its CPU (no migration), which dominates the pinned figures: measure on a quiet machine.

use crate::child::{Metrics, Params};
use quartet::{PerCore, Pinning};
use std::time::{Duration, Instant};

/// The busy-poll bound of the `quartet-spin` peer: longer than a round trip between two awake
/// cores, short enough that an idle core soon sleeps.
const SPIN: Duration = Duration::from_micros(200);

/// One run of `bench` (`xcore-pingpong` or `xcore-spawn`) for `peer`.
pub fn run(bench: &str, peer: &str, p: &Params) -> Result<Metrics, String> {
    let n = p.num("n")?;
    let builder = quartet::runtime::Builder::new();
    let (pin, builder) = match peer {
        "quartet-spin" => (Pinning::Auto, builder.busy_poll(SPIN)),
        "quartet-nospin" => (Pinning::Auto, builder.wake_spin(Duration::ZERO)),
        "quartet-eventfd" => (Pinning::Auto, builder.msg_ring(false).wake_spin(Duration::ZERO)),
        "quartet-unpinned" => (Pinning::Off, builder),
        _ => (Pinning::Auto, builder),
    };
    let group = || PerCore::new(2).pin(pin.clone()).runtime(builder.clone());
    let dt = match (bench, peer) {
        ("xcore-pingpong", p) if p.starts_with("quartet") => quartet_pingpong(n, group())?,
        ("xcore-spawn", p) if p.starts_with("quartet") => quartet_spawn(n, group())?,
        ("xcore-pingpong", "tokio-mt") => tokio_mt2()?.block_on(tokio_pingpong(n))?,
        ("xcore-spawn", "tokio-mt") => tokio_mt2()?.block_on(tokio_spawn(n))?,
        (b, other) => return Err(format!("no {b} for peer {other}")),
    };
    Ok(Metrics::from([("ns_per_rtt".to_string(), dt.as_nanos() as f64 / n as f64)]))
}

fn tokio_mt2() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())
}

fn quartet_pingpong(n: u64, group: PerCore) -> Result<Duration, String> {
    use quartet::{BoxError, Core};
    let (tx1, rx1) = quartet::channel::<u64>(1);
    let (tx2, rx2) = quartet::channel::<u64>(1);
    let out = group.run(|core: Core| {
        let (tx1, rx1, tx2, rx2) = (tx1.clone(), rx1.clone(), tx2.clone(), rx2.clone());
        async move {
            if core.index() == 0 {
                let t0 = Instant::now();
                for i in 0..n {
                    tx1.send(i).await.map_err(|e| e.to_string())?;
                    rx2.recv().await?.ok_or("pong ended")?;
                }
                return Ok::<_, BoxError>(Some(t0.elapsed()));
            }
            for _ in 0..n {
                let v = rx1.recv().await?.ok_or("ping ended")?;
                tx2.send(v).await.map_err(|e| e.to_string())?;
            }
            Ok(None)
        }
    });
    out.map_err(|e| e.to_string())?.into_iter().flatten().next().ok_or_else(|| "no time".into())
}

fn quartet_spawn(n: u64, group: PerCore) -> Result<Duration, String> {
    use quartet::{BoxError, Core};
    let out = group.run(|core: Core| async move {
        if core.index() != 0 {
            return Ok::<_, BoxError>(None);
        }
        let dt = core
            .nursery(async |nur| {
                let t0 = Instant::now();
                for i in 0..n {
                    let v = nur.spawn_on(1, move || async move { Ok::<_, BoxError>(i) })?.await?;
                    assert_eq!(v, i);
                }
                Ok::<_, BoxError>(t0.elapsed())
            })
            .await?;
        Ok(Some(dt))
    });
    out.map_err(|e| e.to_string())?.into_iter().flatten().next().ok_or_else(|| "no time".into())
}

async fn tokio_pingpong(n: u64) -> Result<Duration, String> {
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

async fn tokio_spawn(n: u64) -> Result<Duration, String> {
    tokio::spawn(async move {
        let t0 = Instant::now();
        for i in 0..n {
            let v = tokio::spawn(async move { i }).await.map_err(|e| e.to_string())?;
            assert_eq!(v, i);
        }
        Ok::<_, String>(t0.elapsed())
    })
    .await
    .map_err(|e| e.to_string())?
}
