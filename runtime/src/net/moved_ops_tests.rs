//! The `OpData` contract for the socket ops whose kernel-written parts would otherwise be inline:
//! each op is submitted, moved before the kernel sees its SQE, and must still find everything the
//! kernel wrote (the accepted peer's address, a datagram's sender) in the moved data. (A kernel
//! *read* of a moved-from place, as connect's would be, is not reliably visible: the old bytes
//! usually survive; that test only checks the op works from moved data.)

use super::addr::RawAddr;
use super::msg::RecvMsg;
use super::ops::{Accept, Connect};
use crate::fd::SharedFd;
use crate::op::submit_then_move;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::IntoRawFd;

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn accept_moved_after_submission_has_the_peer_address() {
    let listener = TcpListener::bind(localhost()).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap(); // waits in the backlog
    let fd = SharedFd::new(listener.into_raw_fd());
    let (res, data) = crate::run(submit_then_move(Accept::new(fd))).unwrap();
    drop(SharedFd::new(res.expect("accepted") as i32));
    assert_eq!(data.addr.to_std().expect("the kernel wrote the moved data's address"), client.local_addr().unwrap());
}

#[test]
fn connect_moved_after_submission_reaches_its_address() {
    let listener = TcpListener::bind(localhost()).unwrap();
    let to = listener.local_addr().unwrap();
    let fd = SharedFd::new(super::addr::tcp_socket(&to).unwrap());
    let (res, data) = crate::run(submit_then_move(Connect::new(fd, RawAddr::from_std(&to)))).unwrap();
    res.expect("connected");
    assert_eq!(super::addr::peer_addr(data.fd.raw()).unwrap(), to);
    drop(listener.accept().unwrap());
}

#[test]
fn recvmsg_moved_after_submission_has_the_sender_and_the_bytes() {
    let a = UdpSocket::bind(localhost()).unwrap();
    let b = UdpSocket::bind(localhost()).unwrap();
    a.send_to(b"moved datagram", b.local_addr().unwrap()).unwrap(); // queued before the recvmsg
    let fd = SharedFd::new(b.into_raw_fd());
    let (res, mut data) =
        crate::run(submit_then_move(RecvMsg::new(fd, Vec::with_capacity(64), 0, 64, 0, true))).unwrap();
    let n = res.expect("received") as usize;
    // SAFETY: the kernel wrote `n <= 64` bytes at offset 0.
    unsafe { crate::IoBufMut::set_init(&mut data.buf, n) };
    assert_eq!(&data.buf[..], b"moved datagram");
    assert_eq!(data.take_addr().to_std().expect("the kernel wrote the moved data's msg_name"), a.local_addr().unwrap());
}
