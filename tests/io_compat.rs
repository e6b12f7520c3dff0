//! The `futures-io` and tokio adapters (`quartet::io::Compat`) against real loopback peers: data
//! flows both ways, a read future dropped mid-flight loses no byte, and a cancel scope reaches a
//! blocked adapter read and is reported as cancellation, never as end of file.

use crate::nursery_support;

use futures_util::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use nursery_support::{poll_once, readable_bytes, run, tcp_pair};
use quartet::io::{Compat, ReadExt, WriteExt};
use quartet::{CancelScope, is_cancellation, nop};
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::pin::pin;

#[test]
fn futures_io_reads_lines_and_writes_to_a_real_peer() {
    run(async {
        let (peer, stream) = tcp_pair().await.unwrap();
        let mut io = Compat::new(stream);
        peer.write_all(&b"hello\nworld\n"[..]).await.0.unwrap();
        let mut line = String::new();
        io.read_line(&mut line).await.unwrap();
        assert_eq!(line, "hello\n");
        line.clear();
        io.read_line(&mut line).await.unwrap();
        assert_eq!(line, "world\n");
        io.write_all(b"reply one, ").await.unwrap();
        io.write_all(b"reply two").await.unwrap();
        io.close().await.unwrap(); // flushes, then shuts the write half
        let (res, got) = peer.read_to_end(Vec::new()).await;
        res.unwrap();
        assert_eq!(got, b"reply one, reply two");
        peer.shutdown(Shutdown::Write).await.unwrap();
        let mut rest = Vec::new();
        assert_eq!(io.read_to_end(&mut rest).await.unwrap(), 0, "end of stream reads as 0");
    });
}

#[test]
fn a_read_future_dropped_mid_flight_loses_no_byte() {
    run(async {
        let (peer, stream) = tcp_pair().await.unwrap();
        let fd = stream.as_raw_fd();
        let mut io = Compat::new(stream);
        let mut buf = [0u8; 64];
        {
            let mut read = pin!(io.read(&mut buf));
            assert!(poll_once(read.as_mut()).await.is_pending(), "the recv is in flight");
            peer.write_all(&b"payload"[..]).await.0.unwrap();
            // The kernel completes the in-flight recv: the bytes leave the socket ...
            while readable_bytes(fd) > 0 {
                nop().await.unwrap();
            }
        } // ... and the read future is dropped without seeing them.
        let n = io.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"payload", "the adapter kept the in-flight read's data");
    });
}

#[test]
fn a_cancelled_adapter_read_reports_cancellation_not_end_of_file() {
    run(async {
        let (peer, stream) = tcp_pair().await.unwrap();
        let mut io = Compat::new(stream);
        let mut buf = [0u8; 64];
        let scope = CancelScope::new();
        let mut seen: Option<io::Error> = None;
        {
            let mut fut = pin!(scope.run(async {
                let r = io.read(&mut buf).await;
                let e = r.expect_err("a cancelled read is an error, not Ok(0)");
                let kind = e.kind();
                seen = Some(io::Error::new(kind, e.to_string()));
                Err::<(), _>(e)
            }));
            assert!(poll_once(fut.as_mut()).await.is_pending(), "the read is blocked");
            scope.cancel();
            assert_eq!(fut.await.unwrap(), None, "the scope recognised the io::Error as its cancellation");
        }
        let seen = seen.expect("the read returned");
        assert_ne!(seen.kind(), io::ErrorKind::UnexpectedEof);
        assert!(scope.cancelled_caught());
        // Nothing was consumed: data sent afterwards arrives whole.
        peer.write_all(&b"after"[..]).await.0.unwrap();
        let n = io.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"after");
    });
}

#[test]
fn the_cancellation_inside_the_io_error_is_recognised() {
    run(async {
        let (_peer, stream) = tcp_pair().await.unwrap();
        let mut io = Compat::new(stream);
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope
            .run(async {
                let mut buf = [0u8; 8];
                let e = io.read(&mut buf).await.unwrap_err();
                assert!(is_cancellation(&e), "{e}");
                assert!(quartet::find_cancelled(&e).is_some());
                Err::<(), _>(e)
            })
            .await;
        assert!(matches!(out, Ok(None)));
    });
}

#[test]
fn tokio_io_traits_work_with_a_real_peer_and_see_cancellation() {
    run(async {
        let (peer, stream) = tcp_pair().await.unwrap();
        let mut io = Compat::new(stream);
        peer.write_all(&b"tokio"[..]).await.0.unwrap();
        let mut buf = [0u8; 5];
        tokio::io::AsyncReadExt::read_exact(&mut io, &mut buf).await.unwrap();
        assert_eq!(&buf, b"tokio");
        tokio::io::AsyncWriteExt::write_all(&mut io, b"back").await.unwrap();
        tokio::io::AsyncWriteExt::flush(&mut io).await.unwrap();
        let (res, got) = peer.read_exact(Vec::new(), 4).await;
        res.unwrap();
        assert_eq!(got, b"back");

        let scope = CancelScope::new();
        {
            let mut fut = pin!(scope.run(async { tokio::io::AsyncReadExt::read(&mut io, &mut buf).await.map(drop) }));
            assert!(poll_once(fut.as_mut()).await.is_pending());
            scope.cancel();
            assert!(matches!(fut.await, Ok(None)), "the cancellation reached the blocked tokio-style read");
        }
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut io).await;
    });
}

#[test]
fn bytes_accepted_before_a_cancel_are_sent_by_a_later_flush_exactly_once() {
    run(async {
        let (peer, stream) = tcp_pair().await.unwrap();
        let mut io = Compat::new(stream);
        let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut accepted = 0usize;
        let scope = CancelScope::new();
        {
            let mut fut = pin!(scope.run(async {
                while accepted < data.len() {
                    accepted += io.write(&data[accepted..]).await?;
                }
                Ok::<_, io::Error>(())
            }));
            // Let a few sends go out, then cancel while one is in flight or the socket is full.
            for _ in 0..3 {
                assert!(poll_once(fut.as_mut()).await.is_pending());
                nop().await.unwrap();
            }
            scope.cancel();
            assert_eq!(fut.await.unwrap(), None, "the cancellation reached the writer");
        }
        assert!(accepted > 0 && accepted < data.len(), "accepted {accepted}");
        // Outside the cancelled scope, a flush sends what was accepted and nothing else.
        let expected = data[..accepted].to_vec();
        quartet::nursery(async |n| {
            n.spawn(async {
                let (res, got) = peer.read_to_end(Vec::new()).await;
                res?;
                assert_eq!(got.len(), expected.len());
                assert!(got == expected, "the peer got exactly the accepted bytes, in order");
                Ok::<_, quartet::OpError>(())
            })?;
            io.close().await?;
            Ok::<_, quartet::BoxError>(())
        })
        .await
        .unwrap();
    });
}

/// The common "retry on `Interrupted`" loop (std's `read_exact`, many crates' helpers) must not
/// spin on a cancelled scope: a cancelled read fails at once on every retry, so cancellation must
/// not wear the retryable kind.
#[test]
fn a_retry_on_interrupted_loop_stops_when_its_scope_is_cancelled() {
    run(async {
        let (_peer, stream) = tcp_pair().await.unwrap();
        let mut io = Compat::new(stream);
        let scope = CancelScope::new();
        scope.cancel();
        let mut retries = 0u32;
        let out = scope
            .run(async {
                let mut buf = [0u8; 8];
                loop {
                    match io.read(&mut buf).await {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                            retries += 1;
                            assert!(retries < 1000, "the retry loop spins on a cancelled scope");
                        }
                        r => return r.map(drop),
                    }
                }
            })
            .await;
        assert!(matches!(out, Ok(None)), "the scope absorbed its own cancellation: {out:?}");
        assert_eq!(retries, 0);
    });
}

/// A `send_all` stopped by a cancel after some bytes went out is not `Cancelled` (something was
/// sent) but a `PartialWrite` with the count, which the cancelled scope still recognises as its
/// own cancellation rather than a failure.
#[test]
fn a_send_all_cut_short_by_a_cancel_reports_how_much_went_out() {
    run(async {
        let (peer, stream) = tcp_pair().await.unwrap();
        let scope = CancelScope::new();
        let total = 64 << 20; // far more than the socket buffers hold: the send blocks part-way
        let mut seen = None;
        {
            let mut fut = pin!(scope.run(async {
                let (r, _) = stream.send_all(vec![7u8; total]).await;
                let e = r.expect_err("the send was cancelled part-way");
                seen = Some(e.to_string());
                let quartet::OpError::Io(io) = &e else { panic!("not an Io error: {e:?}") };
                assert_ne!(io.kind(), io::ErrorKind::Interrupted);
                let partial =
                    io.get_ref().and_then(|e| e.downcast_ref::<quartet::PartialWrite>()).expect("a PartialWrite");
                assert!(partial.written() > 0 && partial.written() < total, "{partial}");
                assert_eq!(partial.total(), total);
                Err::<(), _>(e)
            }));
            assert!(poll_once(fut.as_mut()).await.is_pending(), "the send is in flight");
            while readable_bytes(peer.as_raw_fd()) == 0 {
                nop().await.unwrap();
            }
            scope.cancel();
            assert_eq!(fut.await.unwrap(), None, "a PartialWrite caused by the scope's cancel is not a failure");
        }
        assert!(seen.expect("send_all returned").contains("of 67108864 bytes"));
    });
}
