//! Unix domain socket addresses: a filesystem path, a Linux abstract name, or unnamed.

use super::addr::RawAddr;
use std::ffi::OsStr;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Bytes available in `sun_path`.
const SUN_PATH: usize = 108;

/// The address of a Unix domain socket.
///
/// Linux has three kinds: a **pathname** (a socket file in the filesystem), an **abstract** name
/// (a name in a per-network-namespace table, no file; written with a leading `\0` in C, or `@`
/// by tools such as `ss`), and **unnamed** (an unbound socket, or one end of a socket pair).
///
/// # Examples
/// ```
/// use quartet_runtime::net::UnixSocketAddr;
/// let a = UnixSocketAddr::from_abstract_name(b"my-service").unwrap();
/// assert_eq!(a.as_abstract_name(), Some(&b"my-service"[..]));
/// let p = UnixSocketAddr::from_pathname("/run/app.sock").unwrap();
/// assert_eq!(p.as_pathname(), Some(std::path::Path::new("/run/app.sock")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnixSocketAddr(Kind);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    Unnamed,
    Pathname(Vec<u8>),
    Abstract(Vec<u8>),
}

impl UnixSocketAddr {
    /// A filesystem path address.
    ///
    /// # Errors
    /// `InvalidInput` if the path is empty, contains a NUL byte, or is longer than 107 bytes.
    pub fn from_pathname(path: impl AsRef<Path>) -> io::Result<UnixSocketAddr> {
        let bytes = path.as_ref().as_os_str().as_bytes();
        if bytes.is_empty() || bytes.contains(&0) || bytes.len() >= SUN_PATH {
            return Err(invalid("a socket path must be 1..=107 bytes without NUL"));
        }
        Ok(UnixSocketAddr(Kind::Pathname(bytes.to_vec())))
    }

    /// An abstract address (Linux): `name` without the leading NUL.
    ///
    /// # Errors
    /// `InvalidInput` if `name` is longer than 107 bytes.
    pub fn from_abstract_name(name: impl AsRef<[u8]>) -> io::Result<UnixSocketAddr> {
        let name = name.as_ref();
        if name.len() >= SUN_PATH {
            return Err(invalid("an abstract socket name must be at most 107 bytes"));
        }
        Ok(UnixSocketAddr(Kind::Abstract(name.to_vec())))
    }

    /// The path, for a pathname address.
    pub fn as_pathname(&self) -> Option<&Path> {
        match &self.0 {
            Kind::Pathname(p) => Some(Path::new(OsStr::from_bytes(p))),
            _ => None,
        }
    }

    /// The name (without the leading NUL), for an abstract address.
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        match &self.0 {
            Kind::Abstract(n) => Some(n),
            _ => None,
        }
    }

    /// True for an unbound socket's address (or a socket pair's).
    pub fn is_unnamed(&self) -> bool {
        matches!(self.0, Kind::Unnamed)
    }

    pub(crate) fn to_raw(&self) -> RawAddr {
        let mut raw = RawAddr::empty();
        let base = offset_of!(libc::sockaddr_un, sun_path);
        let (bytes, lead): (&[u8], usize) = match &self.0 {
            Kind::Unnamed => (&[], 0),
            Kind::Pathname(p) => (p, 0),
            Kind::Abstract(n) => (n, 1),
        };
        let mut un = libc::sockaddr_un { sun_family: libc::AF_UNIX as libc::sa_family_t, sun_path: [0; SUN_PATH] };
        for (dst, src) in un.sun_path[lead..].iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_un.
        unsafe { std::ptr::write((&mut raw.storage as *mut libc::sockaddr_storage).cast(), un) };
        raw.len = match &self.0 {
            Kind::Unnamed => size_of::<libc::sa_family_t>(),
            Kind::Pathname(p) => base + p.len() + 1,
            Kind::Abstract(n) => base + 1 + n.len(),
        } as libc::socklen_t;
        raw
    }

    pub(crate) fn from_raw(raw: &RawAddr) -> io::Result<UnixSocketAddr> {
        let base = offset_of!(libc::sockaddr_un, sun_path);
        let len = (raw.len as usize).min(size_of::<libc::sockaddr_un>());
        if len <= base {
            return Ok(UnixSocketAddr(Kind::Unnamed));
        }
        if i32::from(raw.storage.ss_family) != libc::AF_UNIX {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "not a Unix socket address"));
        }
        // SAFETY: the family says the storage holds a sockaddr_un; storage is large enough.
        let un: libc::sockaddr_un = unsafe { std::ptr::read((&raw.storage as *const libc::sockaddr_storage).cast()) };
        let path: Vec<u8> = un.sun_path[..len - base].iter().map(|&c| c as u8).collect();
        Ok(UnixSocketAddr(match path.first() {
            Some(0) => Kind::Abstract(path[1..].to_vec()),
            _ => Kind::Pathname(path.split(|&b| b == 0).next().unwrap_or_default().to_vec()),
        }))
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_owned())
}

/// `getsockname` for a Unix socket.
pub(crate) fn local(fd: std::os::fd::RawFd) -> io::Result<UnixSocketAddr> {
    let mut raw = RawAddr::empty();
    // SAFETY: the storage and its length are live and writable; the kernel fills at most `len`.
    super::addr::cvt(unsafe {
        libc::getsockname(fd, (&mut raw.storage as *mut libc::sockaddr_storage).cast(), &mut raw.len)
    })?;
    UnixSocketAddr::from_raw(&raw)
}

/// `getpeername` for a Unix socket.
pub(crate) fn peer(fd: std::os::fd::RawFd) -> io::Result<UnixSocketAddr> {
    let mut raw = RawAddr::empty();
    // SAFETY: as in `local`.
    super::addr::cvt(unsafe {
        libc::getpeername(fd, (&mut raw.storage as *mut libc::sockaddr_storage).cast(), &mut raw.len)
    })?;
    UnixSocketAddr::from_raw(&raw)
}

/// A connected pair of Unix sockets of type `ty` (`socketpair(2)`); the caller owns both fds.
pub(crate) fn pair(ty: libc::c_int) -> io::Result<(std::os::fd::RawFd, std::os::fd::RawFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a live array of two c_ints for the kernel to fill.
    super::addr::cvt(unsafe { libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) })?;
    Ok((fds[0], fds[1]))
}
