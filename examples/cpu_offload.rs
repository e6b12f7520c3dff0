//! CPU-bound handlers: done inline they stall every other connection; moved to a worker with
//! `to_thread` they do not.
//!
//! Usage: `cargo run --release --example cpu_offload`. Loopback only; takes a few seconds.
//!
//! A server answers two requests: `H` hashes a 4 MiB buffer (FNV-1a, a few milliseconds of CPU)
//! and `L` answers at once. Plain client threads, off the runtime, keep one connection busy with
//! heavy requests and time light requests on four others. The server runs twice: hashing inline
//! in the handler, then with `to_thread` (under a one-token `CapacityLimiter`, which leaves the
//! other core to the loop). The slow-poll detector is on (2 ms): it names the inline handlers
//! that held the loop; with `to_thread` it stays (almost) quiet. It measures wall time, so on a
//! loaded machine a loop thread that the OS preempts in the middle of a poll is reported too.

use quartet::monitor::{SlowPoll, SlowPollReporter, StderrReporter, loop_lag};
use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, Builder, CapacityLimiter, OpError, nursery, to_thread};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BUFFER: usize = 4 << 20;
const LIGHT_CLIENTS: usize = 4;
const LIGHT_REQUESTS: usize = 150;
const SLOW_POLL: Duration = Duration::from_millis(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Inline,
    ToThread,
}

/// 64-bit FNV-1a: one multiply per byte, in a dependency chain, so it really costs CPU time.
fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Prints the first few reports (in the default format) and counts the rest.
#[derive(Clone, Default)]
struct FirstFew(Arc<AtomicU64>);

impl SlowPollReporter for FirstFew {
    fn report(&self, poll: &SlowPoll) {
        if self.0.fetch_add(1, Ordering::Relaxed) < 3 {
            StderrReporter.report(poll);
        }
    }
}

async fn serve(stream: TcpStream, mode: Mode, data: Arc<Vec<u8>>, cpu: CapacityLimiter) -> Result<(), OpError> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(64);
    loop {
        buf.clear();
        let (n, b) = stream.recv(buf).await;
        buf = b;
        let n = n?;
        if n == 0 {
            return Ok(());
        }
        let requests = buf[..n].to_vec();
        for req in requests {
            let answer = match (req, mode) {
                (b'H', Mode::Inline) => fnv1a(&data),
                (b'H', Mode::ToThread) => {
                    let data = data.clone();
                    to_thread(move || fnv1a(&data)).limiter(&cpu).await?
                }
                _ => 0,
            };
            let (r, _) = stream.send_all(answer.to_le_bytes().to_vec()).await;
            r?;
        }
    }
}

fn request(s: &mut std::net::TcpStream, kind: u8) -> std::io::Result<()> {
    s.write_all(&[kind])?;
    let mut reply = [0u8; 8];
    s.read_exact(&mut reply)
}

fn connect(addr: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    let s = std::net::TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

/// Runs the clients; returns the light requests' latencies and how many heavy requests were served.
fn clients(addr: SocketAddr) -> std::io::Result<(Vec<Duration>, u64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let heavy_done = Arc::new(AtomicU64::new(0));
    let heavy = {
        let (stop, done) = (stop.clone(), heavy_done.clone());
        let mut s = connect(addr)?;
        std::thread::spawn(move || -> std::io::Result<()> {
            while !stop.load(Ordering::Relaxed) {
                request(&mut s, b'H')?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
    };
    let light: Vec<_> = (0..LIGHT_CLIENTS)
        .map(|_| {
            let mut s = connect(addr)?;
            Ok(std::thread::spawn(move || -> std::io::Result<Vec<Duration>> {
                let mut lat = Vec::with_capacity(LIGHT_REQUESTS);
                for _ in 0..LIGHT_REQUESTS {
                    std::thread::sleep(Duration::from_millis(1));
                    let t0 = Instant::now();
                    request(&mut s, b'L')?;
                    lat.push(t0.elapsed());
                }
                Ok(lat)
            }))
        })
        .collect::<std::io::Result<_>>()?;
    let mut all = Vec::new();
    for t in light {
        all.extend(t.join().expect("light client panicked")?);
    }
    stop.store(true, Ordering::Relaxed);
    heavy.join().expect("heavy client panicked")?;
    Ok((all, heavy_done.load(Ordering::Relaxed)))
}

struct Report {
    latencies: Vec<Duration>,
    heavy: u64,
    slow_polls: u64,
    lag_p99: Duration,
    elapsed: Duration,
}

fn run(mode: Mode, data: &Arc<Vec<u8>>) -> Result<Report, BoxError> {
    let reports = FirstFew::default();
    let started = Instant::now();
    let out =
        Builder::new().slow_poll_threshold(Some(SLOW_POLL)).slow_poll_reporter(reports.clone()).run(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
            let addr = listener.local_addr()?;
            let cpu = CapacityLimiter::new(1);
            let measured = RefCell::new(None);
            let result = nursery(async |n| {
                let stop = n.cancel_handle();
                let measured = &measured;
                n.spawn_named("ticker", async {
                    // A 1 ms timer, over and over: how late it fires is the loop lag.
                    loop {
                        quartet::sleep(Duration::from_millis(1)).await?;
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), OpError>(())
                })?;
                n.spawn_named("clients", async move {
                    // The clients are plain threads; wait for them without blocking the loop.
                    let out = to_thread(move || clients(addr)).await?;
                    *measured.borrow_mut() = Some(out);
                    stop.cancel();
                    Ok::<_, OpError>(())
                })?;
                loop {
                    let (stream, _) = listener.accept().await?;
                    let (data, cpu) = (data.clone(), cpu.clone());
                    n.spawn_named(format!("{mode:?} handler"), serve(stream, mode, data, cpu))?;
                }
                #[allow(unreachable_code)]
                Ok::<(), BoxError>(())
            })
            .await;
            match result {
                Err(e) if !e.is_cancelled() => return Err(BoxError::from(e)),
                _ => {}
            }
            let (latencies, heavy) = measured.into_inner().ok_or("the clients did not finish")??;
            let lag_p99 = loop_lag().map_or(Duration::ZERO, |l| l.percentile(0.99));
            Ok::<_, BoxError>((latencies, heavy, lag_p99))
        })??;
    let (mut latencies, heavy, lag_p99) = out;
    latencies.sort();
    Ok(Report { latencies, heavy, slow_polls: reports.0.load(Ordering::Relaxed), lag_p99, elapsed: started.elapsed() })
}

fn pct(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() -> Result<(), BoxError> {
    let data = Arc::new((0..BUFFER).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());
    let t = Instant::now();
    let h = fnv1a(&data);
    println!("one heavy request: FNV-1a of {} MiB takes {:.1?} (hash {h:x})", BUFFER >> 20, t.elapsed());
    let mut rows = Vec::new();
    for mode in [Mode::Inline, Mode::ToThread] {
        println!("\n--- {mode:?}: slow-poll reports (first 3) ---");
        std::io::stdout().flush()?; // the reports go to stderr
        rows.push((mode, run(mode, &data)?));
    }
    println!("\nlatency of light requests while heavy ones are served ({LIGHT_CLIENTS}x{LIGHT_REQUESTS} samples):");
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>8} {:>11} {:>14} {:>8}",
        "mode", "p50", "p99", "max", "heavy", "slow polls", "timer lag p99", "time"
    );
    for (mode, r) in &rows {
        let l = &r.latencies;
        println!(
            "{:<10} {:>10.2?} {:>10.2?} {:>10.2?} {:>8} {:>11} {:>14.2?} {:>8.2?}",
            format!("{mode:?}"),
            pct(l, 0.5),
            pct(l, 0.99),
            l[l.len() - 1],
            r.heavy,
            r.slow_polls,
            r.lag_p99,
            r.elapsed
        );
    }
    Ok(())
}
