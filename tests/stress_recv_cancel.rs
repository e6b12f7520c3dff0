//! Stress: "a cancelled recv lost no bytes" (semantics §3.4, §3.5) under fire. A client streams
//! 100,000 messages through a loopback echo server; both the echo server and the client's reader
//! receive through `move_on_after` with tiny random deadlines, so reads are cancelled before
//! submission, while in flight, and while racing their data. The echoed byte stream must be
//! exactly the sent one, and nothing may be left behind (no op in flight, no fd open).

mod nursery_support;

use nursery_support::{Lcg, framed_messages, open_fds, run, send_in_random_chunks, tcp_pair};
use quartet::net::TcpStream;
use quartet::{BoxError, OpError, move_on_after, nursery, stats};
use std::cell::Cell;
use std::net::Shutdown;
use std::time::{Duration, Instant};

const MESSAGES: usize = 100_000;

/// Counters of one receiving side.
#[derive(Default)]
struct Counts {
    attempts: Cell<u64>,
    /// Cancelled, of which `in_flight` after the recv had been submitted to the kernel.
    cancelled: Cell<u64>,
    in_flight: Cell<u64>,
    /// Returned data although the deadline had passed by then (the data raced the cancel).
    raced: Cell<u64>,
    bytes: Cell<u64>,
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

/// One receive with a random deadline: zero (cancelled before it is submitted), a few
/// microseconds (cancelled in flight, often racing the data), or long enough to complete.
async fn recv_with_random_deadline(s: &TcpStream, rng: &mut Lcg, counts: &Counts) -> Result<Option<Vec<u8>>, OpError> {
    let timeout = match rng.below(8) {
        0 => Duration::ZERO,
        1..=6 => Duration::from_micros(rng.below(100)),
        _ => Duration::from_millis(2),
    };
    let cap = 1 + rng.below(256) as usize;
    bump(&counts.attempts);
    let submitted = stats().unwrap().driver.ops;
    let deadline = Instant::now() + timeout;
    let r = move_on_after(timeout, async {
        let (r, buf) = s.recv(Vec::with_capacity(cap)).await;
        r.map(|n| (n, buf))
    })
    .await?;
    match r {
        None => {
            bump(&counts.cancelled);
            if stats().unwrap().driver.ops > submitted {
                bump(&counts.in_flight);
            }
            Ok(None)
        }
        Some((n, buf)) => {
            if timeout > Duration::ZERO && Instant::now() >= deadline {
                bump(&counts.raced);
            }
            counts.bytes.set(counts.bytes.get() + n as u64);
            Ok(Some(buf))
        }
    }
}

#[test]
fn recvs_cancelled_at_random_moments_lose_and_duplicate_no_bytes() {
    let fds_before = open_fds();
    let sent = framed_messages(MESSAGES as u32, 0x5eed);
    let echo = Counts::default();
    let reader = Counts::default();
    let started = Instant::now();
    let (received, live_ops) = run(async {
        let (client, server) = tcp_pair().await.unwrap();
        client.set_nodelay(true).unwrap();
        server.set_nodelay(true).unwrap();
        let mut received = Vec::with_capacity(sent.len());
        nursery(async |n| {
            let (client, server, sent, echo) = (&client, &server, &sent, &echo);
            n.spawn_named("echo", async move {
                let mut rng = Lcg::new(1);
                loop {
                    let Some(buf) = recv_with_random_deadline(server, &mut rng, echo).await? else { continue };
                    if buf.is_empty() {
                        server.shutdown(Shutdown::Write).await?;
                        return Ok::<_, OpError>(());
                    }
                    let (r, _) = server.send_all(buf).await;
                    r?;
                }
            })?;
            n.spawn_named("writer", send_in_random_chunks(client, sent, 2))?;
            let mut rng = Lcg::new(3);
            loop {
                let Some(buf) = recv_with_random_deadline(client, &mut rng, &reader).await? else { continue };
                if buf.is_empty() {
                    break;
                }
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
        client.close().await.unwrap();
        server.close().await.unwrap();
        (received, stats().unwrap().live_ops)
    });
    let elapsed = started.elapsed();
    assert_eq!(received.len(), sent.len(), "bytes lost or duplicated");
    assert!(received == sent, "the echoed stream differs from the sent one");
    assert_eq!(live_ops, 0, "ops left in flight");
    assert_eq!(open_fds(), fds_before, "fds left open");
    for (side, c) in [("echo", &echo), ("reader", &reader)] {
        assert_eq!(c.bytes.get(), sent.len() as u64);
        assert!(c.in_flight.get() > 500, "{side}: too few in-flight cancellations to mean anything");
        eprintln!(
            "stress {side}: {} recvs, {} cancelled ({} in flight), {} returned data after their deadline",
            c.attempts.get(),
            c.cancelled.get(),
            c.in_flight.get(),
            c.raced.get()
        );
    }
    eprintln!("stress: {MESSAGES} messages, {} bytes echoed in {elapsed:?}", sent.len());
}
