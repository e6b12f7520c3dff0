//! H6: completions reach exactly the op they belong to. Slots are reused heavily (thousands of
//! short ops interleaved with cancelled ones whose `-ECANCELED` completions arrive late); a slot is
//! freed only at its op's final completion, so no completion is ever stale, and none is delivered
//! to the op that reused a slot.

use crate::hazard_support;

use hazard_support::{tcp_pair, watchdog};
use quartet::fs::File;
use quartet::{OpError, SpawnError, move_on_after, nop, nursery, run, stats};
use std::cell::Cell;
use std::time::Duration;

const RECORDS: u64 = 4096;
const TASKS: u64 = 300;
const ROUNDS: u64 = 10;

#[test]
fn completions_reach_their_own_op_under_slot_reuse_and_cancellation() {
    let _w = watchdog(Duration::from_secs(60), "slot reuse churn");
    let path = std::env::temp_dir().join(format!("quartet-hazard-stale-{}", std::process::id()));
    let records: Vec<u8> = (0..RECORDS).flat_map(|i| i.to_le_bytes()).collect();
    std::fs::write(&path, &records).unwrap();
    let (reads, cancels) = (Cell::new(0u64), Cell::new(0u64));
    let stats = run(async {
        let file = File::open(&path).await?;
        let (stream, _peer) = tcp_pair().await?; // the peer never sends: recvs only end by cancel
        let (f, stream, reads, cancels) = (&file, &stream, &reads, &cancels);
        nursery(async |n| {
            for t in 0..TASKS {
                n.spawn(async move {
                    for k in 0..ROUNDS {
                        match (t + k) % 3 {
                            0 => {
                                // In flight in the kernel until its cancel; its -ECANCELED
                                // completion arrives while other ops take and free slots.
                                let r = move_on_after(Duration::from_millis(1 + t % 3), async {
                                    let (n, _) = stream.recv(Vec::with_capacity(8)).await;
                                    n
                                })
                                .await?;
                                assert!(r.is_none(), "an idle recv can only end by cancel");
                                cancels.set(cancels.get() + 1);
                            }
                            1 => {
                                let i = (t * 31 + k * 7) % RECORDS;
                                let (n, buf) = f.read_at(Vec::with_capacity(8), i * 8).await;
                                assert_eq!(n?, 8);
                                let got = u64::from_le_bytes(buf[..8].try_into().unwrap());
                                assert_eq!(got, i, "a read got another op's completion");
                                reads.set(reads.get() + 1);
                            }
                            _ => nop().await?,
                        }
                    }
                    Ok::<_, OpError>(())
                })?;
            }
            Ok::<_, SpawnError>(())
        })
        .await
        .map_err(std::io::Error::other)?;
        file.close().await?;
        Ok::<_, OpError>(stats().unwrap())
    })
    .unwrap()
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    let expected = (0..TASKS).flat_map(|t| (0..ROUNDS).map(move |k| (t + k) % 3)).filter(|&m| m != 2).count();
    assert_eq!((reads.get() + cancels.get()) as usize, expected, "every op finished");
    assert_eq!(stats.driver.stale, 0, "a completion arrived for a freed slot: {stats:?}");
    assert_eq!(stats.live_ops, 0, "{stats:?}");
}
