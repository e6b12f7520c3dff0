//! Socket address conversions and socket setup syscalls (not ring ops: they never block).

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// A `sockaddr_storage` with its length. An op that gives one to the kernel keeps it in a `Stable`
/// heap block of its data (the address must not change when the op data moves).
pub(crate) struct RawAddr {
    pub storage: libc::sockaddr_storage,
    pub len: libc::socklen_t,
}

impl RawAddr {
    pub fn empty() -> RawAddr {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
        RawAddr { storage: unsafe { zeroed() }, len: size_of::<libc::sockaddr_storage>() as libc::socklen_t }
    }

    pub fn from_std(addr: &SocketAddr) -> RawAddr {
        let mut raw = RawAddr::empty();
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { std::ptr::write((&mut raw.storage as *mut libc::sockaddr_storage).cast(), sin) };
                raw.len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe { std::ptr::write((&mut raw.storage as *mut libc::sockaddr_storage).cast(), sin6) };
                raw.len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        raw
    }

    pub fn to_std(&self) -> io::Result<SocketAddr> {
        let p = &self.storage as *const libc::sockaddr_storage;
        match i32::from(self.storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let a: libc::sockaddr_in = unsafe { std::ptr::read(p.cast()) };
                let ip = Ipv4Addr::from(a.sin_addr.s_addr.to_ne_bytes());
                Ok(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(a.sin_port))))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let a: libc::sockaddr_in6 = unsafe { std::ptr::read(p.cast()) };
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                Ok(SocketAddr::V6(SocketAddrV6::new(ip, u16::from_be(a.sin6_port), a.sin6_flowinfo, a.sin6_scope_id)))
            }
            f => Err(io::Error::new(io::ErrorKind::InvalidData, format!("unsupported address family {f}"))),
        }
    }
}

pub(crate) fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r) }
}

/// A new TCP socket for `addr`'s family; the caller owns the returned fd.
pub(crate) fn tcp_socket(addr: &SocketAddr) -> io::Result<RawFd> {
    socket(family_of(addr), libc::SOCK_STREAM)
}

/// `AF_INET` or `AF_INET6`.
pub(crate) fn family_of(addr: &SocketAddr) -> libc::c_int {
    if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 }
}

/// A new close-on-exec socket; the caller owns the returned fd.
pub(crate) fn socket(family: libc::c_int, ty: libc::c_int) -> io::Result<RawFd> {
    // SAFETY: plain syscall without pointers.
    cvt(unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, 0) })
}

/// `bind(2)` to a raw address.
pub(crate) fn bind_raw(fd: RawFd, raw: &RawAddr) -> io::Result<()> {
    // SAFETY: the address storage is live and `len` is its valid length.
    cvt(unsafe { libc::bind(fd, (&raw.storage as *const libc::sockaddr_storage).cast(), raw.len) }).map(drop)
}

/// Sets a socket option whose value is any plain struct (`ip_mreq`, `ipv6_mreq`, ...).
pub(crate) fn set_opt_raw<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: passes a pointer to a live `T` and its exact size.
    cvt(unsafe { libc::setsockopt(fd, level, name, (value as *const T).cast(), size_of::<T>() as libc::socklen_t) })
        .map(drop)
}

/// Checks that `fd` is a socket of type `ty` (for adopting fds from elsewhere).
pub(crate) fn check_type(fd: RawFd, ty: libc::c_int) -> io::Result<()> {
    let got = get_opt(fd, libc::SOL_SOCKET, libc::SO_TYPE)?;
    if got == ty {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("fd {fd} is a socket of type {got}, expected {ty}")))
    }
}

pub(crate) fn set_opt(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its exact size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

pub(crate) fn get_opt(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: passes a pointer to a live c_int and its size, which the kernel may update.
    cvt(unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut libc::c_int).cast(), &mut len) })?;
    Ok(value)
}

pub(crate) fn local_addr(fd: RawFd) -> io::Result<SocketAddr> {
    let mut raw = RawAddr::empty();
    // SAFETY: the storage and its length are live and writable; the kernel fills at most `len`.
    cvt(unsafe { libc::getsockname(fd, (&mut raw.storage as *mut libc::sockaddr_storage).cast(), &mut raw.len) })?;
    raw.to_std()
}

pub(crate) fn peer_addr(fd: RawFd) -> io::Result<SocketAddr> {
    let mut raw = RawAddr::empty();
    // SAFETY: as in `local_addr`.
    cvt(unsafe { libc::getpeername(fd, (&mut raw.storage as *mut libc::sockaddr_storage).cast(), &mut raw.len) })?;
    raw.to_std()
}

/// Takes ownership of a socket made elsewhere (a std socket, an fd from systemd): checks its type
/// and clears `O_NONBLOCK`, so ring ops wait for readiness instead of failing with `EAGAIN`.
pub(crate) fn adopt(fd: std::os::fd::OwnedFd, ty: libc::c_int) -> io::Result<crate::fd::SharedFd> {
    use std::os::fd::{AsRawFd, IntoRawFd};
    let raw = fd.as_raw_fd();
    check_type(raw, ty)?;
    // SAFETY: plain fcntl calls on an fd we own.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFL) })?;
    if flags & libc::O_NONBLOCK != 0 {
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(raw, libc::F_SETFL, flags & !libc::O_NONBLOCK) })?;
    }
    Ok(crate::fd::SharedFd::new(fd.into_raw_fd()))
}
