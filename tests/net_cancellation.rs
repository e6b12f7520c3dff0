//! "Cancelled ⇒ nothing happened" for the message ops: a `recv_from` / `recv_with_fds` cancelled
//! while in the kernel consumed no datagram and installed no fd; one whose datagram arrived before
//! the cancel returns it. Every datagram (and every passed fd) is received exactly once, whatever
//! the order of cancel and send, and no fd leaks.

mod nursery_support;

use nursery_support::run;
use quartet::net::{UdpSocket, UnixDatagram};
use quartet::{BoxError, CancelScope, Cancelled, OpError, nop, nursery, yield_now};
use std::cell::RefCell;
use std::os::fd::{AsFd, AsRawFd, RawFd};

const DELAYS: usize = 4;

/// Bytes waiting in a socket's receive queue, without consuming them.
fn pending_datagram(fd: RawFd) -> bool {
    let mut b = [0u8; 1];
    // SAFETY: a non-blocking peek into a live one-byte buffer.
    let n = unsafe { libc::recv(fd, b.as_mut_ptr().cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
    n >= 0
}

fn fds_naming(needle: &str) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|p| p.to_string_lossy().contains(needle))
        .count()
}

#[derive(Default, Debug)]
struct Seen {
    ok: usize,
    cancelled: usize,
}

#[test]
fn udp_recv_from_cancelled_in_the_kernel_loses_no_datagram() {
    let mut seen = Seen::default();
    for delay in 0..DELAYS {
        for cancel_first in [true, false] {
            let got = RefCell::new(None::<Result<Vec<u8>, ()>>);
            run(async {
                let rx = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
                let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
                let to = rx.local_addr().unwrap();
                let scope = CancelScope::new();
                let handle = scope.handle();
                nursery(async |n| {
                    n.spawn(async {
                        let r = scope
                            .run(async {
                                let (meta, buf) = rx.recv_from(Vec::with_capacity(64)).await;
                                meta.map(|_| buf)
                            })
                            .await;
                        *got.borrow_mut() = Some(match r {
                            Ok(Some(buf)) => Ok(buf),
                            Ok(None) => Err(()),
                            Err(e) => panic!("delay {delay}: unexpected {e:?}"),
                        });
                        Ok::<_, OpError>(())
                    })?;
                    n.spawn(async {
                        for _ in 0..delay {
                            yield_now().await;
                        }
                        if cancel_first {
                            handle.cancel();
                            // let the receiver's ASYNC_CANCEL reach the kernel before sending
                            for _ in 0..3 {
                                nop().await?;
                            }
                        }
                        tx.send_to(b"once".to_vec(), to).await.0?;
                        if !cancel_first {
                            handle.cancel();
                        }
                        Ok::<_, OpError>(())
                    })?;
                    Ok::<_, BoxError>(())
                })
                .await
                .unwrap();
                match got.take().expect("the receiver ran") {
                    Ok(buf) => {
                        assert_eq!(buf, b"once");
                        assert!(!pending_datagram(rx.as_raw_fd()), "received once, not twice");
                        seen.ok += 1;
                    }
                    Err(()) => {
                        let (meta, buf) = rx.recv_from(Vec::with_capacity(64)).await;
                        meta.unwrap();
                        assert_eq!(buf, b"once", "delay {delay}: the cancelled recv_from consumed nothing");
                        seen.cancelled += 1;
                    }
                }
            });
        }
    }
    assert!(seen.ok > 0 && seen.cancelled > 0, "both outcomes happened: {seen:?}");
}

#[test]
fn fd_passing_receive_cancelled_in_the_kernel_installs_no_fd() {
    let tag = format!("quartet-cancel-fdpass-{}", std::process::id());
    let path = std::env::temp_dir().join(&tag);
    let file = std::fs::File::create(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut seen = Seen::default();
    for delay in 0..DELAYS {
        for cancel_first in [true, false] {
            run(async {
                let (a, b) = UnixDatagram::pair().unwrap();
                let got = RefCell::new(None);
                let scope = CancelScope::new();
                let handle = scope.handle();
                nursery(async |n| {
                    n.spawn(async {
                        let r = scope
                            .run(async {
                                let (r, _) = b.recv_with_fds(Vec::with_capacity(8), 4).await;
                                r.map(|(_, fds)| fds.len())
                            })
                            .await;
                        *got.borrow_mut() = Some(r);
                        Ok::<_, Cancelled>(())
                    })?;
                    n.spawn(async {
                        for _ in 0..delay {
                            yield_now().await;
                        }
                        if cancel_first {
                            handle.cancel();
                            // let the receiver's ASYNC_CANCEL reach the kernel before sending
                            for _ in 0..3 {
                                nop().await?;
                            }
                        }
                        a.send_with_fds(b"f".to_vec(), &[file.as_fd(), file.as_fd()]).await.0?;
                        if !cancel_first {
                            handle.cancel();
                        }
                        Ok::<_, OpError>(())
                    })?;
                    Ok::<_, BoxError>(())
                })
                .await
                .unwrap();
                match got.take().expect("the receiver ran") {
                    Ok(Some(n)) => {
                        assert_eq!(n, 2, "both fds arrived with the message");
                        seen.ok += 1;
                    }
                    Ok(None) => {
                        assert_eq!(fds_naming(&tag), 1, "delay {delay}: a cancelled receive installed no fd");
                        let (r, _) = b.recv_with_fds(Vec::with_capacity(8), 4).await;
                        assert_eq!(r.unwrap().1.len(), 2, "the message and its fds were still queued");
                        seen.cancelled += 1;
                    }
                    Err(e) => panic!("delay {delay}: unexpected {e:?}"),
                }
            });
            assert_eq!(fds_naming(&tag), 1, "every received fd was closed (only the original is left)");
        }
    }
    assert!(seen.ok > 0 && seen.cancelled > 0, "both outcomes happened: {seen:?}");
}
