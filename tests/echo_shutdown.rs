//! The echo example's graceful shutdown, driven by real signals: the first SIGTERM stops
//! accepting and lets connections finish (idle ones close at once); a second one cancels what is
//! left. Either way the server exits 0 after every connection task has unwound.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The example binary that `cargo test` builds next to the test binaries.
fn echo_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().and_then(|d| d.parent()).expect("target dir").join("examples").join("echo")
}

struct Server {
    child: Child,
    addr: String,
    stdout: BufReader<std::process::ChildStdout>,
}

fn start() -> Server {
    let mut child = Command::new(echo_binary())
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run examples/echo (built by cargo test)");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("listening line");
    let addr = line.trim().strip_prefix("echo: listening on ").expect("listening line").to_string();
    Server { child, addr, stdout }
}

fn signal(s: &Server, sig: i32) {
    // SAFETY: kill(2) with the pid of a child we own; no memory is passed.
    let r = unsafe { libc::kill(s.child.id() as i32, sig) };
    assert_eq!(r, 0, "kill failed");
}

/// Waits for the server to exit (bounded: a hang fails the test) and returns its last line.
fn finish(mut s: Server) -> String {
    let limit = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = s.child.try_wait().expect("wait") {
            assert!(status.success(), "the server exited with {status}");
            break;
        }
        assert!(Instant::now() < limit, "the server did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut rest = String::new();
    s.stdout.read_to_string(&mut rest).expect("stdout");
    rest.lines().last().unwrap_or_default().to_string()
}

fn echo_once(c: &mut TcpStream, msg: &[u8]) {
    c.write_all(msg).expect("send");
    let mut got = vec![0; msg.len()];
    c.read_exact(&mut got).expect("echo");
    assert_eq!(got, msg);
}

#[test]
fn first_sigterm_drains_idle_connections_and_exits_cleanly() {
    let s = start();
    let mut idle = TcpStream::connect(&s.addr).expect("connect");
    echo_once(&mut idle, b"hello");
    signal(&s, libc::SIGTERM);
    // The idle connection is closed by the server (end of stream), not reset.
    idle.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(idle.read(&mut buf).expect("read"), 0, "the server closed the idle connection");
    let last = finish(s);
    assert_eq!(last, "echo: shut down cleanly (connections drained)");
}

#[test]
fn second_sigterm_cancels_a_connection_that_does_not_finish() {
    let s = start();
    let mut busy = TcpStream::connect(&s.addr).expect("connect");
    echo_once(&mut busy, b"hi");
    // Send a lot and never read the echo: the server's send blocks once the buffers are full.
    let writer = {
        let mut w = busy.try_clone().unwrap();
        std::thread::spawn(move || {
            let chunk = vec![7u8; 64 * 1024];
            for _ in 0..256 {
                if w.write_all(&chunk).is_err() {
                    break;
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(200)); // let the server block in its send
    signal(&s, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(200)); // still draining: the connection is busy
    assert!(s.child.id() > 0);
    signal(&s, libc::SIGTERM);
    let last = finish(s);
    drop(busy);
    let _ = writer.join();
    assert_eq!(last, "echo: shut down cleanly (connections cancelled)");
}
