//! Spawns `SPAWNS` children (each yields once, so it is polled twice and woken once), then runs
//! `ECHOES` 64-byte round trips over a loopback TCP connection (each a send and a recv on each
//! side). Run under `valgrind --tool=callgrind` by `scripts/instrument_cost.sh`, with and without
//! a no-op instrument (feature `noop`).

use quartet_nursery::{BoxError, nursery};
use quartet_runtime::net::{TcpListener, TcpStream};

const SPAWNS: usize = 50_000;
const ECHOES: usize = 5_000;

#[cfg(feature = "noop")]
struct Noop;
#[cfg(feature = "noop")]
impl quartet_runtime::introspect::Instrument for Noop {}

fn builder() -> quartet_runtime::Builder {
    let b = quartet_runtime::Builder::new().slow_poll_threshold(None);
    #[cfg(feature = "noop")]
    let b = b.instrument(std::sync::Arc::new(Noop));
    b
}

fn main() {
    builder()
        .run(async {
            let r = nursery(async |n| -> Result<(), BoxError> {
                for _ in 0..SPAWNS {
                    n.spawn(async { quartet_runtime::yield_now().await })?;
                }
                Ok(())
            })
            .await;
            r.expect("spawn phase");
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            let r = nursery(async |n| -> Result<(), BoxError> {
                n.spawn(async move {
                    let (conn, _) = listener.accept().await?;
                    let mut buf = Vec::with_capacity(64);
                    for _ in 0..ECHOES {
                        let (res, b) = conn.recv(buf).await;
                        res?;
                        let (res, mut b) = conn.send_all(b).await;
                        res?;
                        b.clear();
                        buf = b;
                    }
                    Ok::<(), BoxError>(())
                })?;
                let conn = TcpStream::connect(addr).await?;
                let mut buf = vec![7u8; 64];
                for _ in 0..ECHOES {
                    let (res, b) = conn.send_all(buf).await;
                    res?;
                    let mut b = b;
                    b.clear();
                    let (res, b) = conn.recv(b).await;
                    res?;
                    buf = b;
                    buf.resize(64, 7);
                }
                Ok(())
            })
            .await;
            r.expect("echo phase");
        })
        .expect("runtime");
}
