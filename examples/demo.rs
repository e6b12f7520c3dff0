//! quartet's main demo: structured concurrency on io_uring, shown by measuring what happens.
//!
//! `cargo run --release --example demo` — no arguments, a few seconds, exits 0. Everything printed
//! is observed at run time (counts, times, error texts from the runtime), not canned.
//!
//! 1. An echo server is started with `Nursery::start`: the handshake returns the bound port.
//! 2. Many concurrent clients do round trips against it; every byte is checked.
//! 3. A group of clients runs under a deadline, which cancels the whole group.
//! 4. One child fails: its siblings are cancelled and the error arrives with its origin.
//! 5. A shielded cleanup still talks to the server inside a cancelled scope.

use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, CancelScope, Cancelled, Nursery, OpError, move_on_after, nursery, sleep};
use std::cell::Cell;
use std::time::{Duration, Instant};

async fn echo_connection(stream: TcpStream) -> Result<(), OpError> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(16 * 1024);
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

/// Sends `msg` and reads exactly as many bytes back; returns them.
async fn round_trip(stream: &TcpStream, msg: Vec<u8>) -> Result<Vec<u8>, OpError> {
    let len = msg.len();
    let (r, _) = stream.send_all(msg).await;
    r?;
    let mut got = Vec::with_capacity(len);
    while got.len() < len {
        let (n, b) = stream.recv(std::mem::take(&mut got)).await;
        got = b;
        if n? == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
    }
    Ok(got)
}

async fn client(port: u16, id: usize, rounds: usize, ok: &Cell<usize>) -> Result<(), OpError> {
    let stream = TcpStream::connect(([127, 0, 0, 1], port).into()).await?;
    stream.set_nodelay(true)?;
    for r in 0..rounds {
        let msg = format!("client {id} round {r}").into_bytes();
        let back = round_trip(&stream, msg.clone()).await?;
        assert_eq!(back, msg, "echo mismatch");
        ok.set(ok.get() + 1);
    }
    stream.close().await
}

fn section(title: &str) {
    println!("\n== {title}");
}

async fn demo(root: &Nursery<'_>) -> Result<(), BoxError> {
    // 1. start(): the child binds, reports its port, then serves in a nursery of its own.
    section("1. start an echo server with the start handshake");
    let t = Instant::now();
    let port: u16 = root
        .start(async |status| {
            let listener = TcpListener::bind("127.0.0.1:0".parse().expect("valid address"))?;
            status.started(listener.local_addr()?.port());
            nursery(async |conns| {
                loop {
                    let (stream, _) = listener.accept().await?;
                    conns.spawn(async move {
                        let _ = echo_connection(stream).await;
                        Ok::<_, Cancelled>(())
                    })?;
                }
                #[allow(unreachable_code)]
                Ok::<(), BoxError>(())
            })
            .await?;
            Ok::<(), BoxError>(())
        })
        .await?;
    println!("start() returned port {port} after {:?}; the server keeps running as a child", t.elapsed());

    // 2. many concurrent clients.
    section("2. 200 concurrent clients x 50 round trips");
    let ok = Cell::new(0);
    let t = Instant::now();
    nursery(async |n| {
        for id in 0..200 {
            let ok = &ok;
            n.spawn(async move { client(port, id, 50, ok).await })?;
        }
        Ok::<_, BoxError>(())
    })
    .await?;
    let el = t.elapsed();
    println!("{} verified round trips in {el:?} ({:.0} round trips/s)", ok.get(), ok.get() as f64 / el.as_secs_f64());

    // 3. a deadline cancels a whole group.
    section("3. a group of 20 endless clients under a 150 ms deadline");
    let ok = Cell::new(0);
    let cancelled = Cell::new(0);
    let t = Instant::now();
    let outcome = move_on_after(Duration::from_millis(150), async {
        nursery(async |n| {
            for id in 0..20 {
                let (ok, cancelled) = (&ok, &cancelled);
                n.spawn(async move {
                    let r = async {
                        loop {
                            client(port, id, 5, ok).await?;
                            sleep(Duration::from_millis(5)).await?;
                        }
                    };
                    let r: Result<(), OpError> = r.await;
                    if matches!(&r, Err(e) if e.is_cancelled()) {
                        cancelled.set(cancelled.get() + 1);
                    }
                    r
                })?;
            }
            Ok::<_, BoxError>(())
        })
        .await
    })
    .await;
    println!(
        "move_on_after returned {} after {:?}: {} round trips done, {} of 20 clients saw Cancelled and unwound",
        match &outcome {
            Ok(None) => "None (the deadline cancelled the group)".to_string(),
            other => format!("{other:?}"),
        },
        t.elapsed(),
        ok.get(),
        cancelled.get()
    );

    // 4. one failure cancels the siblings and is reported with its origin.
    section("4. one child fails; its 9 siblings are cancelled");
    let cancelled = Cell::new(0);
    let t = Instant::now();
    let err = nursery(async |n| {
        for id in 0..9 {
            let cancelled = &cancelled;
            n.spawn(async move {
                let ok = Cell::new(0);
                let r = async {
                    loop {
                        client(port, 100 + id, 3, &ok).await?;
                    }
                };
                let r: Result<(), OpError> = r.await;
                if matches!(&r, Err(e) if e.is_cancelled()) {
                    cancelled.set(cancelled.get() + 1);
                }
                r
            })?;
        }
        n.spawn_named("validator", async {
            sleep(Duration::from_millis(30)).await?;
            Err::<(), BoxError>("checksum mismatch in reply 17".into())
        })?;
        Ok::<_, BoxError>(())
    })
    .await
    .expect_err("the validator fails");
    println!(
        "after {:?}: {cancelled} siblings were cancelled; the nursery reported:",
        t.elapsed(),
        cancelled = cancelled.get()
    );
    for f in err.failures() {
        println!("  - from {}: {}", f.origin(), f.error());
    }

    // 5. shielded cleanup inside a cancelled scope.
    section("5. a shielded goodbye inside a cancelled scope");
    let scope = CancelScope::new();
    let goodbye = Cell::new(None);
    let res = scope
        .run(async {
            let stream = TcpStream::connect(([127, 0, 0, 1], port).into()).await?;
            scope.cancel();
            let after_cancel = round_trip(&stream, b"work".to_vec()).await;
            let cleanup = CancelScope::shielded();
            cleanup.set_deadline(Some(Instant::now() + Duration::from_millis(500)));
            let bye = cleanup.run(round_trip(&stream, b"goodbye".to_vec())).await;
            goodbye.set(Some(format!(
                "unshielded op after cancel: {}; shielded goodbye: {}",
                match after_cancel {
                    Err(e) => e.to_string(),
                    Ok(_) => "completed".into(),
                },
                match bye {
                    Ok(Some(b)) => format!("echoed {:?}", String::from_utf8_lossy(&b)),
                    other => format!("{other:?}"),
                }
            )));
            stream.close().await?;
            quartet::checkpoint().await?;
            Ok::<(), OpError>(())
        })
        .await;
    println!("{}", goodbye.take().unwrap_or_default());
    println!(
        "scope.run returned {res:?}; cancel_called={} cancelled_caught={}",
        scope.cancel_called(),
        scope.cancelled_caught()
    );

    // Stop the server: cancelling the root nursery unwinds the server child and its connections.
    root.cancel();
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let t = Instant::now();
    quartet::run(async {
        nursery(async |root| demo(root).await).await?;
        let s = quartet::stats().expect("inside run");
        section("runtime counters");
        println!(
            "ring mode {:?}; {} ops, {} SQEs, {} io_uring_enter calls ({:.2} per op), {} ops still in flight",
            s.mode,
            s.driver.ops,
            s.driver.sqes,
            s.driver.enters,
            s.driver.enters as f64 / s.driver.ops.max(1) as f64,
            s.live_ops
        );
        Ok::<(), BoxError>(())
    })??;
    println!("\ndemo finished in {:?}", t.elapsed());
    Ok(())
}
