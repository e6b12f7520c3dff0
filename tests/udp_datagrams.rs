//! UDP over loopback: datagrams with addresses, connected sockets, truncation, broadcast,
//! multicast, cancellation, and adopting std sockets.

use crate::nursery_support;

use nursery_support::run;
use quartet::net::UdpSocket;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

fn any_v4() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn send_to_and_recv_from_round_trip_with_the_senders_address() {
    run(async {
        let a = UdpSocket::bind(any_v4()).unwrap();
        let b = UdpSocket::bind(any_v4()).unwrap();
        let (r, _) = a.send_to(b"hello".to_vec(), b.local_addr().unwrap()).await;
        assert_eq!(r.unwrap(), 5);
        let (meta, buf) = b.recv_from(Vec::with_capacity(64)).await;
        let meta = meta.unwrap();
        assert_eq!(&buf[..], b"hello");
        assert_eq!((meta.len, meta.datagram_len), (5, 5));
        assert!(!meta.truncated());
        assert_eq!(meta.addr, a.local_addr().unwrap());
    });
}

#[test]
fn ipv6_datagrams_carry_v6_addresses() {
    run(async {
        let Ok(a) = UdpSocket::bind("[::1]:0".parse().unwrap()) else {
            eprintln!("skipped: no IPv6 loopback");
            return;
        };
        let b = UdpSocket::bind("[::1]:0".parse().unwrap()).unwrap();
        a.send_to(b"six".to_vec(), b.local_addr().unwrap()).await.0.unwrap();
        let (meta, buf) = b.recv_from(Box::new([0u8; 16])).await;
        let meta = meta.unwrap();
        assert_eq!(&buf[..meta.len], b"six");
        assert_eq!(meta.addr, a.local_addr().unwrap());
        assert!(meta.addr.is_ipv6());
    });
}

#[test]
fn recv_from_into_a_small_buffer_reports_the_real_length() {
    run(async {
        let a = UdpSocket::bind(any_v4()).unwrap();
        let b = UdpSocket::bind(any_v4()).unwrap();
        let big: Vec<u8> = (0..100u8).collect();
        a.send_to(big.clone(), b.local_addr().unwrap()).await.0.unwrap();
        let (meta, buf) = b.recv_from(Box::new([0u8; 10])).await;
        let meta = meta.unwrap();
        assert_eq!(meta.len, 10, "only the room in the buffer is stored");
        assert_eq!(meta.datagram_len, 100, "the real datagram length is reported");
        assert!(meta.truncated());
        assert_eq!(&buf[..], &big[..10]);
        // the rest of that datagram is gone: the next one arrives whole
        a.send_to(b"next".to_vec(), b.local_addr().unwrap()).await.0.unwrap();
        let (meta, buf) = b.recv_from(Vec::with_capacity(64)).await;
        assert_eq!(meta.unwrap().len, 4);
        assert_eq!(&buf[..], b"next");
    });
}

#[test]
fn connected_sockets_send_and_recv_without_addresses() {
    run(async {
        let a = UdpSocket::bind(any_v4()).unwrap();
        let b = UdpSocket::bind(any_v4()).unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        assert_eq!(a.send(b"one".to_vec()).await.0.unwrap(), 3);
        let (n, buf) = b.recv(Vec::with_capacity(16)).await;
        assert_eq!((n.unwrap(), &buf[..]), (3, &b"one"[..]));
        b.send(b"two".to_vec()).await.0.unwrap();
        let (n, buf) = a.recv(Box::new([0u8; 8])).await;
        assert_eq!(&buf[..n.unwrap()], b"two");
    });
}

#[test]
fn broadcast_needs_so_broadcast() {
    run(async {
        let rx = UdpSocket::bind("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = rx.local_addr().unwrap().port();
        let tx = UdpSocket::bind(any_v4()).unwrap();
        let bcast = SocketAddr::from((Ipv4Addr::new(127, 255, 255, 255), port));
        assert!(!tx.broadcast().unwrap());
        let (r, _) = tx.send_to(b"x".to_vec(), bcast).await;
        let e = r.expect_err("a broadcast send without SO_BROADCAST is refused");
        assert_eq!(e.as_io().and_then(|e| e.raw_os_error()), Some(libc::EACCES));
        tx.set_broadcast(true).unwrap();
        assert!(tx.broadcast().unwrap());
        tx.send_to(b"all".to_vec(), bcast).await.0.unwrap();
        let (meta, buf) = rx.recv_from(Vec::with_capacity(16)).await;
        assert_eq!(meta.unwrap().addr, tx.local_addr().unwrap());
        assert_eq!(&buf[..], b"all");
    });
}

#[test]
fn multicast_options_round_trip() {
    run(async {
        let s = UdpSocket::bind(any_v4()).unwrap();
        s.set_multicast_loop_v4(false).unwrap();
        assert!(!s.multicast_loop_v4().unwrap());
        s.set_multicast_loop_v4(true).unwrap();
        assert!(s.multicast_loop_v4().unwrap());
        s.set_multicast_ttl_v4(7).unwrap();
        assert_eq!(s.multicast_ttl_v4().unwrap(), 7);
        s.set_ttl(42).unwrap();
        assert_eq!(s.ttl().unwrap(), 42);
        if let Ok(s6) = UdpSocket::bind("[::1]:0".parse().unwrap()) {
            s6.set_multicast_loop_v6(false).unwrap();
            assert!(!s6.multicast_loop_v6().unwrap());
        }
    });
}

#[test]
fn multicast_v4_group_members_receive_looped_datagrams() {
    run(async {
        let group = Ipv4Addr::new(239, 255, 43, 21);
        let rx = UdpSocket::bind("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = rx.local_addr().unwrap().port();
        if let Err(e) = rx.join_multicast_v4(group, Ipv4Addr::LOCALHOST) {
            eprintln!("skipped: cannot join a multicast group on loopback here: {e}");
            return;
        }
        let tx = UdpSocket::bind(any_v4()).unwrap();
        tx.set_multicast_if_v4(Ipv4Addr::LOCALHOST).unwrap();
        tx.set_multicast_loop_v4(true).unwrap();
        let (r, _) = tx.send_to(b"group".to_vec(), SocketAddr::from((group, port))).await;
        if let Err(e) = r {
            eprintln!("skipped: multicast send on loopback refused here: {e}");
            return;
        }
        let got = quartet::move_on_after(Duration::from_secs(2), async {
            let (meta, buf) = rx.recv_from(Vec::with_capacity(16)).await;
            meta.map(|m| (m.addr, buf))
        })
        .await
        .unwrap();
        let Some((from, buf)) = got else {
            eprintln!("skipped: this host does not loop multicast back over lo");
            return;
        };
        assert_eq!(&buf[..], b"group");
        assert_eq!(from, tx.local_addr().unwrap());
        rx.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).unwrap();
        let e = rx.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).expect_err("left twice");
        assert_eq!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL));
    });
}

#[test]
fn cancelled_recv_from_consumes_no_datagram() {
    run(async {
        let a = UdpSocket::bind(any_v4()).unwrap();
        let b = UdpSocket::bind(any_v4()).unwrap();
        let r = quartet::move_on_after(Duration::from_millis(20), async {
            let (r, _) = b.recv_from(Vec::with_capacity(16)).await;
            r.map(drop)
        })
        .await;
        assert!(matches!(r, Ok(None)), "the recv was cancelled by the deadline: {r:?}");
        a.send_to(b"kept".to_vec(), b.local_addr().unwrap()).await.0.unwrap();
        let (meta, buf) = b.recv_from(Vec::with_capacity(16)).await;
        meta.unwrap();
        assert_eq!(&buf[..], b"kept", "the datagram after the cancel is received intact");
    });
}

#[test]
fn adopted_std_socket_works_on_the_ring() {
    run(async {
        let std_sock = std::net::UdpSocket::bind(any_v4()).unwrap();
        std_sock.set_nonblocking(true).unwrap();
        let addr = std_sock.local_addr().unwrap();
        let s = UdpSocket::from_std(std_sock).unwrap();
        assert_eq!(s.local_addr().unwrap(), addr);
        let peer = UdpSocket::bind(any_v4()).unwrap();
        peer.send_to(b"adopted".to_vec(), addr).await.0.unwrap();
        let (meta, buf) = s.recv_from(Vec::with_capacity(16)).await;
        assert_eq!(meta.unwrap().len, 7);
        assert_eq!(&buf[..], b"adopted");
        let tcp = std::net::TcpListener::bind(any_v4()).unwrap();
        let e = UdpSocket::from_fd(tcp.into()).expect_err("a TCP fd is not a datagram socket");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    });
}
