//! Real signals sent with `kill(2)` to a child process that runs a small server built on
//! `cancel_on_signals` / `cancel_on_signals_gracefully` (semantics §8.3):
//! - SIGTERM cancels the root scope: the connection task unwinds, the server exits 0;
//! - graceful: the first SIGTERM lets a connection finish its work (it says goodbye), the server
//!   drains and exits 0 without waiting for the grace period; a second SIGTERM cancels what is
//!   left at once.
//!
//! `harness = false`: the child must block the signals on its main thread before any other thread
//! exists, which libtest's own threads would prevent. The child is this binary, re-executed with
//! an environment variable naming its mode.

use quartet::net::{TcpListener, TcpStream};
use quartet::signal::Signal;
use quartet::{
    BoxError, CancelHandle, CancelScope, OpError, Reason, cancel_on_signals, cancel_on_signals_gracefully,
    move_on_shutdown, nursery, wait_shutdown_requested,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const MODE: &str = "QUARTET_SIGNAL_TEST_MODE";
/// Liveness bound only: a passing run takes milliseconds.
const LIVENESS: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    if let Ok(mode) = std::env::var(MODE) {
        return child_main(&mode);
    }
    let tests: [(&str, fn()); 3] = [
        ("sigterm_cancels_the_root_scope_and_the_connection_task_unwinds", hard),
        ("first_sigterm_drains_gracefully_without_waiting_for_the_grace_period", graceful_drain),
        ("second_sigterm_cancels_what_the_graceful_shutdown_left", second_signal),
    ];
    for (name, test) in tests {
        test();
        println!("test {name} ... ok");
    }
    ExitCode::SUCCESS
}

// ---- the parent: drives a child with a client and real signals ----

struct Server {
    child: Child,
    lines: BufReader<std::process::ChildStdout>,
    done: mpsc::Sender<()>,
}

impl Server {
    fn start(mode: &str) -> (Server, std::net::TcpStream) {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(MODE, mode)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the child server");
        let pid = child.id();
        let (done, watchdog) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = watchdog.recv_timeout(LIVENESS) {
                // SAFETY: kill(2) on our child, not yet reaped (the parent reaps it only later).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        });
        let mut server = Server { lines: BufReader::new(child.stdout.take().unwrap()), child, done };
        let addr = server.expect_line("ready ");
        let client = std::net::TcpStream::connect(addr).unwrap();
        client.set_read_timeout(Some(LIVENESS)).unwrap();
        (server, client)
    }

    /// Reads lines until one starts with `prefix`; returns the rest of it.
    fn expect_line(&mut self, prefix: &str) -> String {
        loop {
            let mut line = String::new();
            assert!(self.lines.read_line(&mut line).unwrap() > 0, "the child ended before printing {prefix:?}");
            if let Some(rest) = line.trim_end().strip_prefix(prefix) {
                return rest.to_string();
            }
        }
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own unreaped child.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, sig) }, 0);
    }

    /// Waits for the exit (must be 0) and returns the rest of stdout.
    fn finish(mut self) -> String {
        let status = self.child.wait().unwrap();
        let _ = self.done.send(());
        let mut out = String::new();
        self.lines.read_to_string(&mut out).unwrap();
        assert!(status.success(), "the child exited with {status}; output: {out}");
        out
    }
}

fn round_trip(client: &mut std::net::TcpStream, msg: &[u8]) {
    client.write_all(msg).unwrap();
    let mut back = vec![0u8; msg.len()];
    client.read_exact(&mut back).unwrap();
    assert_eq!(back, msg);
}

fn hard() {
    let (server, mut client) = Server::start("hard");
    round_trip(&mut client, b"hello");
    server.signal(libc::SIGTERM);
    let mut rest = [0u8; 16];
    assert_eq!(client.read(&mut rest).unwrap(), 0, "the connection task closed its socket");
    let out = server.finish();
    assert!(out.contains("connection task unwound"), "{out}");
    assert!(out.contains("clean shutdown: cancelled: signal received"), "{out}");
}

fn graceful_drain() {
    let (server, mut client) = Server::start("graceful");
    round_trip(&mut client, b"polite\n");
    server.signal(libc::SIGTERM);
    let mut got = String::new();
    client.read_to_string(&mut got).unwrap();
    assert_eq!(got, "bye\n", "the connection finished its work and said goodbye");
    let out = server.finish();
    assert!(out.contains("drained"), "the grace period was not needed: {out}");
}

fn second_signal() {
    let (mut server, mut client) = Server::start("graceful");
    round_trip(&mut client, b"stubborn\n");
    server.signal(libc::SIGTERM);
    // the first signal was acted on (two pending SIGTERMs would merge into one)
    server.expect_line("accept loop stopped");
    server.signal(libc::SIGTERM);
    let mut rest = [0u8; 16];
    assert_eq!(client.read(&mut rest).unwrap(), 0, "the stubborn connection was cancelled");
    let out = server.finish();
    assert!(out.contains("cancelled: signal received"), "{out}");
}

// ---- the child: a small server ----

fn child_main(mode: &str) -> ExitCode {
    let result = quartet::run(async {
        match mode {
            "hard" => hard_server().await,
            "graceful" => graceful_server().await,
            other => Err(format!("unknown mode {other}").into()),
        }
    });
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            println!("child failed: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("child could not start: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints when the task that owns it ends, however it ends.
struct Unwound;

impl Drop for Unwound {
    fn drop(&mut self) {
        println!("connection task unwound");
    }
}

async fn echo(stream: &TcpStream) -> Result<(), OpError> {
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        let (n, b) = stream.recv(buf).await;
        buf = b;
        if n? == 0 {
            return Ok(());
        }
        let (r, b) = stream.send_all(buf).await;
        buf = b;
        r?;
    }
}

/// SIGINT/SIGTERM cancel the root scope.
async fn hard_server() -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
    let root = CancelHandle::root().ok_or("no root scope")?;
    let result = nursery(async |n| {
        n.spawn(cancel_on_signals(&[Signal::Interrupt, Signal::Terminate], root)?)?;
        println!("ready {}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            n.spawn(async move {
                let _unwound = Unwound;
                echo(&stream).await
            })?;
        }
        #[allow(unreachable_code)]
        Ok::<(), BoxError>(())
    })
    .await;
    match result {
        Err(e) if e.is_cancelled() => {
            println!("clean shutdown: {}", e.cancelled().map_or("?".into(), |c| c.to_string()));
            Ok(())
        }
        other => other.map_err(Into::into),
    }
}

/// The first signal drains (polite connections say goodbye), a second cancels.
async fn graceful_server() -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
    let work = CancelScope::new();
    let outer = nursery(async |outer| {
        outer.spawn(cancel_on_signals_gracefully(
            &[Signal::Interrupt, Signal::Terminate],
            work.handle(),
            Duration::from_secs(3600),
        )?)?;
        println!("ready {}", listener.local_addr()?);
        work.run(nursery(async |n| {
            while let Some((stream, _)) = move_on_shutdown(listener.accept()).await? {
                n.spawn(async move {
                    let (r, first) = stream.recv(Vec::with_capacity(64)).await;
                    r?;
                    stream.send_all(first.clone()).await.0?;
                    if first.starts_with(b"polite") {
                        // finish the work in hand once asked to stop
                        wait_shutdown_requested().await?;
                        stream.send_all(b"bye\n".to_vec()).await.0?;
                        return Ok(());
                    }
                    echo(&stream).await // stubborn: ignores the request
                })?;
            }
            println!("accept loop stopped");
            Ok::<_, BoxError>(())
        }))
        .await?;
        outer.cancel(); // the work is done: stop the signal watcher
        Ok::<_, BoxError>(())
    })
    .await;
    match outer {
        Err(e) if !e.is_own_cancel() => return Err(e.into()),
        _ => {}
    }
    match work.reason() {
        Some(Reason::Signal) => println!("cancelled: signal received"),
        Some(Reason::GracePeriodEnded) => println!("grace period ended"),
        _ => println!("drained"),
    }
    Ok(())
}
