//! More probes ported from Trio's tests (`_core/_tests/test_run.py`, `test_sync.py`,
//! `test_channel.py`, `test_timeouts.py`) and hostile use of the public API: scopes nested in
//! themselves, futures polled after they finished, extreme capacities and durations.

use quartet::io::{BufReader, BufWriter, Compat, WriteExt};
use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, CancelScope, OpError, nursery, run, sleep};
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
