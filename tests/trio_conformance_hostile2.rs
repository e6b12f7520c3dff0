//! Hostile use of the public API, second round: futures that outlive the runtime that started
//! them and are polled or dropped in the next one on the same thread, wakers that call back into
//! the runtime from inside `wake`, extreme instants, and capacities at their limits.

use quartet::sync::{Event, Lock, Semaphore};
use quartet::{BoxError, CancelScope, Cancelled, Instant, channel, nursery, run, sleep, sleep_until};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

fn poll_with<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// A sleep, a receive and a lock acquire parked in one runtime, carried out of it, then polled and
/// dropped inside the next runtime on the same thread: each reports a typed error or stays
/// pending; nothing panics, and the second runtime's own timers, channels and scopes still work.
#[test]
fn futures_parked_in_a_finished_runtime_are_inert_in_the_next_one() {
    let lock = Box::leak(Box::new(Lock::new(0)));
    let (tx, rx) = channel::channel::<u8>(1);
    let rx = Box::leak(Box::new(rx));
    // Held by another thread's task, so this thread's acquire waits rather than being refused.
    let guard = std::thread::scope(|s| s.spawn(|| lock.try_lock().unwrap()).join().unwrap());
    let carried = run(async {
        let mut s = Box::pin(sleep(Duration::from_secs(3600)));
        let mut r = Box::pin(rx.recv());
        let mut l = Box::pin(lock.lock());
        let w = Waker::noop();
        assert!(poll_with(s.as_mut(), w).is_pending());
        assert!(poll_with(r.as_mut(), w).is_pending());
        assert!(poll_with(l.as_mut(), w).is_pending());
        (s, r, l)
    })
    .unwrap();
    let (mut s, mut r, mut l) = carried;
    let out = run(async {
        let w = Waker::noop();
        // Each either stays pending or fails with a typed error; none panics.
        let _ = poll_with(s.as_mut(), w);
        let _ = poll_with(r.as_mut(), w);
        let _ = poll_with(l.as_mut(), w);
        // The new runtime's own machinery is not disturbed by them.
        let scope = CancelScope::new();
        scope.cancel();
        assert_eq!(scope.run(sleep(Duration::from_secs(3600))).await, Ok(None));
        sleep(Duration::from_millis(1)).await?;
        drop((s, r, l));
        let (tx2, rx2) = channel::channel::<u8>(0);
        nursery(async |n| {
            n.spawn(async move { tx2.send(7).await.map_err(|_| "closed") })?;
            assert_eq!(rx2.recv().await?, Some(7));
            Ok::<_, BoxError>(())
        })
        .await?;
        Ok::<_, BoxError>(())
    });
    out.unwrap().unwrap();
    drop(guard);
    assert!(lock.try_lock().is_ok(), "the carried acquire left no waiter holding the lock");
    drop(tx);
}

/// A waker that runs `f` from inside `wake`.
struct OnWake<F: Fn() + Send + Sync>(F);

impl<F: Fn() + Send + Sync> Wake for OnWake<F> {
    fn wake(self: Arc<Self>) {
        (self.0)();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        (self.0)();
    }
}

/// Wakers that call back into the primitive that is waking them (set the event again, release
/// the semaphore again, try the lock, cancel a scope) neither deadlock nor panic.
#[test]
fn wakers_that_reenter_the_primitive_waking_them() {
    run(async {
        let event = Arc::new(Event::new());
        let e2 = event.clone();
        let waker = Waker::from(Arc::new(OnWake(move || {
            e2.set();
            assert!(e2.is_set());
        })));
        let mut wait = Box::pin(event.wait());
        assert!(poll_with(wait.as_mut(), &waker).is_pending());
        event.set();
        assert!(matches!(poll_with(wait.as_mut(), &waker), Poll::Ready(Ok(()))));

        let sem = Arc::new(Semaphore::new(0));
        let s2 = sem.clone();
        let waker = Waker::from(Arc::new(OnWake(move || {
            let _ = s2.try_acquire().map(|p| p.forget());
            let _ = s2.statistics();
        })));
        let mut acq = Box::pin(sem.acquire());
        assert!(poll_with(acq.as_mut(), &waker).is_pending());
        sem.release()?;
        assert!(matches!(poll_with(acq.as_mut(), &waker), Poll::Ready(Ok(_))));

        let lock = Arc::new(Lock::new(()));
        let l2 = lock.clone();
        let waker = Waker::from(Arc::new(OnWake(move || {
            assert!(l2.try_lock().is_err(), "handed to the woken waiter");
            let _ = l2.statistics();
        })));
        let g = std::thread::scope(|s| s.spawn(|| lock.try_lock().unwrap()).join().unwrap());
        let mut locking = Box::pin(lock.lock());
        assert!(poll_with(locking.as_mut(), &waker).is_pending());
        drop(g);
        assert!(matches!(poll_with(locking.as_mut(), &waker), Poll::Ready(Ok(_))));

        let scope = CancelScope::new();
        let handle = scope.handle();
        let waker = Waker::from(Arc::new(OnWake(move || {
            handle.cancel();
            handle.cancel();
        })));
        let out = scope
            .run(async {
                let mut s = Box::pin(sleep(Duration::from_secs(3600)));
                assert!(poll_with(s.as_mut(), &waker).is_pending());
                CancelScope::new().handle().cancel();
                Ok::<_, Cancelled>(())
            })
            .await;
        assert_eq!(out, Ok(Some(())));
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
}

thread_local! {
    static VICTIM: RefCell<Option<Pin<Box<quartet::Sleep>>>> = const { RefCell::new(None) };
}

/// A timer's waker that drops another sleeping timer (unlinking it from the wheel while the wheel
/// is firing) and starts a new one: the loop neither panics nor loses the new timer.
#[test]
fn timer_waker_that_drops_and_arms_other_timers() {
    run(async {
        let first = sleep(Duration::from_millis(1));
        let victim = Box::pin(sleep(Duration::from_millis(1)));
        let mut victim = victim;
        assert!(poll_with(victim.as_mut(), Waker::noop()).is_pending());
        VICTIM.with(|v| *v.borrow_mut() = Some(victim));
        let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f2 = fired.clone();
        let waker = Waker::from(Arc::new(OnWake(move || {
            f2.store(true, std::sync::atomic::Ordering::SeqCst);
            VICTIM.with(|v| drop(v.borrow_mut().take()));
        })));
        let mut first = Box::pin(first);
        assert!(poll_with(first.as_mut(), &waker).is_pending());
        sleep(Duration::from_millis(5)).await?;
        assert!(fired.load(std::sync::atomic::Ordering::SeqCst), "the first timer fired");
        assert!(VICTIM.with(|v| v.borrow().is_none()), "the victim was dropped from inside the waker");
        sleep(Duration::from_millis(1)).await?;
        Ok::<_, Cancelled>(())
    })
    .unwrap()
    .unwrap();
}

/// Instants at the ends of the range: a deadline decades in the past is "now" (cancels at the
/// first checkpoint), one centuries ahead never fires; arithmetic on them saturates, never panics.
#[test]
fn instants_at_the_ends_of_the_range() {
    run(async {
        let now = Instant::now();
        let far_past = now.checked_sub(Duration::from_secs(60 * 60 * 24 * 365 * 30)).unwrap_or(now);
        let far_future = now.checked_add(Duration::from_secs(u64::MAX / 4)).unwrap_or(now);
        sleep_until(far_past).await?;
        assert_eq!(quartet::move_on_at(far_past, sleep(Duration::from_secs(1))).await, Ok(None));
        let scope = CancelScope::with_deadline(far_future);
        assert_eq!(scope.run(sleep(Duration::from_millis(1))).await, Ok(Some(())));
        scope.set_deadline(Some(far_past));
        assert_eq!(scope.run(sleep(Duration::from_secs(1))).await, Ok(None));
        let mut interval = quartet::interval_at(far_past, Duration::from_millis(1));
        interval.tick().await?;
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
}

/// A semaphore at `usize::MAX` units refuses one more release with a typed error, never an
/// overflow; a bounded semaphore whose max is 0 is always empty.
#[test]
fn semaphore_at_usize_max_and_zero() {
    let sem = Semaphore::new(usize::MAX);
    assert!(sem.release().is_err(), "one past usize::MAX is refused");
    assert_eq!(sem.value(), usize::MAX);
    let p = sem.try_acquire().unwrap();
    assert_eq!(sem.value(), usize::MAX - 1);
    drop(p);
    assert_eq!(sem.value(), usize::MAX);
    let zero = Semaphore::bounded(0, 0).unwrap();
    assert!(zero.try_acquire().is_err());
    assert!(zero.release().is_err());
    let limiter = quartet::CapacityLimiter::new(usize::MAX);
    let t = limiter.try_acquire().unwrap();
    limiter.set_total(0);
    assert_eq!(limiter.available(), 0);
    drop(t);
    limiter.set_total(usize::MAX);
    assert_eq!(limiter.available(), usize::MAX);
}

/// Trio's `test_open_tcp_stream_input_validation` and `test_no_hosts`, with extreme staggers: an
/// empty host, port 0, a stagger of zero or `Duration::MAX` are typed errors or plain connects;
/// nothing panics or hangs (a refused attempt starts the next one whatever the stagger).
#[test]
fn open_tcp_with_extreme_staggers_empty_host_and_port_zero() {
    use quartet::net::{ConnectError, OpenTcp, TcpListener};
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
        let good = listener.local_addr()?;
        let refused = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?
        };
        for stagger in [Duration::ZERO, Duration::MAX] {
            let s = OpenTcp::new().stagger(stagger).connect_addrs(&[refused, good]).await;
            assert!(s.is_ok(), "stagger {stagger:?}: {s:?}");
            let (_conn, _) = listener.accept().await?;
            let all = OpenTcp::new().stagger(stagger).connect_addrs(&[refused, refused]).await;
            assert!(matches!(all, Err(ConnectError::AllFailed(ref v)) if v.len() == 2), "{all:?}");
        }
        assert!(matches!(OpenTcp::new().connect_addrs(&[]).await, Err(ConnectError::NoAddresses)));
        assert!(quartet::net::open_tcp_stream("", 80).await.is_err());
        assert!(quartet::net::open_tcp_stream("127.0.0.1", 0).await.is_err());
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
}
