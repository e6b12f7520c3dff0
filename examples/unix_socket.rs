//! Unix domain sockets: a server on an abstract address, a client, and an fd passed between them.
//!
//! Usage: `cargo run --example unix_socket`. The server listens on the abstract name
//! `@quartet-unix-example-<pid>` (no file to clean up), the client connects and sends a request
//! together with the write end of a pipe (`SCM_RIGHTS`); the server answers on the socket and
//! also writes a note through the pipe it received. A socket pair then shows a datagram
//! exchange. The program exits 0.

use quartet::net::{UnixDatagram, UnixListener, UnixSocketAddr, UnixStream};
use quartet::{BoxError, nursery};
use std::io::Read;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::process::ExitCode;

async fn server(listener: &UnixListener) -> Result<(), BoxError> {
    let (stream, _) = listener.accept().await?;
    let (got, buf) = stream.recv_with_fds(Vec::with_capacity(256), 1).await;
    let (n, fds) = got?;
    println!("server: request {:?} with {} fd(s)", String::from_utf8_lossy(&buf[..n]), fds.len());
    if let Some(pipe) = fds.into_iter().next() {
        let mut file = std::fs::File::from(pipe);
        std::io::Write::write_all(&mut file, b"written by the server through a passed fd\n")?;
    }
    stream.send_all(b"pong".to_vec()).await.0?;
    Ok(())
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a live array of two c_ints for the kernel to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these two fds, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The self-contained demo `main` runs by default (also run by `tests/net_examples.rs`).
pub async fn demo() -> Result<(), BoxError> {
    let addr = UnixSocketAddr::from_abstract_name(format!("quartet-unix-example-{}", std::process::id()))?;
    let listener = UnixListener::bind_addr(&addr)?;
    println!("unix_socket: listening on @{}", String::from_utf8_lossy(addr.as_abstract_name().unwrap_or_default()));
    let (pipe_r, pipe_w) = pipe()?;
    nursery(async |n| {
        n.spawn_named("server", server(&listener))?;
        let client = UnixStream::connect_addr(&addr).await?;
        client.send_with_fds(b"ping".to_vec(), &[pipe_w.as_fd()]).await.0?;
        let (n_read, reply) = client.recv(Vec::with_capacity(16)).await;
        println!("client: reply {:?}", String::from_utf8_lossy(&reply[..n_read?]));
        Ok::<_, BoxError>(())
    })
    .await?;
    drop(pipe_w); // the server's copy is closed too: the pipe reaches end of file
    let mut note = String::new();
    std::fs::File::from(pipe_r).read_to_string(&mut note)?;
    print!("client: the pipe says: {note}");

    let (a, b) = UnixDatagram::pair()?;
    a.send(b"one datagram".to_vec()).await.0?;
    let (n_read, buf) = b.recv(Vec::with_capacity(64)).await;
    println!("pair: {:?}", String::from_utf8_lossy(&buf[..n_read?]));
    Ok(())
}

fn main() -> ExitCode {
    match quartet::run(demo()) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("unix_socket: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unix_socket: {e}");
            ExitCode::FAILURE
        }
    }
}
