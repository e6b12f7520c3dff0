//! `TcpListener::incoming()` as a `Stream`, and TCP sockets adopted from std or a raw fd (as
//! systemd socket activation passes them).

use crate::nursery_support;

use futures_core::Stream;
use nursery_support::{poll_once, run};
use quartet::net::{ListenOptions, TcpListener, TcpStream};
use quartet::{CancelScope, nop};
use std::future::poll_fn;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::pin::pin;

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| std::pin::Pin::new(&mut *s).poll_next(cx)).await
}

#[test]
fn incoming_yields_each_connection() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut incoming = listener.incoming();
        let mut peers = Vec::new();
        for _ in 0..3 {
            let (stream, peer) = next(&mut incoming).await.expect("never ends").unwrap();
            assert_eq!(stream.peer_addr().unwrap(), peer);
            peers.push(peer);
        }
        let mut expected: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        expected.sort();
        peers.sort();
        assert_eq!(peers, expected, "each client was accepted once");
    });
}

#[test]
fn a_cancelled_item_takes_no_connection() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let scope = CancelScope::new();
        scope.cancel();
        let item = scope
            .run(async {
                let mut incoming = listener.incoming();
                next(&mut incoming).await.expect("never ends").map(drop)
            })
            .await;
        assert!(matches!(item, Ok(None)), "{item:?}");
        let client = TcpStream::connect(addr).await.unwrap();
        let mut incoming = listener.incoming();
        let (_, peer) = next(&mut incoming).await.unwrap().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    });
}

#[test]
fn dropping_incoming_after_the_kernel_accepted_closes_that_connection() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = {
            let mut incoming = pin!(listener.incoming());
            let pending = poll_once(pin!(poll_fn(|cx| incoming.as_mut().poll_next(cx)))).await;
            assert!(pending.is_pending(), "the accept is in flight");
            let client = TcpStream::connect(addr).await.unwrap();
            for _ in 0..5 {
                nop().await.unwrap();
            }
            client
            // `incoming` is dropped here with its accept completed but not collected
        };
        // nobody received the accepted connection: the driver closed it, the client sees EOF
        let (n, _) = client.recv(Vec::with_capacity(8)).await;
        assert_eq!(n.unwrap(), 0);
    });
}

#[test]
fn std_and_raw_fd_sockets_are_adopted() {
    run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        // as systemd would pass it: a raw listening fd
        let raw = std_listener.into_raw_fd();
        // SAFETY: `raw` came from `into_raw_fd` just above and is owned by nobody else.
        let listener = TcpListener::from_fd(unsafe { OwnedFd::from_raw_fd(raw) }).unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);
        let client = TcpStream::from_std(std::net::TcpStream::connect(addr).unwrap()).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.send_all(b"adopted".to_vec()).await.0.unwrap();
        let (n, buf) = server.recv(Vec::with_capacity(16)).await;
        assert_eq!(&buf[..n.unwrap()], b"adopted");
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let e = TcpListener::from_fd(udp.into()).expect_err("a UDP fd is not a TCP listener");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    });
}

#[test]
fn v6_only_decides_whether_an_ipv6_wildcard_listener_takes_ipv4_clients() {
    run(async {
        let any6: std::net::SocketAddr = "[::]:0".parse().unwrap();
        let Ok(only) = TcpListener::bind_with(any6, ListenOptions::default().v6_only(true)) else {
            eprintln!("skipped: no IPv6 here");
            return;
        };
        let port = only.local_addr().unwrap().port();
        let e = TcpStream::connect(([127, 0, 0, 1], port).into()).await.expect_err("IPv6 only");
        assert_eq!(e.as_io().and_then(|e| e.raw_os_error()), Some(libc::ECONNREFUSED));
        let dual = TcpListener::bind_with(any6, ListenOptions::default().v6_only(false)).unwrap();
        let port = dual.local_addr().unwrap().port();
        let client = TcpStream::connect(([127, 0, 0, 1], port).into()).await.unwrap();
        let (_, peer) = dual.accept().await.unwrap();
        assert_eq!(peer.port(), client.local_addr().unwrap().port());
    });
}
