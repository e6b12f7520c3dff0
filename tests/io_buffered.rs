//! quartet-io's native buffered I/O over real loopback peers: line reading that survives
//! cancellation, exact and to-end reads, buffered writes, `copy` and `copy_bidirectional`.

use crate::nursery_support;

use nursery_support::{poll_once, readable_bytes, run, tcp_pair};
use quartet::io::{
    BufReader, BufWriter, FileCursor, OwnedRead, OwnedWrite, ReadExt, WriteExt, copy, copy_bidirectional,
};
use quartet::net::TcpStream;
use quartet::{CancelScope, IoBuf, OpError, is_cancellation, nop, nursery};
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::pin::pin;

async fn send(s: &TcpStream, data: &'static [u8]) {
    s.write_all(data).await.0.expect("send");
}

#[test]
fn recv_into_an_empty_vec_grows_it() {
    run(async {
        let (a, b) = tcp_pair().await.unwrap();
        send(&a, b"hi").await;
        let (res, buf) = b.recv(Vec::new()).await;
        assert_eq!(res.unwrap(), 2);
        assert_eq!(buf, b"hi");
        // a full Vec (no spare capacity) grows too, and keeps its bytes
        let mut full = vec![b'>'; 4];
        full.shrink_to_fit();
        send(&a, b"!").await;
        let (res, buf) = b.recv(full).await;
        assert_eq!(res.unwrap(), 1);
        assert_eq!(buf, b">>>>!");
    });
}

#[test]
fn lines_come_out_whole_across_reads() {
    run(async {
        let (a, b) = tcp_pair().await.unwrap();
        send(&a, b"one\ntw").await;
        send(&a, b"o\r\nthree").await;
        a.shutdown(Shutdown::Write).await.unwrap();
        let mut lines = BufReader::with_capacity(4, b).lines();
        let mut got = Vec::new();
        while let Some(line) = lines.next_line().await {
            got.push(line.unwrap());
        }
        assert_eq!(got, ["one", "two", "three"]);
    });
}

#[test]
fn cancelled_read_line_keeps_the_partial_line() {
    run(async {
        let (a, b) = tcp_pair().await.unwrap();
        let mut reader = BufReader::new(&b);
        let mut line = String::new();
        send(&a, b"hel").await;
        {
            let scope = CancelScope::new();
            let mut fut = pin!(scope.run(reader.read_line(&mut line)));
            assert!(poll_once(fut.as_mut()).await.is_pending());
            // Let the first recv take "hel" and the second one start waiting for more.
            while readable_bytes(b.as_raw_fd()) > 0 {
                nop().await.unwrap();
            }
            assert!(poll_once(fut.as_mut()).await.is_pending());
            scope.cancel();
            assert_eq!(fut.await.unwrap(), None, "the scope caught the cancellation");
        }
        assert_eq!(line, "", "a cancelled read_line leaves its output unchanged");
        assert_eq!(reader.buffer(), b"hel", "the partial line stays buffered");
        send(&a, b"lo\nrest").await;
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 6);
        assert_eq!(line, "hello\n");
    });
}

#[test]
fn read_line_rejects_invalid_utf8_and_overlong_lines() {
    run(async {
        let (a, b) = tcp_pair().await.unwrap();
        let mut reader = BufReader::new(&b);
        reader.set_max_line(8);
        send(&a, b"\xff\xfe\nok\n0123456789").await;
        let mut line = String::new();
        let e = reader.read_line(&mut line).await.unwrap_err();
        assert_eq!(e.as_io().map(io::Error::kind), Some(io::ErrorKind::InvalidData));
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 3);
        assert_eq!(line, "ok\n");
        let e = reader.read_line(&mut line).await.unwrap_err();
        assert_eq!(e.as_io().map(io::Error::kind), Some(io::ErrorKind::InvalidData));
        assert_eq!(reader.buffer(), b"0123456789", "an overlong line stays buffered");
    });
}

#[test]
fn read_exact_takes_exactly_n_bytes() {
    run(async {
        let (a, b) = tcp_pair().await.unwrap();
        send(&a, b"abcdefghij").await;
        let (res, head) = b.read_exact(Vec::with_capacity(1024), 4).await;
        res.unwrap();
        assert_eq!(head, b"abcd");
        a.shutdown(Shutdown::Write).await.unwrap();
        let (res, rest) = b.read_to_end(head).await;
        assert_eq!(res.unwrap(), 6);
        assert_eq!(rest, b"abcdefghij");
        let (res, _) = b.read_exact(Vec::new(), 1).await;
        assert_eq!(res.unwrap_err().as_io().map(io::Error::kind), Some(io::ErrorKind::UnexpectedEof));
    });
}

/// A length that cannot be allocated is an error with the buffer handed back untouched, not a
/// capacity-overflow panic (or an allocation abort), and nothing is read from the stream.
#[test]
fn read_exact_of_an_impossible_length_is_an_error_not_a_panic() {
    run(async {
        let (a, b) = tcp_pair().await.unwrap();
        send(&a, b"abcd").await;
        for n in [usize::MAX, usize::MAX - 3, 1 << 62] {
            let (res, buf) = b.read_exact(b"kept".to_vec(), n).await;
            let kind = res.unwrap_err().as_io().map(io::Error::kind);
            assert!(matches!(kind, Some(io::ErrorKind::InvalidInput | io::ErrorKind::OutOfMemory)), "{n}: {kind:?}");
            assert_eq!(buf, b"kept", "{n}");
        }
        let (res, head) = b.read_exact(Vec::new(), 4).await;
        res.unwrap();
        assert_eq!(head, b"abcd", "the failed calls read nothing");
    });
}

#[test]
fn buf_writer_sends_on_flush_in_order() {
    run(async {
        let (a, b) = tcp_pair().await.unwrap();
        let mut w = BufWriter::with_capacity(16, &a);
        w.write_all(b"0123456789").await.unwrap();
        assert_eq!(w.buffer(), b"0123456789", "below capacity nothing is sent");
        w.write_all(b"abcdefghij").await.unwrap(); // overflows: the first part goes out
        w.shutdown().await.unwrap();
        let (res, got) = b.read_to_end(Vec::new()).await;
        res.unwrap();
        assert_eq!(got, b"0123456789abcdefghij");
    });
}

#[test]
fn copy_moves_everything_until_end_of_stream() {
    run(async {
        let (src_w, src_r) = tcp_pair().await.unwrap();
        let (dst_w, dst_r) = tcp_pair().await.unwrap();
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let expected = payload.clone();
        nursery(async |n| {
            n.spawn(async {
                src_w.write_all(payload).await.0?;
                src_w.shutdown(Shutdown::Write).await
            })?;
            n.spawn(async {
                let copied = copy(&src_r, &dst_w).await?;
                assert_eq!(copied, 200_000);
                dst_w.shutdown(Shutdown::Write).await
            })?;
            let (res, got) = dst_r.read_to_end(Vec::new()).await;
            res?;
            assert!(got == expected, "copied bytes differ");
            Ok::<_, quartet::BoxError>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn copy_bidirectional_proxies_both_ways_and_forwards_end_of_stream() {
    run(async {
        let (client, proxy_in) = tcp_pair().await.unwrap();
        let (proxy_out, server) = tcp_pair().await.unwrap();
        nursery(async |n| {
            let proxy = n.spawn(async { copy_bidirectional(&proxy_in, &proxy_out).await })?;
            n.spawn(async {
                let (res, got) = server.read_to_end(Vec::new()).await;
                res?;
                assert_eq!(got, b"ping");
                server.write_all(&b"pong!"[..]).await.0?;
                server.shutdown(Shutdown::Write).await
            })?;
            client.write_all(&b"ping"[..]).await.0?;
            client.shutdown(Shutdown::Write).await?;
            let (res, got) = client.read_to_end(Vec::new()).await;
            res?;
            assert_eq!(got, b"pong!");
            assert_eq!(proxy.await?, (4, 5));
            Ok::<_, quartet::BoxError>(())
        })
        .await
        .unwrap();
    });
}

/// A stream whose writes fail: one direction of a proxy that breaks.
struct BrokenWrites(TcpStream);

impl OwnedRead for BrokenWrites {
    async fn read<B: quartet::IoBufMut>(&self, buf: B) -> (Result<usize, OpError>, B) {
        self.0.read(buf).await
    }
}

impl OwnedWrite for BrokenWrites {
    async fn write<B: IoBuf>(&self, buf: B) -> (Result<usize, OpError>, B) {
        (Err(io::Error::from(io::ErrorKind::BrokenPipe).into()), buf)
    }
}

#[test]
fn copy_bidirectional_failure_cancels_the_other_direction() {
    run(async {
        let (_silent_peer, a) = tcp_pair().await.unwrap();
        let (b, b_peer) = tcp_pair().await.unwrap();
        let a = BrokenWrites(a);
        send(&b_peer, b"x").await;
        // a->b blocks reading `a` (its peer never writes); b->a fails writing into `a`.
        let err = copy_bidirectional(&a, &b).await.unwrap_err();
        assert!(!err.is_cancelled(), "{err}");
        assert_eq!(err.failures().len(), 1, "{err}");
        assert!(err.failures()[0].origin().contains("b->a"), "{err}");
        assert!(!is_cancellation(err.failures()[0].error()));
    });
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("quartet-io-{}-{name}", std::process::id()))
}

#[test]
fn file_cursor_writes_and_reads_lines_in_sequence() {
    run(async {
        let path = temp_path("lines");
        let mut w = BufWriter::with_capacity(8, FileCursor::new(quartet::fs::File::create(&path).await.unwrap()));
        for i in 0..100 {
            w.write_all(format!("line {i}\n").as_bytes()).await.unwrap();
        }
        w.flush().await.unwrap();
        let (cursor, _) = w.into_parts();
        assert_eq!(cursor.position(), (0..100).map(|i| format!("line {i}\n").len() as u64).sum::<u64>());
        cursor.into_inner().close().await.unwrap();

        let file = quartet::fs::File::open(&path).await.unwrap();
        let mut lines = BufReader::with_capacity(16, FileCursor::new(file)).lines();
        let mut n = 0;
        while let Some(line) = lines.next_line().await {
            assert_eq!(line.unwrap(), format!("line {n}"));
            n += 1;
        }
        assert_eq!(n, 100);
        let _ = std::fs::remove_file(&path);
    });
}

#[test]
fn file_cursor_refuses_a_second_operation_in_flight() {
    run(async {
        let path = temp_path("busy");
        std::fs::write(&path, b"0123456789").unwrap();
        let cursor = FileCursor::new(quartet::fs::File::open(&path).await.unwrap());
        let mut first = pin!(cursor.read(Vec::with_capacity(4)));
        assert!(poll_once(first.as_mut()).await.is_pending());
        let (second, _) = cursor.read(Vec::with_capacity(4)).await;
        assert_eq!(second.unwrap_err().as_io().map(io::Error::kind), Some(io::ErrorKind::ResourceBusy));
        let (res, buf) = first.await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"0123");
        let (res, buf) = cursor.read(Vec::with_capacity(4)).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"4567", "the position moved past the first read");
        let _ = std::fs::remove_file(&path);
    });
}
