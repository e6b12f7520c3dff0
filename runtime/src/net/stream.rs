//! The byte-stream operations TCP and Unix stream sockets share: `recv`, `send`, `send_all`,
//! `shutdown`, written once over a [`SharedFd`].

use super::{ops, recv_hint};
use crate::buf::{IoBuf, IoBufMut, read_region};
use crate::error::OpError;
use crate::fd::SharedFd;
use crate::op::Op;
use crate::write_all::write_all;
use std::net::Shutdown;

pub(crate) async fn recv<B: IoBufMut>(fd: &SharedFd, mut buf: B) -> (Result<usize, OpError>, B) {
    let (off, len) = match read_region(&mut buf) {
        Ok(r) => r,
        Err(e) => return (Err(e.into()), buf),
    };
    let issued = recv_hint::issued(fd);
    let (res, mut data) = Op::new(ops::Recv::new(fd.clone(), buf, off, len)).await;
    let res = res.map(|n| {
        // SAFETY: the kernel wrote `n <= len` bytes at `off`, after `off` initialised ones.
        unsafe { data.buf.set_init(off + n as usize) };
        recv_hint::completed(fd, issued, data.at, n as usize, ops::clamp(len) as usize);
        n as usize
    });
    (res, data.buf)
}

pub(crate) async fn send<B: IoBuf>(fd: &SharedFd, buf: B) -> (Result<usize, OpError>, B) {
    let (res, data) = Op::new(ops::Send { fd: fd.clone(), buf, offset: 0 }).await;
    (res.map(|n| n as usize), data.buf)
}

pub(crate) async fn send_all<B: IoBuf>(fd: &SharedFd, buf: B) -> (Result<(), OpError>, B) {
    write_all(ops::Send { fd: fd.clone(), buf, offset: 0 }, "send_all").await
}

pub(crate) async fn shutdown(fd: &SharedFd, how: Shutdown) -> Result<(), OpError> {
    let how = match how {
        Shutdown::Read => libc::SHUT_RD,
        Shutdown::Write => libc::SHUT_WR,
        Shutdown::Both => libc::SHUT_RDWR,
    };
    Op::new(ops::Shutdown { fd: fd.clone(), how }).await.0.map(drop)
}
