//! hyper's timeouts on the mock clock: `HyperTimer::now` reads quartet's clock, so a header-read
//! timeout computed by hyper fires at exactly its virtual instant (with the real clock it would be
//! computed 10 years before the virtual one and fire at once).

use hyper::server::conn::http1;
use hyper::service::service_fn;
use quartet::io::Compat;
use quartet::io::hyper::HyperTimer;
use quartet::net::{TcpListener, TcpStream};
use quartet::testing::elapsed;
use quartet::{BoxError, Builder, nursery};
use std::time::Duration;

async fn hello(_: hyper::Request<hyper::body::Incoming>) -> Result<hyper::Response<String>, std::convert::Infallible> {
    Ok(hyper::Response::new("hello".into()))
}

#[test]
fn header_read_timeout_fires_at_its_virtual_instant() {
    let (closed_at, reply) = Builder::new()
        .mock_clock(true)
        .run(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let addr = listener.local_addr()?;
            nursery(async |n| {
                let listener = &listener;
                n.spawn(async move {
                    let (s, _) = listener.accept().await?;
                    let mut http = http1::Builder::new();
                    http.timer(HyperTimer).header_read_timeout(Duration::from_secs(30));
                    // The timeout ends the connection with an error: that is the point.
                    let _ = http.serve_connection(Compat::new(s), service_fn(hello)).await;
                    Ok::<_, BoxError>(())
                })?;
                let idle = TcpStream::connect(addr).await?;
                idle.send_all(b"GET / HTTP/1.1\r\n".to_vec()).await.0?; // and never finishes the headers
                let (n, reply) = idle.recv(Vec::with_capacity(256)).await;
                n?;
                Ok::<_, BoxError>((elapsed()?, reply))
            })
            .await
            .map_err(BoxError::from)
        })
        .unwrap()
        .unwrap();
    assert_eq!(closed_at, Duration::from_secs(30));
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.is_empty() || reply.starts_with("HTTP/1.1 408"), "{reply}");
}
