//! A TCP echo server on several cores: one kernel per core (`PerCore`), each pinned, each
//! accepting on its own `SO_REUSEPORT` listener, so a connection lives on one core from accept
//! to close and nothing is shared on the hot path.
//!
//! Usage: `cargo run --release --example echo_multicore [ADDR:PORT] [CORES]` (default
//! 127.0.0.1:7879, every CPU this process may use). The first Ctrl-C or SIGTERM shuts the whole
//! group down gracefully (every core stops accepting and idle connections close, for up to 3 s);
//! a second cancels what is left. The calling thread watches the signals (they are blocked on
//! every core's thread) and cancels the group; every core's tasks unwind through their cleanup.

use quartet::net::{ReusePortListeners, Serve, TcpStream};
use quartet::signal::Signal;
use quartet::{BoxError, Core, OpError, PerCore, move_on_shutdown};
use std::process::ExitCode;
use std::time::Duration;

/// Echoes until the peer closes, or until a graceful shutdown finds the connection idle.
async fn echo(stream: TcpStream) -> Result<(), OpError> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        let next = move_on_shutdown(async {
            let (n, b) = stream.recv(buf).await;
            n.map(|n| (n, b))
        })
        .await?;
        let Some((n, b)) = next else { return Ok(()) };
        if n == 0 {
            return Ok(());
        }
        let (sent, b) = stream.send_all(b).await;
        sent?;
        buf = b;
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7879".into());
    let cores = match args.next() {
        Some(n) => n.parse().unwrap_or(0),
        None => quartet::runtime::group::allowed_cpus().map_or(1, |c| c.len()),
    };
    let shards = match addr.parse().map_err(BoxError::from).and_then(|a| Ok(ReusePortListeners::bind(a, cores)?)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("echo_multicore: cannot listen on {addr} with {cores} cores: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {} with {cores} cores", shards.local_addr());
    let group = PerCore::new(cores)
        .cancel_on_signals_gracefully(&[Signal::Interrupt, Signal::Terminate], Duration::from_secs(3));
    let out = group.run(|core: Core| {
        let shards = &shards;
        async move {
            let listener = shards.take(core.index())?;
            Serve::new().listeners(vec![listener], async |s: TcpStream| echo(s).await).await?;
            Ok::<_, BoxError>(())
        }
    });
    match out {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) if e.is_cancelled() => {
            println!("shut down");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("echo_multicore: {e}");
            ExitCode::FAILURE
        }
    }
}
