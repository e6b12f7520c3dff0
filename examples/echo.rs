//! A TCP echo server: each connection is a child of a nursery.
//!
//! Usage: `cargo run --release --example echo [ADDR:PORT]` (default 127.0.0.1:7878).
//! Sets TCP_NODELAY on every connection. The first Ctrl-C or SIGTERM is a graceful shutdown: the
//! server stops accepting, idle connections close, busy ones finish their message, for up to 3 s;
//! a second signal (or the end of the grace period) cancels what is left. Either way every
//! connection task unwinds through its cleanup and the server exits 0. This is the server the
//! benchmarks use.
//!
//! Each connection receives into its own 64 KiB buffer. A server with many mostly idle
//! connections can receive with `quartet::net::PooledReceiver` instead: the kernel takes a buffer
//! from one shared pool only when bytes arrive (the benchmarks' `quartet-pooled` server; its CPU
//! cost against this one is in benches/analysis.md, "Provided-buffer receives").

use quartet::net::{TcpListener, TcpStream};
use quartet::signal::{Signal, Signals};
use quartet::{BoxError, CancelScope, Cancelled, OpError, Reason, move_on_shutdown, nursery};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// How long a graceful shutdown (the first SIGINT/SIGTERM) lets connections finish.
const GRACE: Duration = Duration::from_secs(3);

/// Echoes everything back until the peer closes, or until a graceful shutdown is requested while
/// the connection is idle. A message being echoed is always finished.
async fn serve(stream: TcpStream) -> Result<(), OpError> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        let next = move_on_shutdown(async {
            let (n, b) = stream.recv(buf).await;
            n.map(|n| (n, b))
        })
        .await?;
        let Some((n, b)) = next else { return Ok(()) }; // shutdown requested while idle
        buf = b;
        if n == 0 {
            return Ok(());
        }
        let (r, b) = stream.send_all(buf).await;
        buf = b;
        r?;
    }
}

async fn server(addr: SocketAddr) -> Result<(), BoxError> {
    let signals = Signals::new(&[Signal::Interrupt, Signal::Terminate])?;
    let listener = TcpListener::bind(addr)?;
    println!("echo: listening on {}", listener.local_addr()?);
    // The connections' scope: the first signal cancels it gracefully (stop accepting, let busy
    // connections finish for up to GRACE), the second one hard.
    let connections = CancelScope::new();
    let handle = connections.handle();
    nursery(async |outer| {
        outer.spawn_named("signal watcher", async move {
            let s = signals.recv().await?;
            eprintln!("echo: {s:?} received, draining connections for up to {GRACE:?} (again to stop now)");
            handle.cancel_gracefully(GRACE);
            let s = signals.recv().await?;
            eprintln!("echo: {s:?} received again, stopping now");
            handle.cancel_with(Reason::Signal);
            Ok::<_, OpError>(())
        })?;
        connections
            .run(nursery(async |n| {
                while let Some((stream, peer)) = move_on_shutdown(listener.accept()).await? {
                    n.spawn_named(format!("connection {peer}"), async move {
                        match serve(stream).await {
                            Err(e) if !e.is_cancelled() => eprintln!("echo: {peer}: {e}"),
                            _ => {}
                        }
                        Ok::<_, Cancelled>(())
                    })?;
                }
                Ok::<_, BoxError>(())
            }))
            .await?;
        outer.cancel(); // every connection is done: stop the signal watcher
        Ok::<_, BoxError>(())
    })
    .await?;
    let how = match connections.reason() {
        Some(Reason::Signal) | Some(Reason::GracePeriodEnded) => "connections cancelled",
        _ => "connections drained",
    };
    println!("echo: shut down cleanly ({how})");
    Ok(())
}

fn main() -> ExitCode {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7878".to_string());
    let addr: SocketAddr = match arg.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("usage: echo [ADDR:PORT]  ({arg:?}: {e})");
            return ExitCode::from(2);
        }
    };
    match quartet::run(server(addr)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("echo: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("echo: cannot start: {e}");
            ExitCode::FAILURE
        }
    }
}
