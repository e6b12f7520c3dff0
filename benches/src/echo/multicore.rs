//! Echo servers on two cores (issue 16), doing the same per-connection work as `servers.rs`:
//! - `quartet-2c`: `PerCore` with two pinned kernels, a `SO_REUSEPORT` listener each
//!   (`ReusePortListeners`), a nursery child per connection;
//! - `tokio-mt-2`: tokio's multi-thread runtime with 2 workers and one listener (work stealing);
//! - `monoio-2`: two monoio threads, each pinned, each with its own `SO_REUSEPORT` listener
//!   (thread-per-core, as monoio's own benchmark runs it).
//!
//! These processes are not pinned as a whole (the parent pins single-core servers to core 0):
//! the server uses both cores, and the client shares them.

use super::servers::BUF;
use std::io::Write;
use std::net::SocketAddr;

/// True for the peers that serve on two cores.
pub fn is_multicore(peer: &str) -> bool {
    matches!(peer, "quartet-2c" | "tokio-mt-2" | "monoio-2")
}

fn announce(addr: SocketAddr) {
    println!("PORT {}", addr.port());
    let _ = std::io::stdout().flush();
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Runs the two-core echo server of `peer` until the process is killed.
pub fn serve(peer: &str) -> Result<(), String> {
    match peer {
        "quartet-2c" => quartet(),
        "tokio-mt-2" => tokio(),
        "monoio-2" => monoio(),
        other => Err(format!("no two-core echo server for {other:?}")),
    }
}

fn quartet() -> Result<(), String> {
    use quartet::net::{ReusePortListeners, TcpStream};
    use quartet::{BoxError, Core, OpError, PerCore};

    async fn conn(stream: TcpStream) -> Result<(), OpError> {
        stream.set_nodelay(true)?;
        let mut buf = Vec::with_capacity(BUF);
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

    let shards = ReusePortListeners::bind(loopback(), 2).map_err(|e| e.to_string())?;
    announce(shards.local_addr());
    let out = PerCore::new(2).run(|core: Core| {
        let shards = &shards;
        async move {
            let listener = shards.take(core.index())?;
            quartet::nursery(async |n| {
                loop {
                    let (stream, _) = listener.accept().await?;
                    n.spawn(async move {
                        let _ = conn(stream).await;
                    })?;
                }
                #[allow(unreachable_code)]
                Ok::<(), BoxError>(())
            })
            .await?;
            Ok::<_, BoxError>(())
        }
    });
    out.map(drop).map_err(|e| e.to_string())
}

fn tokio() -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(loopback()).await.map_err(|e| e.to_string())?;
        announce(listener.local_addr().map_err(|e| e.to_string())?);
        loop {
            let (mut s, _) = listener.accept().await.map_err(|e| e.to_string())?;
            tokio::spawn(async move {
                let _ = s.set_nodelay(true);
                let mut buf = vec![0u8; BUF];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    })
}

fn monoio() -> Result<(), String> {
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
    use monoio::net::{ListenerOpts, TcpListener};
    let opts = ListenerOpts::new().reuse_port(true);
    // Core 0 binds first (port 0 picks the port), then core 1 binds to the same address.
    let (port_tx, port_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let port_rx = std::sync::Mutex::new(Some(port_rx));
    let port_tx = std::sync::Mutex::new(Some(port_tx));
    let threads: Vec<_> = (0..2)
        .map(|core| {
            let rx = if core == 1 { port_rx.lock().unwrap().take() } else { None };
            let tx = if core == 0 { port_tx.lock().unwrap().take() } else { None };
            std::thread::spawn(move || -> Result<(), String> {
                crate::sys::pin_to_core(core).map_err(|e| format!("pin: {e}"))?;
                let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                    .with_entries(1024)
                    .build()
                    .map_err(|e| format!("monoio runtime: {e}"))?;
                rt.block_on(async move {
                    let addr = match &rx {
                        Some(rx) => rx.recv().map_err(|e| e.to_string())?,
                        None => loopback(),
                    };
                    let listener = TcpListener::bind_with_config(addr, &opts).map_err(|e| e.to_string())?;
                    let addr = listener.local_addr().map_err(|e| e.to_string())?;
                    match &tx {
                        Some(tx) => tx.send(addr).map_err(|e| e.to_string())?,
                        None => announce(addr),
                    }
                    loop {
                        let (mut s, _) = listener.accept().await.map_err(|e| e.to_string())?;
                        monoio::spawn(async move {
                            let _ = s.set_nodelay(true);
                            let mut buf: Vec<u8> = Vec::with_capacity(BUF);
                            loop {
                                buf.clear();
                                let (r, b) = s.read(buf).await;
                                buf = b;
                                match r {
                                    Ok(0) | Err(_) => return,
                                    Ok(_) => {}
                                }
                                let (r, b) = s.write_all(buf).await;
                                buf = b;
                                if r.is_err() {
                                    return;
                                }
                            }
                        });
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "a monoio thread panicked".to_string())??;
    }
    Ok(())
}
