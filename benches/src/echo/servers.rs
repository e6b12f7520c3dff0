//! The echo servers, one per runtime, all doing the same work: accept, one task per connection,
//! `TCP_NODELAY`, receive into a 64 KiB buffer and send exactly what arrived back.
//!
//! The quartet server has the structure of `examples/echo.rs` (a nursery child per connection,
//! `recv` into an owned `Vec`, `send_all` it back). `quartet-pooled` receives with a
//! `PooledReceiver` from the runtime's provided-buffer pool instead and sends each lent buffer
//! back as it is. Every server prints `PORT <n>` on stdout once
//! it listens and then serves until it is killed.

use std::io::Write;
use std::net::SocketAddr;

/// Receive buffer of every server.
pub const BUF: usize = 64 * 1024;

/// `quartet-busy-poll`'s `Builder::busy_poll` bound, in µs: longer than a one-connection round
/// trip on loopback, so the server spins through the client's turn instead of sleeping.
pub const BUSY_POLL_US: u64 = 200;

fn announce(addr: SocketAddr) {
    println!("PORT {}", addr.port());
    let _ = std::io::stdout().flush();
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Runs the echo server of `peer` until the process is killed.
pub fn serve(peer: &str) -> Result<(), String> {
    match peer {
        "quartet" => quartet_server(quartet::Builder::new()),
        // The same server with a no-op instrument: what the hooks cost when someone listens.
        "quartet-instr" => quartet_server(crate::micro::noop_instrumented()),
        "quartet-busy-poll" => {
            quartet_server(quartet::Builder::new().busy_poll(std::time::Duration::from_micros(BUSY_POLL_US)))
        }
        "quartet-pooled" => quartet_pooled_server(),
        "tokio-ct" => tokio_server(tokio::runtime::Builder::new_current_thread()),
        "tokio-mt" => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(1);
            tokio_server(b)
        }
        "monoio" => monoio_server(),
        "compio" => compio_server(),
        "raw" => super::raw::serve(announce),
        "raw-tuned" => super::raw_tuned::serve(announce),
        other => Err(format!("no echo server for {other:?}")),
    }
}

fn quartet_server(builder: quartet::Builder) -> Result<(), String> {
    use quartet::OpError;
    use quartet::net::TcpStream;

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

    quartet_accept_loop(builder, conn)
}

/// Accepts on 127.0.0.1 and serves each connection with `conn` as a nursery child, until killed.
fn quartet_accept_loop<Fut, E>(
    builder: quartet::Builder,
    conn: fn(quartet::net::TcpStream) -> Fut,
) -> Result<(), String>
where
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let out = builder.run(async {
        let listener = quartet::net::TcpListener::bind(loopback()).map_err(|e| e.to_string())?;
        announce(listener.local_addr().map_err(|e| e.to_string())?);
        quartet::nursery(async |n| {
            loop {
                let (stream, _) = listener.accept().await?;
                n.spawn(async move {
                    let _ = conn(stream).await;
                })?;
            }
            #[allow(unreachable_code)]
            Ok::<(), quartet::BoxError>(())
        })
        .await
        .map_err(|e| e.to_string())
    });
    out.map_err(|e| e.to_string())?
}

/// The quartet server receiving with `PooledReceiver` (a multishot recv into the runtime's
/// provided-buffer pool, the same shape as `raw-tuned`'s) and sending each lent buffer back as it
/// is: no buffer is pinned per idle connection, and none is copied.
fn quartet_pooled_server() -> Result<(), String> {
    use quartet::BoxError;
    use quartet::net::{BufPoolConfig, PooledReceiver, TcpStream};

    async fn conn(stream: TcpStream) -> Result<(), BoxError> {
        stream.set_nodelay(true)?;
        let rx = PooledReceiver::new(&stream)?;
        while let Some(buf) = rx.recv().await? {
            let (r, _) = stream.send_all(buf).await;
            r?;
        }
        Ok(())
    }

    let pool =
        BufPoolConfig::new(super::raw_tuned::BUFFERS.into(), super::raw_tuned::BUF_SIZE).map_err(|e| e.to_string())?;
    quartet_accept_loop(quartet::Builder::new().buf_pool(pool), conn)
}

fn tokio_server(mut builder: tokio::runtime::Builder) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = builder.enable_all().build().map_err(|e| e.to_string())?;
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

fn monoio_server() -> Result<(), String> {
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(1024)
        .build()
        .map_err(|e| format!("monoio runtime: {e}"))?;
    rt.block_on(async {
        let listener = monoio::net::TcpListener::bind(loopback()).map_err(|e| e.to_string())?;
        announce(listener.local_addr().map_err(|e| e.to_string())?);
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
}

fn compio_server() -> Result<(), String> {
    use compio::BufResult;
    use compio::io::{AsyncRead, AsyncWriteExt};
    let rt = compio::runtime::Runtime::new().map_err(|e| format!("compio runtime: {e}"))?;
    rt.block_on(async {
        let listener = compio::net::TcpListener::bind(loopback()).await.map_err(|e| e.to_string())?;
        announce(listener.local_addr().map_err(|e| e.to_string())?);
        loop {
            let (mut s, _) = listener.accept().await.map_err(|e| e.to_string())?;
            compio::runtime::spawn(async move {
                let _ = s.set_nodelay(true);
                let mut buf: Vec<u8> = Vec::with_capacity(BUF);
                loop {
                    buf.clear();
                    let BufResult(r, b) = s.read(buf).await;
                    buf = b;
                    match r {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let BufResult(r, b) = s.write_all(buf).await;
                    buf = b;
                    if r.is_err() {
                        return;
                    }
                }
            })
            .detach();
        }
    })
}
