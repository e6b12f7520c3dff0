//! A "Hello, world!" HTTP server on hyper 1.x, HTTP/1.1 and HTTP/2 (cleartext, prior knowledge),
//! with graceful shutdown. Each connection is a child of one nursery; HTTP/2 streams are children
//! of it too (through `NurseryExecutor`).
//!
//! Usage: `cargo run --release --example http_hyper [ADDR:PORT]` (default 127.0.0.1:3000), then
//! `curl http://127.0.0.1:3000/` or `curl --http2-prior-knowledge http://127.0.0.1:3000/`.
//!
//! Ctrl-C or SIGTERM: the server stops accepting, asks every connection to finish
//! (`graceful_shutdown`: an idle keep-alive connection closes at once, a request in progress gets
//! its response, HTTP/2 sends GOAWAY), waits up to 5 s for them, then cancels what is left.

use hyper::body::{Bytes, Incoming};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request, Response};
use quartet::io::Compat;
use quartet::io::hyper::{HyperTimer, NurseryExecutor};
use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, CancelScope, Cancelled, Event, Instant, is_cancellation, nursery};
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::time::Duration;

/// How long connections get to finish after a shutdown request.
pub const GRACE: Duration = Duration::from_secs(5);

/// The whole application.
pub async fn hello(_req: Request<Incoming>) -> Result<Response<http_body_util::Full<Bytes>>, Infallible> {
    Ok(Response::new(http_body_util::Full::new(Bytes::from_static(b"Hello, world!"))))
}

/// Serves `listener` until `stop` is set, then shuts down gracefully (see the module docs).
pub async fn serve(listener: &TcpListener, stop: &Event) -> Result<(), BoxError> {
    let accepting = CancelScope::new();
    let result = nursery(async |conns| {
        let exec = NurseryExecutor::new(conns);
        let deadline = conns.cancel_scope();
        let stop_accepting = accepting.handle();
        conns.spawn_named("shutdown watcher", async move {
            stop.wait().await?;
            stop_accepting.cancel();
            deadline.set_deadline(Some(Instant::now() + GRACE));
            Ok::<_, Cancelled>(())
        })?;
        accepting
            .run(async {
                loop {
                    // io::Error keeps a cancellation recognisable, so the scope catches its own.
                    let (stream, peer) = listener.accept().await.map_err(std::io::Error::from)?;
                    let exec = exec.clone();
                    conns
                        .spawn_named(format!("connection {peer}"), async move {
                            match connection(stream, exec, stop).await {
                                Err(e) if !is_cancellation(&*e) => eprintln!("http_hyper: {peer}: {e}"),
                                other => other?,
                            }
                            Ok::<_, BoxError>(())
                        })
                        .map_err(std::io::Error::other)?;
                }
                #[allow(unreachable_code)]
                Ok::<(), std::io::Error>(())
            })
            .await?;
        Ok::<_, BoxError>(())
    })
    .await;
    match result {
        // The grace period ran out: the connections still open were cancelled.
        Err(e) if e.is_own_cancel() => Ok(()),
        other => other.map_err(Into::into),
    }
}

/// One connection: HTTP/2 if it opens with the HTTP/2 preface, HTTP/1.1 otherwise.
async fn connection(stream: TcpStream, exec: NurseryExecutor<'_>, stop: &Event) -> Result<(), BoxError> {
    stream.set_nodelay(true)?;
    let mut io = Compat::new(stream);
    let is_h2 = io.fill_buf().await?.starts_with(b"PRI * HTTP/2.0");
    if is_h2 {
        let mut builder = http2::Builder::new(exec);
        builder.timer(HyperTimer);
        let conn = builder.serve_connection(io, service_fn(hello));
        drive(conn, stop, |c| c.graceful_shutdown()).await?;
    } else {
        let mut builder = http1::Builder::new();
        builder.timer(HyperTimer).header_read_timeout(Duration::from_secs(30));
        let conn = builder.serve_connection(io, service_fn(hello));
        drive(conn, stop, |c| c.graceful_shutdown()).await?;
    }
    Ok(())
}

/// Polls a hyper connection to the end, asking it to shut down gracefully once `stop` is set.
async fn drive<C, E>(conn: C, stop: &Event, shutdown: impl Fn(Pin<&mut C>)) -> Result<(), E>
where
    C: Future<Output = Result<(), E>>,
{
    let mut conn = pin!(conn);
    let mut stopped = pin!(stop.wait());
    let mut asked = false;
    poll_fn(|cx| {
        if !asked && stopped.as_mut().poll(cx).is_ready() {
            asked = true;
            shutdown(conn.as_mut());
        }
        conn.as_mut().poll(cx)
    })
    .await
}

#[allow(dead_code)]
fn main() -> Result<(), BoxError> {
    use quartet::signal::{Signal, Signals};
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3000".to_string());
    let addr: std::net::SocketAddr = addr.parse()?;
    quartet::run(async {
        let signals = Signals::new(&[Signal::Interrupt, Signal::Terminate])?;
        let listener = TcpListener::bind(addr)?;
        println!("http_hyper: listening on http://{}", listener.local_addr()?);
        let stop = Event::new();
        nursery(async |n| {
            n.spawn_named("signal watcher", async {
                let s = signals.recv().await?;
                eprintln!("http_hyper: {s:?}: no new connections, draining the open ones");
                stop.set();
                Ok::<_, quartet::OpError>(())
            })?;
            let served = serve(&listener, &stop).await;
            n.cancel(); // the signal watcher, if the server ended by itself
            served
        })
        .await
        .or_else(|e| if e.is_own_cancel() { Ok(()) } else { Err(e) })?;
        println!("http_hyper: all connections finished");
        Ok::<_, BoxError>(())
    })??;
    Ok(())
}
