//! UDP ping-pong over loopback: two connected sockets in one process, N round trips of a 64-byte
//! datagram, each side a task.
//!
//! Figure: wall time per round trip (ns). quartet uses `net::UdpSocket` (`send`/`recv` ring ops
//! with owned buffers); tokio uses `tokio::net::UdpSocket` (readiness + non-blocking syscalls).

use crate::child::{Metrics, Params};
use std::time::{Duration, Instant};

const SIZE: usize = 64;

/// One run of `peer`.
pub fn run(peer: &str, p: &Params) -> Result<Metrics, String> {
    let n = p.num("n")?;
    let dt = match peer {
        "quartet" => quartet(n)?,
        "tokio-ct" => super::tokio_ct()?.block_on(tokio(n))?,
        other => return Err(format!("unknown peer {other}")),
    };
    Ok(Metrics::from([("ns_per_rtt".to_string(), dt.as_nanos() as f64 / n as f64)]))
}

fn quartet(n: u64) -> Result<Duration, String> {
    use quartet::net::UdpSocket;
    let out = quartet::run(async move {
        let a = UdpSocket::bind("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)?;
        let b = UdpSocket::bind("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)?;
        a.connect(b.local_addr()?)?;
        b.connect(a.local_addr()?)?;
        let t0 = Instant::now();
        quartet::nursery(async |nur| {
            let b = &b;
            nur.spawn(async move {
                // fixed-size buffers: a receive fills them from the start
                let mut buf = vec![0u8; SIZE].into_boxed_slice();
                for _ in 0..n {
                    let (r, v) = b.recv(buf).await;
                    r?;
                    let (r, v) = b.send(v).await;
                    r?;
                    buf = v;
                }
                Ok::<_, quartet::OpError>(())
            })?;
            let mut buf = vec![7u8; SIZE].into_boxed_slice();
            for _ in 0..n {
                let (r, v) = a.send(buf).await;
                r?;
                let (r, v) = a.recv(v).await;
                r?;
                buf = v;
            }
            Ok::<_, quartet::BoxError>(())
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, quartet::BoxError>(t0.elapsed())
    });
    out.map_err(|e| e.to_string())?.map_err(|e| e.to_string())
}

async fn tokio(n: u64) -> Result<Duration, String> {
    use tokio::net::UdpSocket;
    let a = UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let b = UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    a.connect(b.local_addr().map_err(|e| e.to_string())?).await.map_err(|e| e.to_string())?;
    b.connect(a.local_addr().map_err(|e| e.to_string())?).await.map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let pong = tokio::spawn(async move {
        let mut buf = vec![0u8; SIZE];
        for _ in 0..n {
            let got = b.recv(&mut buf).await?;
            b.send(&buf[..got]).await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut buf = vec![7u8; SIZE];
    for _ in 0..n {
        a.send(&buf).await.map_err(|e| e.to_string())?;
        a.recv(&mut buf).await.map_err(|e| e.to_string())?;
    }
    pong.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    Ok(t0.elapsed())
}
