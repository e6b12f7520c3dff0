//! Hostile use of the public API: I/O futures and wrappers polled again after they returned
//! `Ready` (a hand-written `select` loop that forgets a branch finished). Like the waiting futures
//! (`trio_conformance_probes2.rs`), they answer with a typed error (`Reason::PolledAfterCompletion`,
//! not a cancellation) when their output can carry one, and otherwise stay pending and never wake
//! (an op that hands its buffer back has no buffer left to give); never a panic, and never a
//! second submission to the kernel.

use quartet::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use quartet::{BoxError, CancelScope, OpError, Reason, move_on_after, nursery, run};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Polls `fut` once more with a waker that does nothing.
fn poll_again<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Ops submitted so far (counted when the op is queued, before the ring is entered).
fn ops() -> u64 {
    quartet::stats().expect("inside run").driver.ops
}

/// A second poll of a finished future whose output is `Result<_, OpError>`: a typed misuse error,
/// and nothing was submitted.
fn assert_typed<T: std::fmt::Debug>(fut: Pin<&mut impl Future<Output = Result<T, OpError>>>, what: &str) {
    let before = ops();
    let again = poll_again(fut);
    match &again {
        Poll::Ready(Err(e)) if is_polled_again(e) => {}
        other => panic!("{what}: polled again gave {other:?}"),
    }
    assert_eq!(ops(), before, "{what}: nothing submitted by the second poll");
}

/// The misuse error of a second poll: `Cancelled` with `Reason::PolledAfterCompletion` inside an
/// `OpError::Io` (how every misuse reason converts), and not a cancellation.
fn is_polled_again(e: &OpError) -> bool {
    let OpError::Io(io) = e else { return false };
    let c = io.get_ref().and_then(|inner| inner.downcast_ref::<quartet::Cancelled>());
    c.is_some_and(|c| c.reason() == &Reason::PolledAfterCompletion) && !quartet::is_cancellation(e)
}

/// A second poll of a finished op that hands a buffer back: pending for good, nothing submitted.
fn assert_stays_pending<F: Future>(fut: Pin<&mut F>, what: &str) {
    let before = ops();
    assert!(poll_again(fut).is_pending(), "{what}: stays pending");
    assert_eq!(ops(), before, "{what}: nothing submitted by the second poll");
}

#[test]
fn io_futures_polled_after_completion_report_a_typed_error_or_stay_pending() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
        let mut connect = Box::pin(TcpStream::connect(listener.local_addr()?));
        let client = (&mut connect).await?;
        let mut accept = Box::pin(listener.accept());
        let (server, _) = (&mut accept).await?;
        assert_typed(accept.as_mut(), "accept");
        assert_typed(connect.as_mut(), "connect");

        let mut send = Box::pin(client.send(b"hi".to_vec()));
        assert_eq!((&mut send).await.0?, 2);
        assert_stays_pending(send.as_mut(), "send");
        let mut recv = Box::pin(server.recv(vec![0u8; 8]));
        assert_eq!((&mut recv).await.0?, 2);
        assert_stays_pending(recv.as_mut(), "recv");
        let mut shutdown = Box::pin(client.shutdown(std::net::Shutdown::Write));
        (&mut shutdown).await?;
        assert_typed(shutdown.as_mut(), "shutdown");

        let udp = UdpSocket::bind("127.0.0.1:0".parse()?)?;
        let mut send_to = Box::pin(udp.send_to(vec![1u8], udp.local_addr()?));
        (&mut send_to).await.0?;
        assert_stays_pending(send_to.as_mut(), "send_to");
        let mut recv_from = Box::pin(udp.recv_from(vec![0u8; 4]));
        (&mut recv_from).await.0?;
        assert_stays_pending(recv_from.as_mut(), "recv_from");

        let (a, _b) = UnixStream::pair()?;
        let mut write = Box::pin(quartet::runtime::io::OwnedWrite::write(&server, b"x".to_vec()));
        (&mut write).await.0?;
        assert_stays_pending(write.as_mut(), "OwnedWrite::write");
        let mut read = Box::pin(quartet::runtime::io::OwnedRead::read(&client, vec![0u8; 1]));
        (&mut read).await.0?;
        assert_stays_pending(read.as_mut(), "OwnedRead::read");
        let mut close = Box::pin(a.close());
        (&mut close).await?;
        assert_typed(close.as_mut(), "close");

        let dir = std::env::temp_dir().join(format!("quartet-polled-again-{}", std::process::id()));
        let mut create = Box::pin(quartet::fs::File::create(&dir));
        let file = (&mut create).await?;
        assert_typed(create.as_mut(), "File::create");
        let mut write_at = Box::pin(file.write_at(b"abc".to_vec(), 0));
        (&mut write_at).await.0?;
        assert_stays_pending(write_at.as_mut(), "write_at");
        let mut meta = Box::pin(file.metadata());
        (&mut meta).await?;
        assert_typed(meta.as_mut(), "metadata");
        let mut remove = Box::pin(quartet::fs::remove_file(&dir));
        (&mut remove).await?;
        assert_typed(remove.as_mut(), "remove_file");
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
}

/// A nursery polled again reports the misuse as its one failure; the cancel scopes, timeouts and
/// task-local scopes have the body's own output type, which has no misuse value: they stay
/// pending. None panics or runs the body again.
#[test]
fn structured_wrappers_polled_after_completion_fail_typed_or_stay_pending() {
    quartet::task_local! { static KEY: u32; }
    run(async {
        let polls = std::cell::Cell::new(0);
        let mut n = Box::pin(nursery(async |_| {
            polls.set(polls.get() + 1);
            Ok::<_, BoxError>(())
        }));
        (&mut n).await?;
        let again = poll_again(n.as_mut());
        let Poll::Ready(Err(e)) = &again else { panic!("nursery polled again: {again:?}") };
        assert!(!e.is_cancelled() && !quartet::is_cancellation(e), "{e:?}");
        assert!(e.to_string().contains("polled again after it completed"), "{e}");
        let scope = CancelScope::new();
        let mut s = Box::pin(scope.run(async {
            polls.set(polls.get() + 1);
            Ok::<_, BoxError>(())
        }));
        (&mut s).await?;
        assert!(poll_again(s.as_mut()).is_pending(), "CancelScope::run");
        let mut t = Box::pin(move_on_after(Duration::ZERO, async { Ok::<_, BoxError>(()) }));
        (&mut t).await?;
        assert!(poll_again(t.as_mut()).is_pending(), "move_on_after");
        let mut local = Box::pin(KEY.scope(1, async { polls.set(polls.get() + 1) }));
        (&mut local).await;
        assert!(poll_again(local.as_mut()).is_pending(), "TaskLocalScope");
        assert_eq!(polls.get(), 3, "no body ran twice");
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
}

/// A pooled receive polled again after it returned does not arm a second receive.
#[test]
fn pooled_recv_polled_after_completion_is_a_typed_error_and_arms_nothing() {
    run(async {
        let (a, b) = UnixStream::pair()?;
        let rx = quartet::net::PooledReceiver::new(&b)?;
        a.send(b"hey".to_vec()).await.0?;
        let mut recv = Box::pin(rx.recv());
        let buf = (&mut recv).await?.expect("data");
        assert_eq!(&buf[..], b"hey");
        drop(buf);
        let before = ops();
        let again = poll_again(recv.as_mut());
        assert!(matches!(&again, Poll::Ready(Err(e)) if is_polled_again(e)), "{again:?}");
        assert_eq!(ops(), before, "no receive armed");
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
}
