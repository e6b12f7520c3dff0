//! TK3: loopback I/O between tasks of the same test is always seen before the mock clock jumps.
//!
//! Every round trip below runs under a 1-second (virtual) timeout while nothing else is pending
//! but that deadline: a jump taken while a loopback completion was still on its way would fire
//! the timeout at once. The settle wait is turned off, so the guarantee rests on the three empty
//! submit-and-reap passes alone (the loopback data is delivered inside the sending
//! `io_uring_enter`, and its receive's completion is posted by the task work the next pass runs).

use quartet::net::{TcpListener, TcpStream, UdpSocket};
use quartet::testing::elapsed;
use quartet::{BoxError, Builder, fail_after, nursery};
use std::time::Duration;

fn mock_no_settle() -> Builder {
    Builder::new().mock_clock(true).autojump_settle(Duration::ZERO)
}

#[test]
fn tcp_ping_pong_never_times_out_and_takes_no_virtual_time() {
    let took = mock_no_settle()
        .run(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let addr = listener.local_addr()?;
            nursery(async |n| {
                let listener = &listener;
                n.spawn(async move {
                    let (s, _) = listener.accept().await?;
                    loop {
                        let (r, buf) = s.recv(Vec::with_capacity(8)).await;
                        if r? == 0 {
                            return Ok::<_, BoxError>(());
                        }
                        s.send_all(buf).await.0?;
                    }
                })?;
                let c = TcpStream::connect(addr).await?;
                for i in 0..2000u32 {
                    fail_after(Duration::from_secs(1), async {
                        c.send_all(i.to_le_bytes().to_vec()).await.0?;
                        let (r, buf) = c.recv(Vec::with_capacity(8)).await;
                        r?;
                        assert_eq!(buf, i.to_le_bytes());
                        Ok::<_, BoxError>(())
                    })
                    .await?;
                }
                c.close().await?;
                Ok::<_, BoxError>(())
            })
            .await?;
            Ok::<_, BoxError>(elapsed()?)
        })
        .unwrap()
        .unwrap();
    assert_eq!(took, Duration::ZERO, "no timer was ever due, so the clock never moved");
}

#[test]
fn udp_ping_pong_never_times_out() {
    let took = mock_no_settle()
        .run(async {
            let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
            let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
            let (a_addr, b_addr) = (a.local_addr()?, b.local_addr()?);
            for i in 0..1000u32 {
                fail_after(Duration::from_secs(1), async {
                    a.send_to(i.to_le_bytes().to_vec(), b_addr).await.0?;
                    let (r, buf) = b.recv_from(Vec::with_capacity(8)).await;
                    let meta = r?;
                    assert_eq!((buf.as_slice(), meta.addr), (&i.to_le_bytes()[..], a_addr));
                    Ok::<_, BoxError>(())
                })
                .await?;
            }
            Ok::<_, BoxError>(elapsed()?)
        })
        .unwrap()
        .unwrap();
    assert_eq!(took, Duration::ZERO);
}
