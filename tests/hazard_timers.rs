//! H13: every timer registration belongs to its future and goes away with it. A dropped sleep or an
//! abandoned timed read leaves nothing armed that could fire into later code.

use crate::hazard_support;

use hazard_support::{poll_once, tcp_pair, watchdog};
use quartet::{OpError, SpawnError, move_on_after, nursery, run, sleep, stats};
use std::cell::RefCell;
use std::io::Write;
use std::time::Duration;

fn timers() -> usize {
    stats().unwrap().timers
}

#[test]
fn dropped_sleep_removes_its_timer_registration() {
    let _w = watchdog(Duration::from_secs(30), "dropped sleep");
    run(async {
        assert_eq!(timers(), 0);
        let mut s = Box::pin(sleep(Duration::from_secs(3600)));
        assert!(poll_once(s.as_mut()).await.is_pending());
        assert_eq!(timers(), 1, "the pending sleep is registered");
        drop(s);
        assert_eq!(timers(), 0, "the dropped sleep left its registration behind");
        // Many sleeps dropped while pending, in a nursery that is cancelled: none is left behind.
        let r = move_on_after(Duration::from_millis(5), async {
            nursery(async |n| {
                for i in 0..100 {
                    n.spawn(async move { sleep(Duration::from_secs(3600 + i)).await })?;
                }
                Ok::<_, SpawnError>(())
            })
            .await
            .map_err(std::io::Error::other)
        })
        .await
        .unwrap();
        assert!(r.is_none());
        assert_eq!(timers(), 0);
    })
    .unwrap();
}

/// A recv under a deadline is abandoned before the deadline; the next recv (with a later deadline)
/// must wait for its data, not time out when the abandoned one's deadline passes.
#[test]
fn abandoned_timed_recv_does_not_time_out_the_next_recv() {
    let _w = watchdog(Duration::from_secs(30), "abandoned timed recv");
    run(async {
        let (stream, peer) = tcp_pair().await?;
        {
            let mut timed = Box::pin(move_on_after(Duration::from_millis(10), async {
                let (n, _) = stream.recv(Vec::with_capacity(64)).await;
                n
            }));
            assert!(poll_once(timed.as_mut()).await.is_pending());
            assert_eq!(timers(), 1, "the deadline is registered");
        } // abandoned before its deadline
        assert_eq!(timers(), 0, "the abandoned deadline is still registered");
        let peer = RefCell::new(peer);
        let (stream, peer) = (&stream, &peer);
        let got = RefCell::new(None);
        nursery(async |n| {
            n.spawn(async {
                // The data arrives well after the abandoned deadline would have passed.
                sleep(Duration::from_millis(50)).await?;
                peer.borrow_mut().write_all(b"late")?;
                Ok::<_, OpError>(())
            })?;
            n.spawn(async {
                let r = move_on_after(Duration::from_secs(10), async {
                    let (n, buf) = stream.recv(Vec::with_capacity(64)).await;
                    n.map(|n| buf[..n].to_vec())
                })
                .await?;
                *got.borrow_mut() = Some(r);
                Ok::<_, OpError>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
        .map_err(std::io::Error::other)?;
        let got = got.into_inner().expect("the recv task ran");
        assert_eq!(got.as_deref(), Some(&b"late"[..]), "the second recv timed out");
        assert_eq!(timers(), 0);
        assert_eq!(stats().unwrap().live_ops, 0);
        Ok::<_, OpError>(())
    })
    .unwrap()
    .unwrap();
}

/// A timed recv that completes before its deadline removes its registration at once.
#[test]
fn timed_recv_that_completes_leaves_no_timer_behind() {
    let _w = watchdog(Duration::from_secs(30), "completed timed recv");
    run(async {
        let (stream, mut peer) = tcp_pair().await?;
        for _ in 0..20 {
            peer.write_all(b"x")?;
            let r = move_on_after(Duration::from_secs(3600), async {
                let (n, _) = stream.recv(Vec::with_capacity(8)).await;
                n
            })
            .await?;
            assert_eq!(r, Some(1));
        }
        assert_eq!(timers(), 0, "completed timed reads left registrations behind");
        Ok::<_, OpError>(())
    })
    .unwrap()
    .unwrap();
}
