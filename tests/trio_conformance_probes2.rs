//! More probes ported from Trio's tests (`_core/_tests/test_run.py`, `test_sync.py`,
//! `test_channel.py`, `test_timeouts.py`) and hostile use of the public API: scopes nested in
//! themselves, futures polled after they finished, extreme capacities and durations.

use quartet::io::{BufReader, BufWriter, Compat, WriteExt};
use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, CancelScope, OpError, move_on_after, nursery, run, sleep};
use std::io;
use std::time::Duration;

/// The same scope run in a child task, while the parent task is inside its block, is not nested
/// in the same task: allowed (quartet's "a scope entered by several tasks"), and a cancel reaches
/// both blocks; the outermost one catches it.
#[test]
fn scope_run_by_a_child_task_inside_the_parents_block_is_allowed() {
    run(async {
        let scope = CancelScope::new();
        let child_got = std::cell::Cell::new(None);
        let r = scope
            .run(async {
                let (s, got) = (&scope, &child_got);
                nursery(async |n| {
                    n.spawn(async move {
                        let out = s.run(sleep(Duration::from_secs(3600))).await;
                        got.set(Some(out.as_ref().map_err(|c| c.reason().clone()).copied()));
                        out.map(drop)
                    })?;
                    quartet::testing::wait_all_tasks_blocked().await?;
                    s.cancel();
                    sleep(Duration::from_secs(3600)).await?;
                    Ok::<_, BoxError>(())
                })
                .await
            })
            .await;
        assert!(matches!(r, Ok(None)), "{r:?}");
        // Not refused: the child's block was cancelled by the cancel (Explicit), and, as the same
        // scope's block around the nursery is cancelled too, the outermost block caught it.
        assert_eq!(child_got.take(), Some(Err(quartet::Reason::Explicit)));
        assert!(scope.cancelled_caught());
    })
    .unwrap();
}

/// Two connected loopback TCP streams.
async fn tcp_pair() -> Result<(TcpStream, TcpStream), OpError> {
    let listener = TcpListener::bind("127.0.0.1:0".parse().expect("addr"))?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    Ok((client, server))
}

/// `with_capacity(usize::MAX)` neither panics nor aborts: the buffer is allocated at the first
/// use, and a capacity that cannot be allocated is an `OutOfMemory` error there. The streams keep
/// working through a reader made with a sane capacity afterwards.
#[test]
fn buffered_io_with_capacity_usize_max_is_an_error_at_first_use_not_a_panic() {
    run(async {
        let (a, b) = tcp_pair().await?;
        a.write_all(b"hello\n").await.0.unwrap();
        let mut reader = BufReader::with_capacity(usize::MAX, &b);
        let err = reader.fill_buf().await.unwrap_err();
        assert!(matches!(&err, OpError::Io(e) if e.kind() == io::ErrorKind::OutOfMemory), "{err:?}");
        let mut writer = BufWriter::with_capacity(usize::MAX, &a);
        let err = writer.write_all(b"x").await.unwrap_err();
        assert!(matches!(&err, OpError::Io(e) if e.kind() == io::ErrorKind::OutOfMemory), "{err:?}");
        assert!(writer.buffer().is_empty(), "nothing was buffered by the failed write");
        let mut line = String::new();
        BufReader::new(&b).read_line(&mut line).await.unwrap();
        assert_eq!(line, "hello\n", "the failed reads consumed nothing");

        let (c, d) = tcp_pair().await?;
        let mut compat = Compat::with_capacity(usize::MAX, c);
        let err = compat.fill_buf().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{err:?}");
        drop(d);
        Ok::<_, OpError>(())
    })
    .unwrap()
    .unwrap();
}

/// Polls `fut` once more after it finished, with a waker that does nothing.
fn poll_again<F: std::future::Future + Unpin>(fut: &mut F) -> std::task::Poll<F::Output> {
    std::pin::Pin::new(fut).poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

fn is_polled_after_completion(c: &quartet::Cancelled) -> bool {
    c.reason() == &quartet::Reason::PolledAfterCompletion && !quartet::is_cancellation(c)
}

/// A receive, lock, semaphore acquire, event wait or condition wait polled again after it
/// returned `Ready` reports a typed error (`Reason::PolledAfterCompletion`, not a cancellation),
/// never a panic and never a second value, guard or permit; a finished send stays pending (it has
/// no value left to give back in a `SendError`). `is_terminated` tells them apart.
#[test]
fn waiting_futures_polled_after_completion_report_a_typed_error_not_a_panic() {
    use quartet::channel::RecvError;
    use quartet::sync::{Condition, Event, Lock, Semaphore, WaitError};
    use std::task::Poll;
    run(async {
        let (tx, rx) = quartet::channel::channel::<u8>(1);
        let mut send = tx.send(1);
        (&mut send).await.unwrap();
        assert!(send.is_terminated());
        assert!(poll_again(&mut send).is_pending());
        let mut recv = rx.recv();
        assert_eq!((&mut recv).await.unwrap(), Some(1));
        assert!(recv.is_terminated());
        assert!(matches!(poll_again(&mut recv), Poll::Ready(Err(RecvError::Cancelled(ref c))) if is_polled_after_completion(c)));

        let lock = Lock::new(0);
        let mut locking = lock.lock();
        drop((&mut locking).await.unwrap());
        assert!(locking.is_terminated());
        assert!(matches!(poll_again(&mut locking), Poll::Ready(Err(ref c)) if is_polled_after_completion(c)));
        assert!(lock.try_lock().is_ok(), "no second guard was handed out");

        let sem = Semaphore::new(1);
        let mut acquiring = sem.acquire();
        drop((&mut acquiring).await.unwrap());
        assert!(acquiring.is_terminated());
        assert!(matches!(poll_again(&mut acquiring), Poll::Ready(Err(ref c)) if is_polled_after_completion(c)));
        assert_eq!(sem.value(), 1);

        let event = Event::new();
        event.set();
        let mut waiting = Box::pin(event.wait());
        (&mut waiting).await.unwrap();
        assert!(matches!(poll_again(&mut waiting), Poll::Ready(Err(ref c)) if is_polled_after_completion(c)));

        let cond = Condition::new(0);
        let guard = cond.lock().await.unwrap();
        let mut cwait = Box::pin(cond.wait(guard));
        assert!(poll_again(&mut cwait).is_pending(), "parked, the lock released");
        assert_eq!(cond.notify_all(), 1);
        drop((&mut cwait).await.unwrap());
        assert!(matches!(poll_again(&mut cwait), Poll::Ready(Err(WaitError::Cancelled(ref c))) if is_polled_after_completion(c)));

        let limiter = quartet::CapacityLimiter::new(1);
        let mut borrowing = Box::pin(limiter.acquire());
        drop((&mut borrowing).await.unwrap());
        assert!(matches!(poll_again(&mut borrowing), Poll::Ready(Err(ref c)) if is_polled_after_completion(c)));
        assert_eq!(limiter.borrowed(), 0, "no second token was lent");

        let mut job = Box::pin(quartet::to_thread(|| 5));
        assert_eq!((&mut job).await.unwrap(), 5);
        let again = poll_again(&mut job);
        assert!(matches!(again, Poll::Ready(Err(ref e)) if !quartet::is_cancellation(e)), "{again:?}");
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
}

/// Trio's `test_timeout_deadline_on_entry`: a relative timeout's deadline is computed when the
/// scope is entered (the future is first polled), not when the timeout future is made.
#[quartet::test(mock_clock)]
async fn relative_timeout_deadline_is_computed_on_entry_not_when_made() {
    let made = quartet::now();
    let timeout = move_on_after(Duration::from_secs(5), async {
        let inside = quartet::current_effective_deadline();
        sleep(Duration::from_secs(4)).await?;
        Ok::<_, quartet::Cancelled>(inside)
    });
    sleep(Duration::from_secs(3)).await.unwrap();
    let entered = quartet::now();
    let deadline = timeout.await.unwrap().expect("4 s of sleep fit in the 5 s from entry");
    assert_eq!(deadline, Some(entered + Duration::from_secs(5)));
    assert!(entered > made);
}

/// Trio's `test_cancel_unbound` ("shield before entry"): a shield set before the scope is run
/// protects from an outer cancel from its first checkpoint, and dropping it inside the block
/// exposes the outer cancellation at the next checkpoint.
#[test]
fn shield_set_before_entry_protects_and_dropping_it_inside_exposes_the_outer_cancel() {
    run(async {
        let outer = CancelScope::new();
        let scope = CancelScope::new();
        scope.set_shield(true);
        let r = outer
            .run(async {
                outer.cancel();
                let inner = scope
                    .run(async {
                        quartet::checkpoint().await?; // shielded: passes
                        scope.set_shield(false);
                        quartet::checkpoint().await // the outer cancel reaches it now
                    })
                    .await;
                assert!(matches!(inner, Err(ref c) if c.reason() == &quartet::Reason::Explicit), "{inner:?}");
                inner.map(drop)
            })
            .await;
        assert_eq!(r, Ok(None));
        assert!(outer.cancelled_caught() && !scope.cancelled_caught() && !scope.cancel_called());
    })
    .unwrap();
}

/// Trio's `test_CapacityLimiter_change_total_tokens`: raising the total hands tokens to the
/// oldest waiters at once (the counters show it before anyone runs), lowering it below what is
/// borrowed takes nothing back, and a returned token goes to a waiter only once the borrowed
/// count is below the new total.
#[test]
fn capacity_limiter_total_changes_hand_out_tokens_in_order() {
    run(async {
        let limiter = quartet::CapacityLimiter::new(2);
        let release = quartet::sync::Event::new();
        nursery(async |n| {
            for _ in 0..5 {
                let (limiter, release) = (&limiter, &release);
                n.spawn(async move {
                    let token = limiter.acquire().await?;
                    release.wait().await?;
                    drop(token);
                    Ok::<_, quartet::Cancelled>(())
                })?;
                quartet::testing::wait_all_tasks_blocked().await?;
            }
            let stats = limiter.stats();
            assert_eq!((stats.borrowed, stats.waiting), (2, 3));
            limiter.set_total(3);
            let stats = limiter.stats();
            assert_eq!((stats.borrowed, stats.waiting), (3, 2), "handed out at once");
            limiter.set_total(0);
            assert_eq!(limiter.borrowed(), 3, "lowering takes nothing back");
            assert_eq!(limiter.available(), 0);
            limiter.set_total(usize::MAX);
            assert_eq!(limiter.stats().waiting, 0, "an unbounded total serves every waiter");
            release.set();
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(limiter.borrowed(), 0);
    })
    .unwrap();
}

/// Hostile arguments to the waiting primitives: `notify(0)` wakes nobody, and a graceful cancel
/// with no grace at all is a hard cancel (no panic, no hang).
#[test]
fn notify_zero_wakes_nobody_and_a_zero_grace_period_cancels_at_once() {
    run(async {
        let cond = quartet::sync::Condition::new(());
        let r = nursery(async |n| {
            let cond = &cond;
            n.spawn(async move {
                let guard = cond.lock().await?;
                drop(cond.wait(guard).await?);
                Ok::<_, BoxError>(())
            })?;
            quartet::testing::wait_all_tasks_blocked().await?;
            assert_eq!(cond.notify(0), 0);
            quartet::testing::wait_all_tasks_blocked().await?;
            assert_eq!(n.live_children(), 1, "still waiting");
            n.cancel_gracefully(Duration::ZERO);
            Ok::<_, BoxError>(())
        })
        .await;
        assert!(r.is_ok(), "{r:?}");
    })
    .unwrap();
}

/// Trio's `send`/`receive` check for cancellation before a closed handle refuses
/// (`checkpoint_if_cancelled`, then `ClosedResourceError`): in a cancelled scope a closed handle's
/// send or receive is `Cancelled` (the send's value given back), outside one it is `Closed`.
#[test]
fn closed_handle_in_a_cancelled_scope_reports_the_cancellation_first() {
    use quartet::channel::{RecvError, SendError};
    run(async {
        let (mut tx, mut rx) = quartet::channel::channel::<u8>(1);
        tx.close();
        rx.close();
        assert!(matches!(tx.send(1).await, Err(SendError::Closed(1))));
        assert!(matches!(rx.recv().await, Err(RecvError::Closed)));
        let scope = CancelScope::new();
        scope.cancel();
        let r = scope
            .run(async {
                let sent = tx.send(2).await.unwrap_err();
                assert!(matches!(sent, SendError::Cancelled { value: 2, .. }), "{sent:?}");
                let got = rx.recv().await.unwrap_err();
                assert!(matches!(got, RecvError::Cancelled(_)), "{got:?}");
                Err::<(), _>(got)
            })
            .await;
        assert_eq!(r, Ok(None), "the scope caught its own cancellation");
    })
    .unwrap();
}

/// `consume(usize::MAX)` after a partial consume is clamped to what is buffered, as documented,
/// for the native `BufReader` and for the adapter's `AsyncBufRead::consume`: no overflow panic,
/// no wrapped position that would hand out bytes twice.
#[test]
fn consume_usize_max_after_a_partial_consume_is_clamped() {
    use futures_util::io::AsyncBufReadExt;
    run(async {
        let (a, b) = tcp_pair().await?;
        a.write_all(b"abcdef").await.0?;
        let mut reader = BufReader::new(&b);
        while reader.buffer().len() < 6 {
            reader.read_more().await?;
        }
        reader.consume(2);
        reader.consume(usize::MAX);
        assert!(reader.buffer().is_empty());

        let (c, d) = tcp_pair().await?;
        c.write_all(b"ghijkl").await.0?;
        let mut compat = Compat::new(d);
        let n = compat.fill_buf().await.map_err(OpError::from)?.len();
        compat.consume_unpin(1);
        compat.consume_unpin(usize::MAX);
        assert!(compat.buffered().is_empty(), "all {n} buffered bytes consumed, none handed out twice");
        Ok::<_, OpError>(())
    })
    .unwrap()
    .unwrap();
}
