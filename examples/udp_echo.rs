//! A UDP echo server and a client talking to it over loopback.
//!
//! Usage: `cargo run --example udp_echo` runs both: the server echoes each datagram back to its
//! sender; the client sends a few, prints the replies (one is bigger than the client's buffer, so
//! it shows truncation being reported), then cancels the server, and the program exits 0.
//! `cargo run --example udp_echo -- serve [ADDR:PORT]` runs only the server until Ctrl-C.

use quartet::net::UdpSocket;
use quartet::{BoxError, OpError, nursery};
use std::net::SocketAddr;
use std::process::ExitCode;

/// Echoes every datagram back to its sender, forever (until cancelled).
async fn echo_server(socket: &UdpSocket) -> Result<(), OpError> {
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        let (meta, b) = socket.recv_from(buf).await;
        let meta = meta?;
        let (sent, b) = socket.send_to(b, meta.addr).await;
        sent?;
        buf = b;
    }
}

async fn client(server: SocketAddr) -> Result<(), OpError> {
    let socket = UdpSocket::bind("127.0.0.1:0".parse().expect("literal address"))?;
    socket.connect(server)?;
    for msg in ["hello", "structured", "concurrency"] {
        socket.send(msg.as_bytes().to_vec()).await.0?;
        let (n, buf) = socket.recv(Vec::with_capacity(1500)).await;
        println!("client: {:?} came back", String::from_utf8_lossy(&buf[..n?]));
    }
    // A reply larger than the buffer: the kernel truncates it and recv_from says so.
    socket.send(vec![b'x'; 3000]).await.0?;
    let (meta, _) = socket.recv_from(Box::new([0u8; 100])).await;
    let meta = meta?;
    println!("client: got {} of a {}-byte datagram (truncated: {})", meta.len, meta.datagram_len, meta.truncated());
    Ok(())
}

/// The self-contained demo `main` runs by default (also run by `tests/net_examples.rs`).
pub async fn demo() -> Result<(), BoxError> {
    let server = UdpSocket::bind("127.0.0.1:0".parse()?)?;
    let addr = server.local_addr()?;
    println!("udp_echo: server on {addr}");
    let r = nursery(async |n| {
        n.spawn_named("echo server", echo_server(&server))?;
        client(addr).await?;
        n.cancel(); // the demo is over: stop the server
        Ok::<_, BoxError>(())
    })
    .await;
    match r {
        Err(e) if e.is_own_cancel() => Ok(()),
        other => other.map_err(Into::into),
    }
}

async fn serve(addr: SocketAddr) -> Result<(), BoxError> {
    let socket = UdpSocket::bind(addr)?;
    println!("udp_echo: serving on {}", socket.local_addr()?);
    echo_server(&socket).await?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let work = match args.first().map(String::as_str) {
        None => None,
        Some("serve") => match args.get(1).map_or(Ok("127.0.0.1:7879".parse().expect("literal")), |a| a.parse()) {
            Ok(addr) => Some(addr),
            Err(e) => {
                eprintln!("usage: udp_echo [serve [ADDR:PORT]] ({e})");
                return ExitCode::from(2);
            }
        },
        Some(other) => {
            eprintln!("usage: udp_echo [serve [ADDR:PORT]] (unknown argument {other:?})");
            return ExitCode::from(2);
        }
    };
    let result = match work {
        None => quartet::run(demo()),
        Some(addr) => quartet::run(serve(addr)),
    };
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("udp_echo: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("udp_echo: {e}");
            ExitCode::FAILURE
        }
    }
}
