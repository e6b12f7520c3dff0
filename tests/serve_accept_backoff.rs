//! `serve_listeners` under fd exhaustion (H9): `accept` fails with `EMFILE`, the server reports
//! it and backs off instead of dying or spinning, and serves again once fds are free.
//!
//! This binary holds this one test only: it lowers `RLIMIT_NOFILE` and fills the fd table for
//! its whole process, which would break any test running beside it.

mod nursery_support;

use nursery_support::run;
use quartet::net::{Serve, ServeEvent, TcpListener, TcpStream};
use quartet::{BoxError, Instant, nursery, sleep};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::os::fd::FromRawFd;
use std::time::Duration;

fn set_nofile_soft(limit: u64) -> libc::rlimit {
    let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with pointers to live rlimit structs.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut old), 0);
        let new = libc::rlimit { rlim_cur: limit, rlim_max: old.rlim_max };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &new), 0);
    }
    old
}

/// A client socket made now (while fds are available) and connected later.
fn raw_client_socket() -> i32 {
    // SAFETY: plain syscall.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    fd
}

fn blocking_connect(fd: i32, addr: SocketAddr) {
    let SocketAddr::V4(a) = addr else { unreachable!() };
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a live sockaddr_in and its size is passed. A loopback connect completes
    // in the kernel's backlog at once, so this blocks only briefly.
    let r =
        unsafe { libc::connect(fd, (&sin as *const libc::sockaddr_in).cast(), size_of::<libc::sockaddr_in>() as u32) };
    assert_eq!(r, 0, "connect: {}", std::io::Error::last_os_error());
}

#[test]
fn accept_under_emfile_reports_backs_off_and_recovers() {
    run(async {
        let backoff = Duration::from_millis(50);
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let backoffs = RefCell::new(Vec::<(Instant, Option<i32>)>::new());
        let r = nursery(async |n| {
            n.start(|st| {
                Serve::new()
                    .started(st)
                    .accept_backoff(backoff)
                    .report(|e: &ServeEvent<'_>| {
                        if let ServeEvent::AcceptBackoff { error, .. } = e {
                            backoffs.borrow_mut().push((Instant::now(), error.raw_os_error()));
                        }
                    })
                    .listeners(vec![listener], async |s: TcpStream| {
                        let (n, buf) = s.recv(Vec::with_capacity(64)).await;
                        n?;
                        s.send_all(buf).await.0
                    })
            })
            .await?;
            let client_fd = raw_client_socket();
            // Fill the fd table under a low limit.
            let highest = std::fs::read_dir("/proc/self/fd")?
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
                .max()
                .unwrap_or(64);
            let old = set_nofile_soft(highest + 32);
            let mut fillers = Vec::new();
            loop {
                match std::fs::File::open("/dev/null") {
                    Ok(f) => fillers.push(f),
                    Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
                    Err(e) => return Err(e.into()),
                }
            }
            blocking_connect(client_fd, addr);
            // The server's accept now fails with EMFILE: wait for three reports (hang guard 5 s).
            let waited = Instant::now();
            while backoffs.borrow().len() < 3 {
                assert!(waited.elapsed() < Duration::from_secs(5), "no EMFILE reports: {:?}", backoffs.borrow());
                sleep(Duration::from_millis(10)).await?;
            }
            drop(fillers);
            set_nofile_soft(old.rlim_cur);
            {
                let b = backoffs.borrow();
                assert!(b.iter().all(|(_, errno)| *errno == Some(libc::EMFILE)), "{:?}", &b[..3]);
                // Backing off, not spinning: reports are at least one backoff apart (a sleep never
                // ends early), so three of them span at least two backoffs.
                let (first, third) = (b[0].0, b[2].0);
                assert!(
                    third - first >= backoff * 2 - Duration::from_millis(1),
                    "{} reports within {:?}",
                    b.len(),
                    third - first
                );
            }
            // Fds are free again: the queued connection is accepted and served.
            // SAFETY: `client_fd` is a connected socket this test made and owns.
            let client = TcpStream::from_std(unsafe { std::net::TcpStream::from_raw_fd(client_fd) })?;
            client.send_all(b"back".to_vec()).await.0?;
            let (got, buf) = client.recv(Vec::with_capacity(8)).await;
            got?;
            assert_eq!(&buf[..], b"back");
            n.cancel();
            Ok::<_, BoxError>(())
        })
        .await;
        assert!(r.as_ref().map_or_else(|e| e.is_own_cancel(), |()| true), "{r:?}");
    });
}
