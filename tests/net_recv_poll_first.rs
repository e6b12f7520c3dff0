//! The stream receive hint (ARCHITECTURE.md, "Stream receives"; `net/recv_hint.rs`): a receive
//! after one that drained the socket and waited for its data asks the kernel to poll first
//! (`IORING_RECVSEND_POLL_FIRST`); one after a receive that filled its buffer does not; a ring
//! without the flag (simulated by turning the optional opcodes off) never does; and a cancelled
//! poll-first receive consumed nothing, so no byte is lost.
//!
//! Which receives carried the flag is read from the instrument's `op_submitted` hook
//! (`OpInfo::poll_first`).

use crate::hazard_support::{poll_once, tcp_pair, watchdog};
use quartet::introspect::{Instrument, OpInfo};
use quartet::net::TcpStream;
use quartet::{Builder, CancelScope, OpError, nop};
use std::io::Write;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `poll_first` mark of every receive submitted, in order.
#[derive(Default)]
struct Recvs(Mutex<Vec<bool>>);

impl Recvs {
    fn marks(&self) -> Vec<bool> {
        self.0.lock().unwrap().clone()
    }
    fn last(&self) -> Option<bool> {
        self.0.lock().unwrap().last().copied()
    }
}

impl Instrument for Recvs {
    fn op_submitted(&self, _op: u64, info: &OpInfo) {
        if info.opcode() == "Recv" {
            self.0.lock().unwrap().push(info.poll_first());
        }
    }
}

fn run<T>(recvs: &Arc<Recvs>, optional_opcodes: bool, fut: impl std::future::Future<Output = Result<T, OpError>>) -> T {
    Builder::new().instrument(recvs.clone()).optional_opcodes(optional_opcodes).run(fut).unwrap().unwrap()
}

/// A receive that certainly waits for its data: it is submitted, a nop's round trip through the
/// ring passes (so the enter that submitted it has returned), and only then the peer sends.
async fn waited_recv(stream: &TcpStream, peer: &mut std::net::TcpStream, msg: &[u8]) -> Result<Vec<u8>, OpError> {
    let mut recv = pin!(stream.recv(Vec::with_capacity(64)));
    assert!(poll_once(recv.as_mut()).await.is_pending(), "nothing was sent yet");
    nop().await?;
    peer.write_all(msg)?;
    let (n, buf) = recv.await;
    assert_eq!(n?, msg.len());
    Ok(buf)
}

/// Receives into a 10-byte buffer, which the queued bytes fill.
async fn full_recv(stream: &TcpStream) -> Result<(), OpError> {
    let (n, _) = stream.recv(vec![0u8; 10].into_boxed_slice()).await;
    assert_eq!(n?, 10);
    Ok(())
}

#[test]
fn the_hint_engages_after_a_drained_receive_that_waited_and_disengages_after_a_full_one() {
    let _w = watchdog(Duration::from_secs(30), "recv hint engages");
    let recvs = Arc::new(Recvs::default());
    run(&recvs, true, async {
        let (stream, mut peer) = tcp_pair().await?;
        assert_eq!(waited_recv(&stream, &mut peer, b"one").await?, b"one");
        assert_eq!(waited_recv(&stream, &mut peer, b"two").await?, b"two");
        peer.write_all(&[7u8; 20])?; // queued on loopback before `write_all` returns
        full_recv(&stream).await?;
        full_recv(&stream).await?;
        waited_recv(&stream, &mut peer, b"three").await?;
        waited_recv(&stream, &mut peer, b"four").await?;
        // Its data is queued before it is submitted, and a nop goes in the same enter: it comes
        // back at once, next to the nop's completion.
        peer.write_all(b"five")?;
        let mut recv = pin!(stream.recv(Vec::with_capacity(64)));
        let _ = poll_once(recv.as_mut()).await;
        nop().await?;
        let (n, _) = recv.await;
        assert_eq!(n?, 4);
        waited_recv(&stream, &mut peer, b"six").await?;
        Ok(())
    });
    // 1: no history. 2, 3: after one that drained and waited (3 fills its buffer). 4: after a
    // full one. 5: after a full one. 6: after one that drained and waited. 7: likewise (it comes
    // back at once). 8: after one that came back at once.
    assert_eq!(recvs.marks(), [false, true, true, false, false, true, true, false]);
}

#[test]
fn without_the_flag_in_the_ring_no_receive_polls_first() {
    let _w = watchdog(Duration::from_secs(30), "recv hint fallback");
    let recvs = Arc::new(Recvs::default());
    run(&recvs, false, async {
        let (stream, mut peer) = tcp_pair().await?;
        for msg in [&b"one"[..], b"two", b"three"] {
            assert_eq!(waited_recv(&stream, &mut peer, msg).await?, msg);
        }
        Ok(())
    });
    assert_eq!(recvs.marks(), [false, false, false]);
}

/// Each round engages the hint, then cancels a poll-first receive: before its data was sent (it
/// must report `Cancelled`), or just after (either result). `Cancelled` consumed nothing: the
/// next receive gets the whole message.
#[test]
fn a_cancelled_poll_first_receive_loses_no_byte() {
    let _w = watchdog(Duration::from_secs(60), "recv hint cancel");
    let recvs = Arc::new(Recvs::default());
    let cancelled = run(&recvs, true, async {
        let (stream, mut peer) = tcp_pair().await?;
        let mut cancelled = 0;
        for i in 0..60u32 {
            waited_recv(&stream, &mut peer, b"s").await?;
            waited_recv(&stream, &mut peer, b"s").await?; // the hint is on now
            let msg = format!("message {i:04}");
            let race = i % 2 == 1;
            let scope = CancelScope::new();
            let got = scope
                .run(async {
                    let mut recv = pin!(stream.recv(Vec::with_capacity(64)));
                    assert!(poll_once(recv.as_mut()).await.is_pending());
                    assert_eq!(recvs.last(), Some(true), "round {i}: the receive polls first");
                    nop().await?; // armed in the kernel
                    if race {
                        peer.write_all(msg.as_bytes())?;
                    }
                    scope.cancel();
                    let (n, buf) = recv.await;
                    n?;
                    Ok::<_, OpError>(buf)
                })
                .await?;
            let got = match got {
                Some(buf) => {
                    assert!(race, "round {i}: nothing was sent, yet the receive returned {buf:?}");
                    buf
                }
                None => {
                    cancelled += 1;
                    if !race {
                        peer.write_all(msg.as_bytes())?;
                    }
                    let (n, buf) = stream.recv(Vec::with_capacity(64)).await;
                    assert_eq!(n?, msg.len(), "round {i}: the cancelled receive consumed nothing");
                    buf
                }
            };
            assert_eq!(got, msg.as_bytes(), "round {i}");
        }
        Ok(cancelled)
    });
    assert!(cancelled >= 30, "every round without data was cancelled ({cancelled})");
}
