//! Load: many producers and consumers over one rendezvous channel; every message arrives exactly
//! once.
use quartet::{BoxError, SpawnError, channel, nursery, run};
use std::cell::RefCell;

const PRODUCERS: usize = 100;
const CONSUMERS: usize = 100;
const MESSAGES: usize = 1_000_000;

#[test]
fn hundred_producers_hundred_consumers_million_messages_rendezvous_exactly_once() {
    let per_producer = MESSAGES / PRODUCERS;
    let seen = RefCell::new(vec![0u8; MESSAGES]);
    let received = RefCell::new(vec![0usize; CONSUMERS]);
    let start = std::time::Instant::now();
    run(async {
        nursery(async |n| {
            // the body's own handles are dropped when it returns, so the channel ends once the
            // producers are done
            let (tx, rx) = channel::<u32>(0);
            for p in 0..PRODUCERS {
                let tx = tx.clone();
                n.spawn(async move {
                    for i in 0..per_producer {
                        tx.send((p * per_producer + i) as u32).await?;
                    }
                    Ok::<_, BoxError>(())
                })?;
            }
            for c in 0..CONSUMERS {
                let rx = rx.clone();
                let (seen, received) = (&seen, &received);
                n.spawn(async move {
                    let mut count = 0;
                    while let Some(v) = rx.recv().await? {
                        seen.borrow_mut()[v as usize] += 1;
                        count += 1;
                    }
                    received.borrow_mut()[c] = count;
                    Ok::<_, BoxError>(())
                })?;
            }
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
    let elapsed = start.elapsed();
    let seen = seen.into_inner();
    let missing = seen.iter().filter(|&&c| c == 0).count();
    let duplicated = seen.iter().filter(|&&c| c > 1).count();
    assert_eq!((missing, duplicated), (0, 0), "every message exactly once");
    let received = received.into_inner();
    assert_eq!(received.iter().sum::<usize>(), MESSAGES);
    let busy = received.iter().filter(|&&c| c > 0).count();
    eprintln!(
        "{MESSAGES} messages, {PRODUCERS} producers -> {CONSUMERS} consumers over capacity 0: {elapsed:?} \
         ({:.0} ns/message); consumers that received: {busy}, min/max per consumer: {}/{}",
        elapsed.as_nanos() as f64 / MESSAGES as f64,
        received.iter().min().unwrap(),
        received.iter().max().unwrap(),
    );
    assert!(busy > 1, "the work is spread over the consumers");
}
