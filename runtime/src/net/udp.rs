//! UDP sockets on the ring.
//!
//! Datagrams go through `sendmsg`/`recvmsg` ops whose `msghdr`, `iovec` and address live in a
//! heap block of the op data (see `msg.rs`); connected sockets use plain `send`/`recv`. Socket options
//! (broadcast, multicast membership, TTLs) are synchronous `setsockopt` calls: they never block.

use super::addr::{self, RawAddr, cvt, get_opt, set_opt, set_opt_raw};
use super::msg::{self, RecvMeta};
use super::ops;
use crate::buf::{IoBuf, IoBufMut, read_region};
use crate::error::OpError;
use crate::fd::SharedFd;
use crate::op::Op;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// A UDP socket.
///
/// Buffers are owned: each call takes the buffer and gives it back with the result.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::net::UdpSocket;
/// # quartet_runtime::run(async {
/// let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
/// let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
/// let (r, _) = a.send_to(b"ping".to_vec(), b.local_addr()?).await;
/// r?;
/// let (meta, buf) = b.recv_from(Vec::with_capacity(1500)).await;
/// let meta = meta?;
/// assert_eq!(&buf[..meta.len], b"ping");
/// assert_eq!(meta.addr, a.local_addr()?);
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    fd: SharedFd,
}

impl UdpSocket {
    /// Binds a new socket to `addr` (port 0 picks a free port).
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        let fd = SharedFd::new(addr::socket(addr::family_of(&addr), libc::SOCK_DGRAM)?);
        addr::bind_raw(fd.raw(), &RawAddr::from_std(&addr))?;
        Ok(UdpSocket { fd })
    }

    /// Adopts a std socket (its mode is switched to blocking, which ring ops expect).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Self::from_fd(socket.into())
    }

    /// Adopts a datagram socket fd made elsewhere (e.g. passed by systemd socket activation).
    ///
    /// # Errors
    /// `InvalidInput` if `fd` is not a datagram socket.
    pub fn from_fd(fd: OwnedFd) -> io::Result<UdpSocket> {
        Ok(UdpSocket { fd: addr::adopt(fd, libc::SOCK_DGRAM)? })
    }

    /// Sets the default peer: `send`/`recv` then talk to it, and datagrams from other addresses
    /// are dropped by the kernel. Never blocks, so it is not async.
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        let raw = RawAddr::from_std(&addr);
        // SAFETY: the address storage is live and `len` is its valid length.
        cvt(unsafe { libc::connect(self.fd.raw(), (&raw.storage as *const libc::sockaddr_storage).cast(), raw.len) })
            .map(drop)
    }

    /// Sends `buf` as one datagram to `addr`; returns the bytes sent.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, the datagram was not sent.
    pub fn send_to<B: IoBuf>(
        &self,
        buf: B,
        addr: SocketAddr,
    ) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move {
            msg::send_msg(&self.fd, buf, Some(RawAddr::from_std(&addr)), Vec::new()).await
        })
    }

    /// Receives one datagram into `buf` (a `Vec` fills its spare capacity, a fixed buffer from
    /// the start) and reports its sender.
    ///
    /// A datagram longer than the room in `buf` is truncated by the kernel (the rest is lost):
    /// the result says so, with [`RecvMeta::datagram_len`] the real length and
    /// [`RecvMeta::truncated`] true; `len` is what was stored.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no datagram was consumed; a datagram that arrived
    /// as the cancel raced it is returned as a normal result.
    pub fn recv_from<B: IoBufMut>(
        &self,
        buf: B,
    ) -> impl std::future::Future<Output = (Result<RecvMeta<SocketAddr>, OpError>, B)> {
        crate::fused::once_pending(async move {
            let (res, buf) = msg::recv_msg(&self.fd, buf, 0, true).await;
            let res = res.and_then(|r| {
                let addr = r.addr.to_std()?;
                Ok(RecvMeta { len: r.stored, datagram_len: r.full, addr })
            });
            (res, buf)
        })
    }

    /// Sends `buf` as one datagram to the connected peer.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, the datagram was not sent.
    pub fn send<B: IoBuf>(&self, buf: B) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move {
            let (res, data) = Op::new(ops::Send { fd: self.fd.clone(), buf, offset: 0 }).await;
            (res.map(|n| n as usize), data.buf)
        })
    }

    /// Receives one datagram from the connected peer; returns the bytes stored. A datagram longer
    /// than the room in `buf` is silently truncated, as with `recv(2)`; use [`recv_from`] to
    /// detect that.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no datagram was consumed.
    ///
    /// [`recv_from`]: UdpSocket::recv_from
    pub fn recv<B: IoBufMut>(&self, mut buf: B) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move {
            let (off, len) = match read_region(&mut buf) {
                Ok(r) => r,
                Err(e) => return (Err(e.into()), buf),
            };
            let (res, mut data) = Op::new(ops::Recv::new(self.fd.clone(), buf, off, len)).await;
            let res = res.map(|n| {
                // SAFETY: the kernel wrote `n <= len` bytes at `off`, after `off` initialised ones.
                unsafe { data.buf.set_init(off + n as usize) };
                n as usize
            });
            (res, data.buf)
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::local_addr(self.fd.raw())
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::peer_addr(self.fd.raw())
    }

    /// Sets `SO_BROADCAST`: without it, sending to a broadcast address fails with `EACCES`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        set_opt(self.fd.raw(), libc::SOL_SOCKET, libc::SO_BROADCAST, i32::from(on))
    }

    /// Reads `SO_BROADCAST`.
    pub fn broadcast(&self) -> io::Result<bool> {
        get_opt(self.fd.raw(), libc::SOL_SOCKET, libc::SO_BROADCAST).map(|v| v != 0)
    }

    /// Joins the IPv4 multicast group `group` on the interface with address `interface`
    /// (`UNSPECIFIED` lets the kernel choose).
    pub fn join_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        set_opt_raw(self.fd.raw(), libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq_v4(group, interface))
    }

    /// Leaves an IPv4 multicast group joined with [`join_multicast_v4`](Self::join_multicast_v4).
    pub fn leave_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        set_opt_raw(self.fd.raw(), libc::IPPROTO_IP, libc::IP_DROP_MEMBERSHIP, &mreq_v4(group, interface))
    }

    /// Joins the IPv6 multicast group `group` on interface index `interface` (0: any).
    pub fn join_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> io::Result<()> {
        set_opt_raw(self.fd.raw(), libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, &mreq_v6(group, interface))
    }

    /// Leaves an IPv6 multicast group joined with [`join_multicast_v6`](Self::join_multicast_v6).
    pub fn leave_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> io::Result<()> {
        set_opt_raw(self.fd.raw(), libc::IPPROTO_IPV6, libc::IPV6_DROP_MEMBERSHIP, &mreq_v6(group, interface))
    }

    /// Sets the interface outgoing IPv4 multicast uses, by its address.
    pub fn set_multicast_if_v4(&self, interface: Ipv4Addr) -> io::Result<()> {
        let addr = libc::in_addr { s_addr: u32::from_ne_bytes(interface.octets()) };
        set_opt_raw(self.fd.raw(), libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &addr)
    }

    /// Sets `IP_MULTICAST_LOOP`: whether this host's own IPv4 multicast is delivered back to it.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        set_opt(self.fd.raw(), libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, i32::from(on))
    }

    /// Reads `IP_MULTICAST_LOOP`.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        get_opt(self.fd.raw(), libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP).map(|v| v != 0)
    }

    /// Sets `IP_MULTICAST_TTL` (1 keeps multicast on the local network).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        set_opt(self.fd.raw(), libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, ttl.min(255) as i32)
    }

    /// Reads `IP_MULTICAST_TTL`.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        get_opt(self.fd.raw(), libc::IPPROTO_IP, libc::IP_MULTICAST_TTL).map(|v| v as u32)
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        set_opt(self.fd.raw(), libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, i32::from(on))
    }

    /// Reads `IPV6_MULTICAST_LOOP`.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        get_opt(self.fd.raw(), libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP).map(|v| v != 0)
    }

    /// Sets the unicast `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        set_opt(self.fd.raw(), libc::IPPROTO_IP, libc::IP_TTL, ttl.min(255) as i32)
    }

    /// Reads the unicast `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        get_opt(self.fd.raw(), libc::IPPROTO_IP, libc::IP_TTL).map(|v| v as u32)
    }

    /// Closes the socket, unblocking pending operations first. Not a cancellation point.
    pub fn close(self) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move { self.fd.close().await })
    }
}

fn mreq_v4(group: Ipv4Addr, interface: Ipv4Addr) -> libc::ip_mreq {
    libc::ip_mreq {
        imr_multiaddr: libc::in_addr { s_addr: u32::from_ne_bytes(group.octets()) },
        imr_interface: libc::in_addr { s_addr: u32::from_ne_bytes(interface.octets()) },
    }
}

fn mreq_v6(group: Ipv6Addr, interface: u32) -> libc::ipv6_mreq {
    libc::ipv6_mreq { ipv6mr_multiaddr: libc::in6_addr { s6_addr: group.octets() }, ipv6mr_interface: interface }
}

super::unix::fd_traits!(UdpSocket);
