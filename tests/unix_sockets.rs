//! Unix domain sockets over real peers: path and abstract addresses, stream and datagram
//! sockets, socket pairs, and fd passing with `SCM_RIGHTS` (including that fds of a receive
//! nobody collected are closed, not leaked).

mod nursery_support;

use nursery_support::{poll_once, readable_bytes, run};
use quartet::net::{UnixDatagram, UnixListener, UnixSocketAddr, UnixStream};
use quartet::nop;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::pin::pin;

fn temp_path(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("quartet-{tag}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn unique_abstract(tag: &str) -> UnixSocketAddr {
    UnixSocketAddr::from_abstract_name(format!("quartet-test-{tag}-{}", std::process::id())).unwrap()
}

#[test]
fn listener_on_a_path_accepts_and_streams_both_ways() {
    let path = temp_path("stream");
    run(async {
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
        let client = UnixStream::connect(&path).await.unwrap();
        let (server, peer) = listener.accept().await.unwrap();
        assert!(peer.is_unnamed(), "a connecting socket is unbound");
        assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
        client.send_all(b"request".to_vec()).await.0.unwrap();
        let (n, buf) = server.recv(Vec::with_capacity(32)).await;
        assert_eq!(&buf[..n.unwrap()], b"request");
        server.send_all(b"reply".to_vec()).await.0.unwrap();
        server.shutdown(std::net::Shutdown::Write).await.unwrap();
        let (n, buf) = client.recv(Vec::with_capacity(32)).await;
        assert_eq!(&buf[..n.unwrap()], b"reply");
        let (n, _) = client.recv(Vec::with_capacity(32)).await;
        assert_eq!(n.unwrap(), 0, "end of stream after the peer's shutdown");
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn abstract_address_connects_without_a_file() {
    run(async {
        let addr = unique_abstract("abs");
        let listener = UnixListener::bind_addr(&addr).unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);
        let client = UnixStream::connect_addr(&addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        assert_eq!(client.peer_addr().unwrap().as_abstract_name(), addr.as_abstract_name());
        client.send_all(b"abstract".to_vec()).await.0.unwrap();
        let (n, buf) = server.recv(Box::new([0u8; 16])).await;
        assert_eq!(&buf[..n.unwrap()], b"abstract");
        // a second listener on the same name is refused: the name is taken
        let e = UnixListener::bind_addr(&addr).expect_err("name in use");
        assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE));
    });
}

#[test]
fn connecting_to_a_missing_path_fails() {
    run(async {
        let e = UnixStream::connect(temp_path("missing")).await.expect_err("nobody listens");
        assert_eq!(e.as_io().and_then(|e| e.raw_os_error()), Some(libc::ENOENT));
    });
}

#[test]
fn stream_pair_exchanges_bytes() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        a.send_all(vec![7u8; 100_000]).await.0.unwrap();
        let mut got = 0;
        while got < 100_000 {
            let (n, _) = b.recv(Vec::with_capacity(8192)).await;
            got += n.unwrap();
        }
        assert_eq!(got, 100_000);
    });
}

#[test]
fn datagrams_keep_boundaries_and_report_sender_and_truncation() {
    run(async {
        let (pa, pb) = (unique_abstract("dg-a"), unique_abstract("dg-b"));
        let a = UnixDatagram::bind_addr(&pa).unwrap();
        let b = UnixDatagram::bind_addr(&pb).unwrap();
        a.send_to(b"first".to_vec(), &pb).await.0.unwrap();
        a.send_to(b"second message".to_vec(), &pb).await.0.unwrap();
        let (meta, buf) = b.recv_from(Vec::with_capacity(64)).await;
        let meta = meta.unwrap();
        assert_eq!((&buf[..], meta.addr.clone()), (&b"first"[..], pa.clone()));
        let (meta, buf) = b.recv_from(Box::new([0u8; 6])).await;
        let meta = meta.unwrap();
        assert!(meta.truncated());
        assert_eq!((meta.len, meta.datagram_len, &buf[..]), (6, 14, &b"second"[..]));
        // connected pair
        let (x, y) = UnixDatagram::pair().unwrap();
        x.send(b"p".to_vec()).await.0.unwrap();
        let (n, buf) = y.recv(Vec::with_capacity(4)).await;
        assert_eq!(&buf[..n.unwrap()], b"p");
        let c = UnixDatagram::unbound().unwrap();
        c.connect_addr(&pa).unwrap();
        c.send(b"via connect".to_vec()).await.0.unwrap();
        let (meta, _) = a.recv_from(Vec::with_capacity(32)).await;
        assert!(meta.unwrap().addr.is_unnamed(), "an unbound sender has no address");
    });
}

fn temp_file_with(contents: &[u8]) -> std::fs::File {
    let tag = String::from_utf8_lossy(contents).into_owned();
    let path = std::env::temp_dir().join(format!("quartet-fdpass-{}-{tag}", std::process::id()));
    let mut f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    f.write_all(contents).unwrap();
    f
}

/// How many of this process's fds refer to the temp file made with `tag` (other tests open and
/// close fds concurrently, so a plain count would race).
fn fds_naming(tag: &str) -> usize {
    let needle = format!("quartet-fdpass-{}-{tag}", std::process::id());
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|p| p.to_string_lossy().contains(&needle))
        .count()
}

fn read_all(fd: OwnedFd) -> Vec<u8> {
    let mut f = std::fs::File::from(fd);
    f.rewind().unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn passed_fds_arrive_as_working_owned_fds() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let f1 = temp_file_with(b"one");
        let f2 = temp_file_with(b"second");
        let (r, _) = a.send_with_fds(b"x".to_vec(), &[f1.as_fd(), f2.as_fd()]).await;
        assert_eq!(r.unwrap(), 1);
        // the sender's copies can go at once: the receiver gets its own
        drop((f1, f2));
        let (r, buf) = b.recv_with_fds(Vec::with_capacity(8), 4).await;
        let (n, fds) = r.unwrap();
        assert_eq!(&buf[..n], b"x");
        assert_eq!(fds.len(), 2);
        // SAFETY: fcntl(F_GETFD) on an fd we own.
        let flags = unsafe { libc::fcntl(fds[0].as_raw_fd(), libc::F_GETFD) };
        assert!(flags & libc::FD_CLOEXEC != 0, "received fds are close-on-exec");
        let mut it = fds.into_iter();
        assert_eq!(read_all(it.next().unwrap()), b"one");
        assert_eq!(read_all(it.next().unwrap()), b"second");
    });
}

#[test]
fn datagram_sockets_pass_fds_too() {
    run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let f = temp_file_with(b"dgram");
        a.send_with_fds(b"msg".to_vec(), &[f.as_fd()]).await.0.unwrap();
        let (r, buf) = b.recv_with_fds(Box::new([0u8; 8]), 1).await;
        let (n, fds) = r.unwrap();
        assert_eq!(&buf[..n], b"msg");
        assert_eq!(read_all(fds.into_iter().next().unwrap()), b"dgram");
        // a message without fds yields none
        a.send(b"plain".to_vec()).await.0.unwrap();
        let (r, _) = b.recv_with_fds(Box::new([0u8; 8]), 1).await;
        assert!(r.unwrap().1.is_empty());
    });
}

#[test]
fn fds_of_a_completed_receive_nobody_collected_are_closed() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let f = temp_file_with(b"uncollected");
        assert_eq!(fds_naming("uncollected"), 1);
        {
            let mut recv = pin!(b.recv_with_fds(Vec::with_capacity(8), 4));
            assert!(poll_once(recv.as_mut()).await.is_pending(), "the receive is in flight");
            a.send_with_fds(b"z".to_vec(), &[f.as_fd(), f.as_fd(), f.as_fd()]).await.0.unwrap();
            // wait until the kernel completed the receive (the byte left the socket) ...
            while readable_bytes(b.as_raw_fd()) > 0 {
                nop().await.unwrap();
            }
            nop().await.unwrap();
            // ... then drop the future without collecting its result
        }
        for _ in 0..3 {
            nop().await.unwrap();
        }
        assert_eq!(fds_naming("uncollected"), 1, "the three passed fds were closed by the driver");
    });
}

#[test]
fn too_many_fds_are_refused_before_sending() {
    run(async {
        let (a, _b) = UnixStream::pair().unwrap();
        let f = temp_file_with(b"");
        let many = vec![f.as_fd(); quartet::net::MAX_FDS + 1];
        let (r, _) = a.send_with_fds(b"x".to_vec(), &many).await;
        let e = r.expect_err("more than MAX_FDS");
        assert_eq!(e.as_io().map(|e| e.kind()), Some(std::io::ErrorKind::InvalidInput));
    });
}

#[test]
fn adopted_std_unix_sockets_work_on_the_ring() {
    run(async {
        let addr = unique_abstract("std");
        let std_listener = {
            use std::os::linux::net::SocketAddrExt;
            let a = std::os::unix::net::SocketAddr::from_abstract_name(addr.as_abstract_name().unwrap()).unwrap();
            std::os::unix::net::UnixListener::bind_addr(&a).unwrap()
        };
        std_listener.set_nonblocking(true).unwrap();
        let listener = UnixListener::from_std(std_listener).unwrap();
        let client = UnixStream::connect_addr(&addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.send_all(b"hi".to_vec()).await.0.unwrap();
        let (n, buf) = server.recv(Box::new([0u8; 4])).await;
        assert_eq!(&buf[..n.unwrap()], b"hi");
        let (s1, _s2) = std::os::unix::net::UnixStream::pair().unwrap();
        let s1 = UnixStream::from_std(s1).unwrap();
        assert!(s1.peer_addr().unwrap().is_unnamed());
        let dg = std::os::unix::net::UnixDatagram::unbound().unwrap();
        assert!(UnixStream::from_fd(dg.into()).is_err(), "a datagram fd is not a stream");
    });
}
