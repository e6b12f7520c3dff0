//! Stress: a million TCP operations, a third of the receives cancelled at random moments by the
//! walk (explicit cancels from a sibling task, so the cancel lands before submission, while the
//! recv is in the kernel, or while its data races it), with no byte lost or duplicated.
//!
//! Eight loopback connections; on each, a writer streams a known byte sequence in small chunks and
//! a reader receives it through `CancelScope::run`; a "chaos" task cancels readers' current scopes
//! at random. Every received byte is checked against the sequence. `QUARTET_STRESS_OPS` sets the
//! number of operations (default: 1,000,000; a few seconds even in the test profile).

mod nursery_support;

use nursery_support::{Lcg, open_fds, tcp_pair, watchdog};
use quartet::net::TcpStream;
use quartet::{BoxError, CancelHandle, CancelScope, OpError, nursery, stats, yield_now};
use std::cell::{Cell, RefCell};
use std::net::Shutdown;
use std::time::{Duration, Instant};

const PAIRS: usize = 8;

fn byte_at(pair: usize, i: u64) -> u8 {
    (i.wrapping_mul(31).wrapping_add(pair as u64 * 7) % 251) as u8
}

#[derive(Default)]
struct Counters {
    ops: Cell<u64>,
    recvs: Cell<u64>,
    cancelled: Cell<u64>,
    bytes: Cell<u64>,
}

fn bump(c: &Cell<u64>, by: u64) {
    c.set(c.get() + by);
}

async fn writer(pair: usize, s: &TcpStream, total: u64, counters: &Counters) -> Result<(), OpError> {
    let mut rng = Lcg::new(100 + pair as u64);
    let mut at = 0u64;
    while at < total {
        let len = (1 + rng.below(48)).min(total - at);
        let chunk: Vec<u8> = (at..at + len).map(|i| byte_at(pair, i)).collect();
        let (r, _) = s.send_all(chunk).await;
        r?;
        bump(&counters.ops, 1);
        at += len;
        // Pauses, so that readers drain the socket and park their recvs in the kernel, where the
        // chaos task's cancels find them.
        for _ in 0..rng.below(4) {
            yield_now().await;
        }
    }
    s.shutdown(Shutdown::Write).await
}

#[test]
fn a_million_randomly_cancelled_tcp_operations_lose_no_byte() {
    let ops: u64 = std::env::var("QUARTET_STRESS_OPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    // About 24 bytes per send and ~1.6 recvs per send: pick the stream length for `ops` in total.
    let per_pair = ops * 24 / (PAIRS as u64 * 5 / 2);
    let fds_before = open_fds();
    let counters = Counters::default();
    let started = Instant::now();
    let received = watchdog(Duration::from_secs(300), || {
        quartet::run(async {
            let mut pairs = Vec::new();
            for _ in 0..PAIRS {
                pairs.push(tcp_pair().await.unwrap());
            }
            let slots: Vec<RefCell<Option<CancelHandle>>> = (0..PAIRS).map(|_| RefCell::new(None)).collect();
            let got: Vec<Cell<u64>> = (0..PAIRS).map(|_| Cell::new(0)).collect();
            let done = Cell::new(0);
            // Each reader checks its bytes as they arrive.
            nursery(async |n| {
                for p in 0..PAIRS {
                    let (client, server) = &pairs[p];
                    let (counters, slot, got, done) = (&counters, &slots[p], &got[p], &done);
                    n.spawn(async move { writer(p, client, per_pair, counters).await })?;
                    n.spawn(async move {
                        let mut rng = Lcg::new(300 + p as u64);
                        let mut at = 0u64;
                        let buf_check = |data: &[u8], at: &mut u64| {
                            for &b in data {
                                assert_eq!(b, byte_at(p, *at), "pair {p}: byte {at} wrong: lost or duplicated data");
                                *at += 1;
                            }
                        };
                        loop {
                            let scope = CancelScope::new();
                            *slot.borrow_mut() = Some(scope.handle());
                            let cap = 1 + rng.below(64) as usize;
                            let r = scope
                                .run(async {
                                    let (r, buf) = server.recv(Vec::with_capacity(cap)).await;
                                    r.map(|_| buf)
                                })
                                .await?;
                            *slot.borrow_mut() = None;
                            bump(&counters.ops, 1);
                            bump(&counters.recvs, 1);
                            match r {
                                None => bump(&counters.cancelled, 1),
                                Some(buf) if buf.is_empty() => break,
                                Some(buf) => {
                                    buf_check(&buf, &mut at);
                                    bump(&counters.bytes, buf.len() as u64);
                                }
                            }
                        }
                        got.set(at);
                        done.set(done.get() + 1);
                        Ok::<_, OpError>(())
                    })?;
                }
                // Chaos: cancel a random reader's current recv, then let things run a little.
                let mut rng = Lcg::new(7);
                while done.get() < PAIRS {
                    for slot in &slots {
                        if rng.below(2) == 0 {
                            if let Some(h) = slot.borrow().as_ref() {
                                h.cancel();
                            }
                        }
                    }
                    yield_now().await;
                }
                Ok::<_, BoxError>(())
            })
            .await
            .unwrap();
            for (client, server) in pairs {
                client.close().await.unwrap();
                server.close().await.unwrap();
            }
            assert_eq!(stats().unwrap().live_ops, 0, "ops left in flight");
            got.iter().map(Cell::get).collect::<Vec<_>>()
        })
        .expect("runtime")
    });
    let elapsed = started.elapsed();
    for (p, n) in received.iter().enumerate() {
        assert_eq!(*n, per_pair, "pair {p}: bytes lost or duplicated");
    }
    assert_eq!(open_fds(), fds_before, "fds left open");
    let (ops, recvs, cancelled) = (counters.ops.get(), counters.recvs.get(), counters.cancelled.get());
    eprintln!(
        "stress: {ops} operations ({recvs} recvs, {cancelled} cancelled), {} bytes checked, in {elapsed:?}",
        counters.bytes.get()
    );
    assert!(cancelled * 10 > recvs, "too few cancellations to mean anything: {cancelled} of {recvs}");
}
