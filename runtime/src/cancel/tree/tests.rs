//! Unit tests of the tree's records: the sizes a sleeping task pays for, and a taken waker.

use super::*;

/// The per-task footprint of a sleeping task: its parked leaf and its `Sleep` (a nursery of
/// 100,000 sleeping children holds 100,000 of each; the wheel entry is inside the `Sleep`).
#[cfg(target_pointer_width = "64")]
#[test]
fn a_sleeping_task_s_records_stay_small() {
    assert!(std::mem::size_of::<Leaf>() <= 72, "Leaf: {}", std::mem::size_of::<Leaf>());
    // The `Sleep` holds its wheel entry since the wheel became intrusive (no slab entry).
    assert!(std::mem::size_of::<crate::time::Sleep>() <= 80, "Sleep: {}", std::mem::size_of::<crate::time::Sleep>());
    assert_eq!(std::mem::size_of::<LeafKind>(), 16);
}

#[test]
fn a_taken_waker_is_taken_once() {
    struct Flag(std::sync::atomic::AtomicBool);
    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let flag = Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
    let mut slot = Waker::from(flag.clone());
    take_waker(&mut slot).expect("the stored waker is handed out").wake();
    assert!(flag.0.load(std::sync::atomic::Ordering::Relaxed));
    assert!(take_waker(&mut slot).is_none(), "the no-op waker left behind is never handed out");
}
