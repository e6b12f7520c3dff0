//! The hyper example (`examples/http_hyper.rs`) against real clients over loopback: a raw
//! HTTP/1.1 client on a std socket sends two requests on one keep-alive connection, hyper's own
//! HTTP/2 client (on quartet, through `Compat`) sends one, and a shutdown request closes an idle
//! keep-alive connection and lets the server return cleanly.
#[allow(dead_code)]
#[path = "../examples/http_hyper.rs"]
mod http_hyper;

use crate::nursery_support;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use nursery_support::run;
use quartet::io::Compat;
use quartet::io::hyper::NurseryExecutor;
use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, Event, fail_after, nursery, to_thread};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// A liveness bound, not a timing assertion.
const LIVENESS: Duration = Duration::from_secs(30);

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

/// Reads from `s` until `pattern` has been seen `times` times; returns everything read.
fn read_until_seen(s: &mut std::net::TcpStream, pattern: &str, times: usize) -> std::io::Result<String> {
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while text.matches(pattern).count() < times {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    Ok(text)
}

fn connect(addr: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    let s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(LIVENESS))?;
    Ok(s)
}

/// Two requests on one keep-alive connection, from a plain std socket.
fn two_keep_alive_requests(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = connect(addr)?;
    s.write_all(REQUEST)?;
    s.write_all(REQUEST)?;
    read_until_seen(&mut s, "Hello, world!", 2)
}

async fn http2_request(addr: SocketAddr) -> Result<(http::StatusCode, Bytes), BoxError> {
    let stream = TcpStream::connect(addr).await?;
    nursery(async |n| {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(NurseryExecutor::new(n), Compat::new(stream)).await?;
        let driver = n.spawn(conn)?;
        let req = hyper::Request::get(format!("http://{addr}/")).body(Empty::<Bytes>::new())?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        drop(sender); // the connection ends once its last sender is gone
        driver.await?;
        Ok::<_, BoxError>((status, body))
    })
    .await
    .map_err(Into::into)
}

#[test]
fn serves_http1_and_http2_then_drains_on_shutdown() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Event::new();
        fail_after(
            LIVENESS,
            nursery(async |n| {
                let server = n.spawn(http_hyper::serve(&listener, &stop))?;

                let text = to_thread(move || two_keep_alive_requests(addr)).await??;
                assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
                assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");

                let (status, body) = http2_request(addr).await?;
                assert_eq!(status, 200);
                assert_eq!(&body[..], b"Hello, world!");

                // An idle keep-alive connection, open when the shutdown request comes.
                let idle = to_thread(move || {
                    let mut s = connect(addr)?;
                    s.write_all(REQUEST)?;
                    read_until_seen(&mut s, "Hello, world!", 1)?;
                    Ok::<_, std::io::Error>(s)
                })
                .await??;
                stop.set();
                let closed = to_thread(move || {
                    let mut s = idle;
                    let mut buf = [0u8; 64];
                    s.read(&mut buf)
                })
                .await??;
                assert_eq!(closed, 0, "graceful shutdown closes an idle keep-alive connection");
                server.await?;
                // and the listener no longer accepts connections into the server
                Ok::<_, BoxError>(())
            }),
        )
        .await
        .unwrap();
    });
}
