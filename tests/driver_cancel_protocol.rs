//! The cancel protocol (semantics §3.4-3.5, H2): cancelling an in-flight op waits for the op's own
//! completion and reports what the kernel did. A result that raced the cancel is returned (and the
//! next checkpoint raises); `Cancelled` means the op did nothing.

use crate::hazard_support;

use hazard_support::{poll_once, tcp_pair, watchdog};
use quartet::net::{TcpListener, TcpStream};
use quartet::{
    Builder, CancelScope, OpError, SetupFlags, checkpoint, fail_after, fs::OpenOptions, move_on_after, nop, stats,
};
use std::io::{Read, Write};
use std::pin::pin;
use std::time::Duration;

const MODES: [SetupFlags; 2] = [SetupFlags::Auto, SetupFlags::CoopTaskrun];

fn run<T>(flags: SetupFlags, fut: impl std::future::Future<Output = Result<T, OpError>>) -> T {
    Builder::new().setup_flags(flags).run(fut).unwrap().unwrap()
}

async fn recv_exact(stream: &TcpStream, len: usize) -> Result<Vec<u8>, OpError> {
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let (n, b) = fail_after(Duration::from_secs(5), async {
            let (n, b) = stream.recv(buf).await;
            n.map(|n| (n, b))
        })
        .await?;
        buf = b;
        assert_ne!(n, 0, "unexpected end of stream");
    }
    Ok(buf)
}

/// The recv's completion (with data) is reaped before its task notices the cancel: the data is
/// returned, not dropped, and the next checkpoint raises `Cancelled`.
#[test]
fn recv_cancelled_after_its_data_arrived_returns_the_data() {
    let _w = watchdog(Duration::from_secs(30), "recv cancelled after data");
    for flags in MODES {
        run(flags, async {
            let (stream, mut peer) = tcp_pair().await?;
            let scope = CancelScope::new();
            let (data, next) = scope
                .run(async {
                    let mut recv = pin!(stream.recv(Vec::with_capacity(64)));
                    assert!(poll_once(recv.as_mut()).await.is_pending());
                    nop().await?; // armed in the kernel
                    peer.write_all(b"hello")?;
                    nop().await?; // the recv's completion is reaped during this round trip
                    scope.cancel();
                    let (n, buf) = recv.await;
                    assert_eq!(n?, 5);
                    Ok::<_, OpError>((buf, checkpoint().await))
                })
                .await?
                .expect("the recv's result is returned, not swallowed by the scope");
            assert_eq!(data, b"hello");
            assert!(next.is_err(), "level-triggered: the next checkpoint raises");
            assert_eq!(stats().unwrap().live_ops, 0);
            Ok(())
        });
    }
}

/// The data arrives while the recv is armed and before the cancel reaches the kernel. Whoever
/// wins, no byte is lost: either the recv returns it, or it reports `Cancelled` and the bytes are
/// still in the socket.
#[test]
fn recv_cancelled_while_its_data_arrives_loses_no_bytes() {
    let _w = watchdog(Duration::from_secs(30), "recv cancelled during data");
    for flags in MODES {
        run(flags, async {
            let (stream, mut peer) = tcp_pair().await?;
            for i in 0..50u32 {
                let msg = format!("message {i:04}");
                let scope = CancelScope::new();
                let got = scope
                    .run(async {
                        let mut recv = pin!(stream.recv(Vec::with_capacity(64)));
                        assert!(poll_once(recv.as_mut()).await.is_pending());
                        nop().await?;
                        peer.write_all(msg.as_bytes())?;
                        scope.cancel();
                        let (n, buf) = recv.await;
                        n?;
                        Ok::<_, OpError>(buf)
                    })
                    .await?;
                let got = match got {
                    Some(buf) => buf,
                    None => recv_exact(&stream, msg.len()).await?, // Cancelled: nothing consumed
                };
                assert_eq!(got, msg.as_bytes(), "flags {flags:?}, round {i}");
            }
            assert_eq!(stats().unwrap().live_ops, 0);
            Ok(())
        });
    }
}

/// "If an operation reports `Cancelled`, it did nothing": a recv cancelled while idle consumed no
/// bytes, so the next recv sees every byte in order.
#[test]
fn cancelled_recv_consumed_no_bytes() {
    let _w = watchdog(Duration::from_secs(30), "cancelled recv");
    for flags in MODES {
        run(flags, async {
            let (stream, mut peer) = tcp_pair().await?;
            for i in 0..20u32 {
                let r = move_on_after(Duration::from_millis(1), async {
                    let (n, _) = stream.recv(Vec::with_capacity(64)).await;
                    n
                })
                .await?;
                assert!(r.is_none(), "nothing was sent yet, so the recv was cancelled");
                let msg = format!("message {i:04}");
                peer.write_all(msg.as_bytes())?;
                assert_eq!(recv_exact(&stream, msg.len()).await?, msg.as_bytes());
            }
            Ok(())
        });
    }
}

/// A cancelled send sent nothing: the peer receives exactly the bytes the successful sends
/// reported, although many sends were cancelled, some blocked on a full socket buffer and some
/// racing the peer's reads.
#[test]
fn cancelled_send_sent_nothing() {
    let _w = watchdog(Duration::from_secs(30), "cancelled send");
    for flags in MODES {
        let (reported, reader) = run(flags, async {
            let (stream, mut peer) = tcp_pair().await?;
            // A slow reader keeps the socket buffer changing under the sends and their cancels.
            let reader = std::thread::spawn(move || {
                let (mut total, mut buf) = (0usize, vec![0u8; 16 * 1024]);
                loop {
                    match peer.read(&mut buf) {
                        Ok(0) | Err(_) => return total,
                        Ok(n) => total += n,
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
            });
            let (mut reported, mut cancelled) = (0usize, 0);
            while cancelled < 20 {
                let r = move_on_after(Duration::from_micros(500), async {
                    let (n, _) = stream.send(vec![7u8; 256 * 1024]).await;
                    n
                })
                .await?;
                match r {
                    Some(n) => reported += n,
                    None => cancelled += 1,
                }
            }
            stream.close().await?;
            Ok((reported, reader))
        });
        let received = reader.join().unwrap();
        assert_eq!(received, reported, "flags {flags:?}: a cancelled send delivered bytes");
    }
}

/// A cancelled accept took no connection: the connection that arrives later is accepted by the
/// next accept.
#[test]
fn cancelled_accept_took_no_connection() {
    let _w = watchdog(Duration::from_secs(30), "cancelled accept");
    for flags in MODES {
        run(flags, async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let addr = listener.local_addr()?;
            let r = move_on_after(Duration::from_millis(1), listener.accept()).await?;
            assert!(r.is_none());
            let mut client = std::net::TcpStream::connect(addr)?;
            let (server, _) = fail_after(Duration::from_secs(5), listener.accept()).await?;
            client.write_all(b"ping")?;
            assert_eq!(recv_exact(&server, 4).await?, b"ping");
            server.close().await?;
            listener.close().await?;
            assert_eq!(stats().unwrap().live_ops, 0);
            Ok(())
        });
    }
}

/// A connection is waiting and the accept's SQE is queued ahead of its cancel: the accept wins,
/// and the connection is returned to the caller (not lost, not leaked).
#[test]
fn accept_cancelled_after_a_connection_arrived_returns_the_connection() {
    let _w = watchdog(Duration::from_secs(30), "accept cancelled after connection");
    for flags in MODES {
        run(flags, async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let addr = listener.local_addr()?;
            let scope = CancelScope::new();
            let (server, mut client) = scope
                .run(async {
                    let mut accept = pin!(listener.accept());
                    assert!(poll_once(accept.as_mut()).await.is_pending());
                    let client = std::net::TcpStream::connect(addr)?;
                    scope.cancel();
                    let (server, _) = accept.await?;
                    Ok::<_, OpError>((server, client))
                })
                .await?
                .expect("the accepted connection is returned");
            client.write_all(b"ping")?;
            assert_eq!(recv_exact(&server, 4).await?, b"ping");
            server.close().await?;
            listener.close().await?;
            Ok(())
        });
    }
}

/// An open in an already-cancelled scope reports `Cancelled` and created nothing.
#[test]
fn cancelled_create_created_no_file() {
    let _w = watchdog(Duration::from_secs(30), "cancelled create");
    let path = std::env::temp_dir().join(format!("quartet-cancelled-create-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    run(SetupFlags::Auto, async {
        let scope = CancelScope::new();
        scope.cancel();
        let r = scope.run(OpenOptions::new().write(true).create_new(true).open(&path)).await?;
        assert!(r.is_none(), "the open reported Cancelled");
        Ok(())
    });
    assert!(!path.exists(), "a cancelled create created the file");
}
