//! Cancel N children blocked in `recv` on real loopback TCP sockets.
//!
//! Setup (not timed): accept N connections whose client ends are held open by a helper thread,
//! start one child per connection blocked in a receive, and wait until every receive is in the
//! kernel. Timed: quartet cancels the nursery and waits until it returns, that is until every
//! child has unwound and the kernel has confirmed each receive's cancellation with its own
//! completion; tokio calls `JoinSet::shutdown()` on N tasks blocked in `read`.
//!
//! Figure: wall time of the timed part per child (ns).

use crate::child::{Metrics, Params};
use crate::sys;
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One run of `peer`.
pub fn run(peer: &str, p: &Params) -> Result<Metrics, String> {
    let n = p.num("n")? as usize;
    let limit = sys::raise_nofile() as usize;
    if n + 64 > limit {
        return Err(format!("needs {} fds, the limit is {limit}", n + 64));
    }
    let dt = match peer {
        "quartet" => quartet(n)?,
        "tokio-ct" => super::tokio_ct()?.block_on(tokio(n))?,
        other => return Err(format!("unknown peer {other}")),
    };
    Ok(Metrics::from([
        ("ns_per_child".to_string(), dt.as_nanos() as f64 / n as f64),
        ("total_ms".to_string(), dt.as_secs_f64() * 1e3),
    ]))
}

/// Connects `n` clients to `port` from a helper process (this binary's `hold-clients`
/// subcommand) and keeps them open until `stop` fires. A separate process, so that the benchmark
/// process needs only the server ends: 10,000 connections fit a 20,000-fd hard limit.
fn clients(port: u16, n: usize) -> (mpsc::Sender<()>, std::thread::JoinHandle<Result<(), String>>) {
    let (stop, wait) = mpsc::channel::<()>();
    let h = std::thread::spawn(move || {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = std::process::Command::new(exe)
            .args(["hold-clients", &port.to_string(), &n.to_string()])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn client holder: {e}"))?;
        let _ = wait.recv();
        drop(child.stdin.take()); // EOF: the holder closes its sockets and exits
        let status = child.wait().map_err(|e| format!("wait: {e}"))?;
        if status.success() { Ok(()) } else { Err(format!("client holder failed: {status}")) }
    });
    (stop, h)
}

/// `hold-clients PORT N`: connect N clients to 127.0.0.1:PORT, hold them until stdin closes.
pub fn hold_clients(args: &[String]) -> Result<(), String> {
    let port: u16 = args.first().and_then(|a| a.parse().ok()).ok_or("hold-clients PORT N")?;
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).ok_or("hold-clients PORT N")?;
    crate::sys::raise_nofile();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?);
    }
    let mut sink = [0u8; 1];
    let _ = std::io::Read::read(&mut std::io::stdin(), &mut sink);
    drop(held);
    Ok(())
}

fn quartet(n: usize) -> Result<Duration, String> {
    use quartet::net::{ListenOptions, TcpListener};
    let out = quartet::run(async move {
        let opts = ListenOptions::default().backlog(4096);
        let listener =
            TcpListener::bind_with(SocketAddr::from(([127, 0, 0, 1], 0)), opts).map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let (stop, helper) = clients(port, n);
        let mut streams = Vec::with_capacity(n);
        for _ in 0..n {
            streams.push(listener.accept().await.map_err(|e| e.to_string())?.0);
        }
        let started = Cell::new(0usize);
        let t0: Cell<Option<Instant>> = Cell::new(None);
        quartet::nursery(async |nur| {
            for s in &streams {
                let started = &started;
                nur.spawn(async move {
                    started.set(started.get() + 1);
                    let (r, _) = s.recv(Vec::with_capacity(64)).await;
                    r.map(drop)
                })?;
            }
            while started.get() < n {
                quartet::yield_now().await;
            }
            // The nop is queued behind every receive, so once it completes they are all in the kernel.
            quartet::nop().await?;
            t0.set(Some(Instant::now()));
            nur.cancel();
            Ok::<_, quartet::BoxError>(())
        })
        .await
        .map_err(|e| e.to_string())?;
        let dt = t0.get().ok_or("the timed part never started")?.elapsed();
        let _ = stop.send(());
        helper.join().map_err(|_| "client thread panicked")??;
        Ok::<_, String>(dt)
    });
    out.map_err(|e| e.to_string())?
}

async fn tokio(n: usize) -> Result<Duration, String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt;
    // The same backlog as the quartet side (tokio's `bind` uses 1024, and a full accept queue makes
    // connects wait for SYN retransmits, which slows the untimed setup by seconds).
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket.set_reuseaddr(true).map_err(|e| e.to_string())?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).map_err(|e| e.to_string())?;
    let listener = socket.listen(4096).map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let (stop, helper) = clients(port, n);
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        streams.push(listener.accept().await.map_err(|e| e.to_string())?.0);
    }
    let started = Arc::new(AtomicUsize::new(0));
    let mut js = tokio::task::JoinSet::new();
    for mut s in streams {
        let started = started.clone();
        js.spawn(async move {
            started.fetch_add(1, Ordering::Relaxed);
            let mut buf = [0u8; 64];
            s.read(&mut buf).await
        });
    }
    while started.load(Ordering::Relaxed) < n {
        tokio::task::yield_now().await;
    }
    tokio::task::yield_now().await;
    let t0 = Instant::now();
    js.shutdown().await;
    let dt = t0.elapsed();
    let _ = stop.send(());
    tokio::task::spawn_blocking(move || helper.join())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "client thread panicked")??;
    Ok(dt)
}
