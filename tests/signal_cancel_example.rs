//! Real signals cancel the root scope of `examples/echo.rs` (semantics §8.3).
//!
//! The example runs in a child process (this test binary, re-executed with an environment variable,
//! runs the example's `main`), with a client connected so a connection task exists. The parent
//! sends SIGTERM or SIGINT with `kill(2)` and checks that the connection task unwound (the client
//! sees end of stream), the server printed its clean-shutdown line and exited 0.
//!
//! `harness = false`: the child must block the signals on its main thread before any other thread
//! exists, which libtest's own threads would prevent.

#[allow(dead_code)]
#[path = "../examples/echo.rs"]
mod echo;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CHILD: &str = "QUARTET_SIGNAL_TEST_CHILD";
/// Liveness bound only: a passing run takes milliseconds.
const LIVENESS: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    if std::env::var_os(CHILD).is_some() {
        return echo::main();
    }
    for (name, test) in [
        ("sigterm_cancels_the_root_scope_and_every_task_unwinds", sigterm as fn()),
        ("sigint_cancels_the_root_scope_and_every_task_unwinds", sigint),
    ] {
        test();
        println!("test {name} ... ok");
    }
    ExitCode::SUCCESS
}

fn sigterm() {
    signal_shuts_echo_down(libc::SIGTERM, "Terminate");
}

fn sigint() {
    signal_shuts_echo_down(libc::SIGINT, "Interrupt");
}

fn signal_shuts_echo_down(sig: libc::c_int, name: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("127.0.0.1:0")
        .env(CHILD, "echo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the echo example");
    let pid = child.id();
    // A hang becomes a failure: kill the child after the liveness bound.
    let (done, watchdog) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if watchdog.recv_timeout(LIVENESS).is_err() {
            // SAFETY: kill(2) on the child's pid, which is not yet reaped (the parent waits below).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr =
        line.trim().strip_prefix("echo: listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));

    // A live connection: its task must unwind when the root scope is cancelled.
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(LIVENESS)).unwrap();
    client.write_all(b"hello").unwrap();
    let mut back = [0u8; 5];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");

    // SAFETY: kill(2) on our own unreaped child.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, sig) }, 0);

    let mut rest = [0u8; 16];
    assert_eq!(client.read(&mut rest).unwrap(), 0, "the connection task closed its socket");
    let status = child.wait().unwrap();
    drop(done);
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "echo exited with {status}; stderr: {err}");
    assert!(out.contains("echo: shut down cleanly (cancelled: signal received)"), "stdout: {out:?}");
    assert!(err.contains(&format!("echo: {name} received")), "stderr: {err:?}");
}
