//! Unit tests of the ready queue and its wakers: peeking, slot wakers' counts and wakes (on and
//! off the kernel's thread), and slot wakers across blocks of `BLOCK` slots.

use super::*;

#[test]
fn slot_wakers_find_their_slot_across_blocks() {
    crate::run(async {
        let q = ReadyQueue::new().expect("inside run");
        let slots = [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 7];
        let wakers: Vec<Waker> = slots.iter().map(|&i| q.waker(i)).collect();
        for (k, w) in wakers.iter().enumerate() {
            for (j, other) in wakers.iter().enumerate() {
                assert_eq!(w.will_wake(other), k == j, "slots {} and {}", slots[k], slots[j]);
            }
        }
        // What a wake reads first (the prefetch's target): the block's header, one per block.
        let records: Vec<*const ()> = wakers.iter().map(wake_record).collect();
        assert!(records[0] == records[1] && records[1] == records[2], "slots 0, 1, BLOCK-1 share a header");
        assert!(records[2] != records[3] && records[3] == records[4] && records[4] != records[5]);
        assert_eq!(records[0].addr() % BLOCK, 0, "a header is BLOCK-aligned");
        // Woken in reverse order: each queues its own slot.
        wakers.iter().rev().for_each(Waker::wake_by_ref);
        let popped: Vec<usize> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(popped, slots.iter().rev().copied().collect::<Vec<_>>());
        // Another queue's wakers for the same slots are other wakers.
        let q2 = ReadyQueue::new().expect("inside run");
        assert!(!q2.waker(BLOCK).will_wake(&wakers[3]));
        drop(wakers);
        assert_eq!(Arc::strong_count(&q), 1, "every count was released");
    })
    .unwrap();
}

#[test]
fn peek_names_what_pop_takes_next_without_taking_it() {
    crate::run(async {
        let q = ReadyQueue::new().expect("inside run");
        assert_eq!(q.peek(0), None);
        for i in [5, 2, 9] {
            q.push(i);
        }
        assert_eq!((q.peek(0), q.peek(2), q.peek(3)), (Some(5), Some(9), None));
        assert_eq!(q.len(), 3, "peeking takes nothing");
        assert_eq!(q.pop(), Some(5));
        assert_eq!(q.peek(0), Some(2));
    })
    .unwrap();
}

#[test]
fn slot_wakers_count_and_wake_their_slot() {
    crate::run(async {
        let q = ReadyQueue::new().expect("inside run");
        let kept = q.with_waker(100, &mut None, |w| {
            assert_eq!(Arc::strong_count(&q), 1, "the lent waker holds no count");
            w.clone()
        });
        assert_eq!(Arc::strong_count(&q), 2, "a kept clone holds one");
        assert!(!kept.will_wake(&q.waker(3)), "another slot's waker");
        let other = q.waker(100);
        assert!(kept.will_wake(&other), "one waker per slot");
        drop(other);
        kept.wake_by_ref();
        assert_eq!(q.pop(), Some(100));
        // Woken on another thread: handed to the kernel through the remote queue, which
        // re-wakes it here later; nothing is queued from the wrong thread.
        let remote = kept.clone();
        std::thread::spawn(move || remote.wake()).join().unwrap();
        assert_eq!(q.pop(), None);
        let mut woken = Vec::new();
        q.remote.drain(&mut woken);
        assert_eq!(woken.len(), 1);
        woken.into_iter().for_each(Waker::wake);
        assert_eq!(q.pop(), Some(100));
        drop(kept);
        assert_eq!(Arc::strong_count(&q), 1, "every count was released");
        // The borrowed waker cloned on another thread (a scoped thread borrowing it): an
        // allocated waker, which works from anywhere.
        let off = q.with_waker(5, &mut None, |w| std::thread::scope(|s| s.spawn(|| w.clone()).join().unwrap()));
        off.wake_by_ref();
        assert_eq!(q.pop(), Some(5));
    })
    .unwrap();
}
