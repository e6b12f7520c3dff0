//! A TCP echo server: each connection is a child of a nursery.
//!
//! Usage: `cargo run --release --example echo [ADDR:PORT]` (default 127.0.0.1:7878).
//! Sets TCP_NODELAY on every connection. Ctrl-C or SIGTERM cancels the root scope; every
//! connection task unwinds through its cleanup and the server exits 0. This is the server the
//! benchmarks use.

use quartet::net::{TcpListener, TcpStream};
use quartet::signal::Signal;
use quartet::{BoxError, Cancelled, OpError, cancel_on_signals, nursery};
use std::net::SocketAddr;
use std::process::ExitCode;

/// Echoes everything back until the peer closes.
async fn serve(stream: TcpStream) -> Result<(), OpError> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        let (n, b) = stream.recv(buf).await;
        buf = b;
        if n? == 0 {
            return Ok(());
        }
        let (r, b) = stream.send_all(buf).await;
        buf = b;
        r?;
    }
}

async fn server(addr: SocketAddr) -> Result<(), BoxError> {
    let listener = TcpListener::bind(addr)?;
    let result = nursery(async |n| {
        // Set up before announcing the address: from here on a signal is queued, not fatal.
        let on_signal = cancel_on_signals(&[Signal::Interrupt, Signal::Terminate], n.cancel_handle())?;
        n.spawn_named("signal watcher", async move {
            let s = on_signal.await?;
            eprintln!("echo: {s:?} received, cancelling the root scope");
            Ok::<_, OpError>(())
        })?;
        println!("echo: listening on {}", listener.local_addr()?);
        loop {
            let (stream, peer) = listener.accept().await?;
            n.spawn_named(format!("connection {peer}"), async move {
                match serve(stream).await {
                    Err(e) if !e.is_cancelled() => eprintln!("echo: {peer}: {e}"),
                    _ => {}
                }
                Ok::<_, Cancelled>(())
            })?;
        }
        #[allow(unreachable_code)]
        Ok::<(), BoxError>(())
    })
    .await;
    match result {
        Err(e) if e.is_cancelled() => {
            println!("echo: shut down cleanly ({})", e.cancelled().map_or("cancelled".into(), |c| c.to_string()));
            Ok(())
        }
        other => other.map_err(Into::into),
    }
}

/// Parses the address, runs the server, maps the outcome to an exit code (public so
/// `tests/signal_cancel_example.rs` can run it in a child process).
pub fn main() -> ExitCode {
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
