//! Stress: "a cancelled pooled receive lost no bytes". A client streams messages through a
//! loopback echo server; the server and the client's reader both receive with `PooledReceiver`
//! under `move_on_after` with tiny random deadlines, so waits are cancelled before anything
//! arrived, while the multishot recv is armed, and while racing its completions. The pool is
//! tiny (4 buffers of 16 bytes), so it also runs dry (`ENOBUFS`) and re-arms under fire. The
//! echoed stream must be exactly the sent one; at the end no buffer is missing from the pool and
//! nothing is left in flight. Bounded: a fixed message count under a watchdog.

mod nursery_support;

use nursery_support::{Lcg, framed_messages, open_fds, send_in_random_chunks, tcp_pair, watchdog};
use quartet::net::{BufPoolConfig, PooledBuf, PooledReceiver, buf_pool_stats};
use quartet::{BoxError, Builder, OpError, move_on_after, nursery, sleep, stats};
use std::cell::Cell;
use std::net::Shutdown;
use std::time::Duration;

const MESSAGES: usize = 30_000;

#[derive(Default)]
struct Counts {
    attempts: Cell<u64>,
    cancelled: Cell<u64>,
    bytes: Cell<u64>,
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

/// `Ok(None)`: the wait was cancelled. `Ok(Some(None))`: end of stream.
async fn recv_with_random_deadline(
    rx: &PooledReceiver<'_>,
    rng: &mut Lcg,
    counts: &Counts,
) -> Result<Option<Option<PooledBuf>>, OpError> {
    let timeout = match rng.below(8) {
        0 => Duration::ZERO,
        1..=6 => Duration::from_micros(rng.below(100)),
        _ => Duration::from_millis(2),
    };
    bump(&counts.attempts);
    let r = move_on_after(timeout, rx.recv()).await?;
    match r {
        None => {
            bump(&counts.cancelled);
            Ok(None)
        }
        Some(b) => {
            if let Some(b) = &b {
                counts.bytes.set(counts.bytes.get() + b.len() as u64);
            }
            Ok(Some(b))
        }
    }
}

fn stress(multishot: bool) {
    let fds_before = open_fds();
    let sent = framed_messages(MESSAGES as u32, 0x900d);
    let echo = Counts::default();
    let reader = Counts::default();
    let cfg = BufPoolConfig::new(4, 16).unwrap().multishot(multishot);
    let (received, live_ops, pool) = watchdog(Duration::from_secs(120), || {
        Builder::new()
            .buf_pool(cfg)
            .run(async {
                let (client, server) = tcp_pair().await.unwrap();
                client.set_nodelay(true).unwrap();
                server.set_nodelay(true).unwrap();
                let mut received = Vec::with_capacity(sent.len());
                {
                    let server_rx = PooledReceiver::new(&server).unwrap();
                    let client_rx = PooledReceiver::new(&client).unwrap();
                    nursery(async |n| {
                        let (client, server, sent, echo) = (&client, &server, &sent, &echo);
                        let server_rx = &server_rx;
                        n.spawn_named("echo", async move {
                            let mut rng = Lcg::new(1);
                            loop {
                                let Some(buf) = recv_with_random_deadline(server_rx, &mut rng, echo).await? else {
                                    continue;
                                };
                                let Some(buf) = buf else {
                                    server.shutdown(Shutdown::Write).await?;
                                    return Ok::<_, OpError>(());
                                };
                                // Straight back from the pool buffer; it returns when sent.
                                let (r, _) = server.send_all(buf).await;
                                r?;
                            }
                        })?;
                        n.spawn_named("writer", send_in_random_chunks(client, sent, 2))?;
                        let mut rng = Lcg::new(3);
                        loop {
                            let Some(buf) = recv_with_random_deadline(&client_rx, &mut rng, &reader).await? else {
                                continue;
                            };
                            let Some(buf) = buf else { break };
                            let at = received.len();
                            received.extend_from_slice(&buf);
                            assert!(
                                received.len() <= sent.len() && received[at..] == sent[at..received.len()],
                                "the echoed stream diverged at byte {at}"
                            );
                        }
                        Ok::<_, BoxError>(())
                    })
                    .await
                    .unwrap();
                }
                // Both receivers are gone: their armed recvs were cancelled; let the loop reap.
                while buf_pool_stats().unwrap().armed > 0 {
                    sleep(Duration::from_millis(1)).await.unwrap();
                }
                let pool = buf_pool_stats().unwrap();
                client.close().await.unwrap();
                server.close().await.unwrap();
                (received, stats().unwrap().live_ops, pool)
            })
            .expect("quartet runtime")
    });
    assert_eq!(received.len(), sent.len(), "bytes lost or duplicated");
    assert!(received == sent, "the echoed stream differs from the sent one");
    assert_eq!(live_ops, 0, "ops left in flight");
    assert_eq!((pool.in_ring, pool.queued, pool.lent), (4, 0, 0), "buffers missing from the pool: {pool:?}");
    assert_eq!(open_fds(), fds_before, "fds left open");
    for (side, c) in [("echo", &echo), ("reader", &reader)] {
        assert_eq!(c.bytes.get(), sent.len() as u64);
        assert!(c.cancelled.get() > 500, "{side}: too few cancellations to mean anything");
        eprintln!("stress {side}: {} receives, {} cancelled", c.attempts.get(), c.cancelled.get());
    }
    if multishot {
        assert!(pool.exhausted > 0, "the small pool never ran dry: ENOBUFS went untested");
    }
    eprintln!("stress: {MESSAGES} messages, {} bytes; pool ran dry {} times", sent.len(), pool.exhausted);
}

// One test: the fd count is per process, so the two modes must not run in parallel.
#[test]
fn cancelled_pooled_receives_lose_and_duplicate_no_bytes_multishot_and_single_shot() {
    stress(true);
    stress(false);
}
