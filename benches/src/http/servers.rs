//! The HTTP servers of the HTTP rows: a keep-alive "Hello, world!" on one core.
//!
//! - `hyper-quartet` / `hyper-tokio-ct`: the same hyper 1.x HTTP/1.1 server, through
//!   `quartet::io::Compat` on quartet and through hyper-util's `TokioIo` on tokio's
//!   current-thread runtime. No timers on either (hyper then arms none per request).
//! - `native-quartet` / `native-tokio-ct`: the same hand-written loop with `httparse`: read what
//!   arrived, answer every complete request in it with one write, repeat. quartet's uses the
//!   native buffered API (`BufReader::read_more`, `WriteExt::write_all` on an owned `Vec`).
//! - `native-quartet-pooled`: the same loop receiving with `PooledReceiver` (a multishot recv into
//!   the runtime's provided-buffer pool), answering whole requests straight from the lent buffer.
//!
//! Every server prints `PORT <n>` once it listens and serves until it is killed.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;

/// The fixed response of the native servers (hyper adds a `date` header to its own).
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\ncontent-type: text/plain\r\n\r\nHello, world!";

fn announce(addr: SocketAddr) {
    println!("PORT {}", addr.port());
    let _ = std::io::stdout().flush();
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Runs the HTTP server `name` until the process is killed.
pub fn serve(name: &str) -> Result<(), String> {
    match name {
        "hyper-quartet" => quartet_server(Kind::Hyper),
        "native-quartet" => quartet_server(Kind::Native),
        "native-quartet-pooled" => quartet_server(Kind::NativePooled),
        "hyper-tokio-ct" => tokio_server(Kind::Hyper),
        "native-tokio-ct" => tokio_server(Kind::Native),
        other => Err(format!("no HTTP server {other:?}")),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Hyper,
    Native,
    /// The native loop receiving with `PooledReceiver` (a multishot recv into provided buffers).
    NativePooled,
}

async fn hello(
    _req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<hyper::body::Bytes>>, Infallible> {
    Ok(hyper::Response::new(http_body_util::Full::new(hyper::body::Bytes::from_static(b"Hello, world!"))))
}

/// Answers every complete request at the front of `buf`; returns how many bytes they took, or
/// `None` for a malformed request.
fn answer_all(buf: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let mut used = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[used..]) {
            Ok(httparse::Status::Complete(n)) => {
                used += n;
                out.extend_from_slice(RESPONSE);
            }
            Ok(httparse::Status::Partial) => return Some(used),
            Err(_) => return None,
        }
    }
}

fn quartet_server(kind: Kind) -> Result<(), String> {
    use quartet::io::{BufReader, Compat, WriteExt};
    use quartet::net::{BufPoolConfig, PooledReceiver, TcpListener, TcpStream};
    use quartet::{BoxError, Cancelled};

    async fn native(stream: TcpStream) -> Result<(), BoxError> {
        let mut reader = BufReader::with_capacity(16 * 1024, &stream);
        let mut out = Vec::with_capacity(16 * 1024);
        loop {
            let used = answer_all(reader.buffer(), &mut out).ok_or("bad request")?;
            reader.consume(used);
            if !out.is_empty() {
                let (r, o) = stream.write_all(out).await;
                out = o;
                r?;
                out.clear();
            }
            if reader.read_more().await? == 0 {
                return Ok(());
            }
        }
    }

    /// The native loop on a multishot recv: a request that arrived whole is answered straight from
    /// the lent buffer; only a partial one is copied, to wait for the rest.
    async fn native_pooled(stream: TcpStream) -> Result<(), BoxError> {
        let rx = PooledReceiver::new(&stream)?;
        let mut partial: Vec<u8> = Vec::new();
        let mut out = Vec::with_capacity(16 * 1024);
        while let Some(buf) = rx.recv().await? {
            if partial.is_empty() {
                let used = answer_all(&buf, &mut out).ok_or("bad request")?;
                partial.extend_from_slice(&buf[used..]);
            } else {
                partial.extend_from_slice(&buf);
                let used = answer_all(&partial, &mut out).ok_or("bad request")?;
                partial.drain(..used);
            }
            drop(buf);
            if !out.is_empty() {
                let (r, o) = stream.write_all(out).await;
                out = o;
                r?;
                out.clear();
            }
        }
        Ok(())
    }

    async fn conn(stream: TcpStream, kind: Kind) -> Result<(), BoxError> {
        stream.set_nodelay(true)?;
        match kind {
            Kind::Native => native(stream).await,
            Kind::NativePooled => native_pooled(stream).await,
            Kind::Hyper => {
                let service = hyper::service::service_fn(hello);
                hyper::server::conn::http1::Builder::new().serve_connection(Compat::new(stream), service).await?;
                Ok(())
            }
        }
    }

    let mut builder = quartet::Builder::new();
    if matches!(kind, Kind::NativePooled) {
        let pool = BufPoolConfig::new(crate::echo::raw_tuned::BUFFERS.into(), crate::echo::raw_tuned::BUF_SIZE)
            .map_err(|e| e.to_string())?;
        builder = builder.buf_pool(pool);
    }
    let out = builder.run(async {
        let listener = TcpListener::bind(loopback()).map_err(|e| e.to_string())?;
        announce(listener.local_addr().map_err(|e| e.to_string())?);
        quartet::nursery(async |n| {
            loop {
                let (stream, _) = listener.accept().await?;
                n.spawn(async move {
                    let _ = conn(stream, kind).await;
                    Ok::<_, Cancelled>(())
                })?;
            }
            #[allow(unreachable_code)]
            Ok::<(), BoxError>(())
        })
        .await
        .map_err(|e| e.to_string())
    });
    out.map_err(|e| e.to_string())?
}

fn tokio_server(kind: Kind) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn native(mut s: tokio::net::TcpStream) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(16 * 1024);
        let mut out = Vec::with_capacity(16 * 1024);
        loop {
            let used = answer_all(&buf, &mut out).ok_or(std::io::ErrorKind::InvalidData)?;
            buf.drain(..used);
            if !out.is_empty() {
                s.write_all(&out).await?;
                out.clear();
            }
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(16 * 1024);
            }
            if s.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        }
    }

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(loopback()).await.map_err(|e| e.to_string())?;
        announce(listener.local_addr().map_err(|e| e.to_string())?);
        loop {
            let (s, _) = listener.accept().await.map_err(|e| e.to_string())?;
            tokio::spawn(async move {
                let _ = s.set_nodelay(true);
                match kind {
                    Kind::Native | Kind::NativePooled => {
                        let _ = native(s).await;
                    }
                    Kind::Hyper => {
                        let io = hyper_util::rt::TokioIo::new(s);
                        let service = hyper::service::service_fn(hello);
                        let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                    }
                }
            });
        }
    })
}
