//! More probes ported from Trio's tests (`_core/_tests/test_run.py`, `test_sync.py`,
//! `test_channel.py`, `test_timeouts.py`) and hostile use of the public API: scopes nested in
//! themselves, futures polled after they finished, extreme capacities and durations.

use quartet::io::{BufReader, BufWriter, Compat, WriteExt};
use quartet::net::{TcpListener, TcpStream};
use quartet::{OpError, run};
use std::io;

/// Two connected loopback TCP streams.
async fn tcp_pair() -> Result<(TcpStream, TcpStream), OpError> {
    let listener = TcpListener::bind("127.0.0.1:0".parse().expect("addr"))?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    Ok((client, server))
}

/// `with_capacity(usize::MAX)` neither panics nor aborts: the buffer is allocated at the first
/// use, and a capacity that cannot be allocated is an `OutOfMemory` error there. The streams keep
/// working through a reader made with a sane capacity afterwards.
#[test]
fn buffered_io_with_capacity_usize_max_is_an_error_at_first_use_not_a_panic() {
    run(async {
        let (a, b) = tcp_pair().await?;
        a.write_all(b"hello\n").await.0.unwrap();
        let mut reader = BufReader::with_capacity(usize::MAX, &b);
        let err = reader.fill_buf().await.unwrap_err();
        assert!(matches!(&err, OpError::Io(e) if e.kind() == io::ErrorKind::OutOfMemory), "{err:?}");
        let mut writer = BufWriter::with_capacity(usize::MAX, &a);
        let err = writer.write_all(b"x").await.unwrap_err();
        assert!(matches!(&err, OpError::Io(e) if e.kind() == io::ErrorKind::OutOfMemory), "{err:?}");
        assert!(writer.buffer().is_empty(), "nothing was buffered by the failed write");
        let mut line = String::new();
        BufReader::new(&b).read_line(&mut line).await.unwrap();
        assert_eq!(line, "hello\n", "the failed reads consumed nothing");

        let (c, d) = tcp_pair().await?;
        let mut compat = Compat::with_capacity(usize::MAX, c);
        let err = compat.fill_buf().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{err:?}");
        drop(d);
        Ok::<_, OpError>(())
    })
    .unwrap()
    .unwrap();
}
