//! The parking lot every primitive in this crate builds on: a slab of parked waiters, each linked
//! into at most one of two FIFO queues.
//!
//! A primitive keeps one `WaitSet` inside its mutex. A waiting future inserts a [`Waiter`] and
//! keeps the returned [`Key`]; whoever can let it proceed pops it from the front of its queue
//! (FIFO hand-off), records the outcome in it (`done`, and for channels the value), and wakes it.
//! Popping unlinks the node but keeps it allocated, so the owner finds the outcome on its next
//! poll.
//!
//! Invariants: a key stays valid from [`WaitSet::insert`] until [`WaitSet::remove`], whatever
//! queue moves happen in between, and only the future that owns a key removes it, so a key is
//! never reused under its owner. A node is in at most one queue.

use std::task::Waker;

/// A parked waiter's handle into its [`WaitSet`].
pub(crate) type Key = usize;

const NIL: usize = usize::MAX;

/// Which of the set's two FIFO queues (a primitive with one queue uses only `First`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queue {
    First = 0,
    Second = 1,
}

/// One parked operation.
#[derive(Debug)]
pub(crate) struct Waiter<V> {
    /// Whom to wake; taken by the waker-up, set again by the owner when it re-parks.
    pub waker: Option<Waker>,
    /// A value travelling with the waiter (a channel send's value, or a value handed to a
    /// receiver).
    pub value: Option<V>,
    /// Set by the waker-up when it has completed the operation for the owner (lock handed over,
    /// value taken or delivered).
    pub done: bool,
}

impl<V> Waiter<V> {
    /// A waiter that is not done yet.
    pub fn new(waker: &Waker, value: Option<V>) -> Self {
        Waiter { waker: Some(waker.clone()), value, done: false }
    }

    /// A waiter that is not done yet, keeping a waker the caller cloned already.
    pub fn with_waker(waker: Waker, value: Option<V>) -> Self {
        Waiter { waker: Some(waker), value, done: false }
    }

    /// Records `waker` as the one to wake (cheap when it is the same task).
    pub fn set_waker(&mut self, waker: &Waker) {
        match &self.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
    }

    /// Marks the operation completed by the waker-up and returns the waker to call once the lock
    /// is released.
    pub fn complete(&mut self) -> Option<Waker> {
        self.done = true;
        self.waker.take()
    }
}

#[derive(Debug)]
struct Node<E> {
    entry: Option<E>,
    prev: usize,
    next: usize,
    queue: Option<Queue>,
}

#[derive(Debug, Clone, Copy)]
struct Ends {
    head: usize,
    tail: usize,
    len: usize,
}

const EMPTY: Ends = Ends { head: NIL, tail: NIL, len: 0 };

/// A slab of waiters with two intrusive FIFO queues.
#[derive(Debug)]
pub(crate) struct WaitSet<E> {
    nodes: Vec<Node<E>>,
    free: Vec<usize>,
    ends: [Ends; 2],
}

impl<E> Default for WaitSet<E> {
    fn default() -> Self {
        WaitSet { nodes: Vec::new(), free: Vec::new(), ends: [EMPTY; 2] }
    }
}

impl<E> WaitSet<E> {
    /// Allocates `entry` and links it at the back of `queue`.
    pub fn insert(&mut self, queue: Queue, entry: E) -> Key {
        let node = Node { entry: Some(entry), prev: NIL, next: NIL, queue: None };
        let key = match self.free.pop() {
            Some(k) => {
                self.nodes[k] = node;
                k
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        };
        self.push_back(key, queue);
        key
    }

    /// The entry of a live key.
    pub fn get(&self, key: Key) -> &E {
        self.nodes[key].entry.as_ref().expect("a WaitSet key is live until its owner removes it")
    }

    /// The entry of a live key, mutably.
    pub fn get_mut(&mut self, key: Key) -> &mut E {
        self.nodes[key].entry.as_mut().expect("a WaitSet key is live until its owner removes it")
    }

    /// Unlinks (if queued) and frees `key`, returning its entry.
    pub fn remove(&mut self, key: Key) -> E {
        self.unlink(key);
        self.free.push(key);
        self.nodes[key].entry.take().expect("a WaitSet key is removed once, by its owner")
    }

    /// Unlinks the oldest waiter of `queue`; it stays allocated for its owner. Inline: an empty
    /// queue (a channel operation that finds nobody waiting, the usual case) is one test.
    #[inline]
    pub fn pop_front(&mut self, queue: Queue) -> Option<Key> {
        let key = self.ends[queue as usize].head;
        if key == NIL {
            return None;
        }
        self.unlink_front(key);
        Some(key)
    }

    /// The unlink behind [`WaitSet::pop_front`], out of line.
    #[inline(never)]
    fn unlink_front(&mut self, key: Key) {
        self.unlink(key);
    }

    /// Links an allocated, unlinked `key` at the back of `queue`.
    pub fn push_back(&mut self, key: Key, queue: Queue) {
        debug_assert!(self.nodes[key].queue.is_none(), "a node is in at most one queue");
        let ends = &mut self.ends[queue as usize];
        let tail = ends.tail;
        ends.tail = key;
        ends.len += 1;
        if tail == NIL {
            ends.head = key;
        } else {
            self.nodes[tail].next = key;
        }
        let node = &mut self.nodes[key];
        node.prev = tail;
        node.next = NIL;
        node.queue = Some(queue);
    }

    /// The queue `key` is linked in, if any.
    pub fn queue_of(&self, key: Key) -> Option<Queue> {
        self.nodes[key].queue
    }

    /// How many waiters `queue` holds.
    pub fn len(&self, queue: Queue) -> usize {
        self.ends[queue as usize].len
    }

    fn unlink(&mut self, key: Key) {
        let Some(queue) = self.nodes[key].queue.take() else { return };
        let (prev, next) = (self.nodes[key].prev, self.nodes[key].next);
        let ends = &mut self.ends[queue as usize];
        ends.len -= 1;
        if prev == NIL {
            ends.head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            ends.tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
    }
}

impl<V> WaitSet<Waiter<V>> {
    /// Pops every waiter of `queue` and returns their wakers (to call after unlocking); their
    /// owners re-check the primitive's state when they run.
    pub fn kick_all(&mut self, queue: Queue) -> Vec<Waker> {
        let mut wakers = Vec::with_capacity(self.len(queue));
        while let Some(k) = self.pop_front(queue) {
            wakers.extend(self.get_mut(k).waker.take());
        }
        wakers
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_survives_removal_from_the_middle() {
        let mut s = WaitSet::default();
        let a = s.insert(Queue::First, 'a');
        let b = s.insert(Queue::First, 'b');
        let c = s.insert(Queue::First, 'c');
        assert_eq!(s.remove(b), 'b');
        assert_eq!(s.len(Queue::First), 2);
        assert_eq!(s.pop_front(Queue::First), Some(a));
        assert_eq!(s.pop_front(Queue::First), Some(c));
        assert_eq!(s.pop_front(Queue::First), None);
        // popped nodes stay allocated for their owners
        assert_eq!(*s.get(a), 'a');
        assert_eq!(s.queue_of(a), None);
    }

    #[test]
    fn nodes_move_between_queues_and_keys_are_reused_only_after_removal() {
        let mut s = WaitSet::default();
        let a = s.insert(Queue::Second, 1);
        let b = s.insert(Queue::First, 2);
        let k = s.pop_front(Queue::Second).unwrap();
        s.push_back(k, Queue::First);
        assert_eq!(s.queue_of(a), Some(Queue::First));
        assert_eq!(s.pop_front(Queue::First), Some(b));
        assert_eq!(s.pop_front(Queue::First), Some(a));
        s.remove(a);
        let c = s.insert(Queue::First, 3);
        assert_eq!(c, a, "freed slot is reused");
        assert_eq!(*s.get(b), 2);
    }
}
