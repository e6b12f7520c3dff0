//! The chat example (`examples/chat.rs`), driven by real TCP clients over loopback: lines reach
//! every other client, and a client that stops reading is disconnected without stalling the
//! others.
#[allow(dead_code)]
#[path = "../examples/chat.rs"]
mod chat;

use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, fail_after, nursery, run};
use std::net::SocketAddr;
use std::time::Duration;

/// A liveness bound: a server that stalls makes the test fail instead of hang. Not a timing
/// assertion: a passing run takes a fraction of it.
const LIVENESS: Duration = Duration::from_secs(60);

/// A line-oriented test client.
struct Client {
    stream: TcpStream,
    pending: Vec<u8>,
    eof: bool,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Result<Client, BoxError> {
        let mut c = Client { stream: TcpStream::connect(addr).await?, pending: Vec::new(), eof: false };
        let welcome = c.line().await?.ok_or("closed before the welcome")?;
        assert!(welcome.starts_with("* welcome"), "{welcome}");
        Ok(c)
    }

    /// The next line, or `None` at end of stream (a reset counts as the end too).
    async fn line(&mut self) -> Result<Option<String>, BoxError> {
        loop {
            if let Some(pos) = self.pending.iter().position(|&c| c == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=pos).collect();
                return Ok(Some(String::from_utf8(line[..pos].to_vec())?));
            }
            if self.eof {
                return Ok(None);
            }
            let (n, buf) = self.stream.recv(Vec::with_capacity(64 * 1024)).await;
            match n {
                Ok(0) => self.eof = true,
                Ok(_) => self.pending.extend_from_slice(&buf),
                Err(e) if e.as_io().and_then(|e| e.raw_os_error()) == Some(libc::ECONNRESET) => self.eof = true,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The next line that is not a join/leave notice.
    async fn chat_line(&mut self) -> Result<Option<String>, BoxError> {
        while let Some(l) = self.line().await? {
            if !l.starts_with('*') {
                return Ok(Some(l));
            }
        }
        Ok(None)
    }

    async fn send(&self, text: String) -> Result<(), BoxError> {
        let (r, _) = self.stream.send_all(text).await;
        Ok(r?)
    }
}

/// Runs `test` against a chat server on an ephemeral loopback port, then stops the server.
fn with_server(queue: usize, test: impl AsyncFnOnce(SocketAddr) -> Result<(), BoxError>) {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
        let addr = listener.local_addr()?;
        let outcome: Result<(), std::io::Error> = fail_after(LIVENESS, async {
            nursery(async |n| {
                let listener = &listener;
                n.spawn_named("chat server", async move { chat::serve(listener, queue).await })?;
                test(addr).await?;
                n.cancel(); // stop the server
                Ok::<_, BoxError>(())
            })
            .await
            .map_err(std::io::Error::other)
        })
        .await;
        outcome.map_err(|e| format!("chat test failed (or hit the {}s liveness bound): {e}", LIVENESS.as_secs()))?;
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn lines_reach_every_other_client_but_not_the_sender() {
    with_server(chat::DEFAULT_QUEUE, async |addr| {
        let mut a = Client::connect(addr).await?;
        let mut b = Client::connect(addr).await?;
        let mut c = Client::connect(addr).await?;
        a.send("hello from a\n".into()).await?;
        let b_line = b.chat_line().await?.ok_or("b closed")?;
        let c_line = c.chat_line().await?.ok_or("c closed")?;
        assert!(b_line.ends_with(": hello from a"), "{b_line}");
        assert_eq!(b_line, c_line);
        b.send("bye from b\n".into()).await?;
        let a_line = a.chat_line().await?.ok_or("a closed")?;
        assert!(a_line.ends_with(": bye from b"), "a must not get its own line first: {a_line}");
        drop(c.stream.close().await);
        loop {
            let l = a.line().await?.ok_or("a closed")?;
            if l.starts_with("* client") && l.ends_with(" left") {
                break;
            }
        }
        Ok(())
    });
}

#[test]
fn slow_client_is_disconnected_without_stalling_the_others() {
    const LINES: usize = 20_000;
    const QUEUE: usize = 16;
    let line_body = "x".repeat(1000);
    let slow_got = std::cell::Cell::new(0);
    with_server(QUEUE, async |addr| {
        let mut fast = Client::connect(addr).await?;
        let mut slow = Client::connect(addr).await?;
        let talker = Client::connect(addr).await?;
        nursery(async |n| {
            let (talker, line_body) = (&talker, &line_body);
            n.spawn(async move {
                let mut batch = String::new();
                for i in 0..LINES {
                    batch.push_str(&format!("{i} {line_body}\n"));
                    if batch.len() > 60_000 || i == LINES - 1 {
                        talker.send(std::mem::take(&mut batch)).await?;
                    }
                }
                Ok::<_, BoxError>(())
            })?;
            // The fast client keeps up and gets every line, in order, while the slow one reads
            // nothing.
            for i in 0..LINES {
                let l = fast.chat_line().await?.ok_or("the fast client was disconnected")?;
                let text = l.split_once(": ").map(|(_, t)| t).unwrap_or_default();
                assert_eq!(text.split_once(' ').map(|(n, _)| n), Some(i.to_string().as_str()), "line {i}");
            }
            Ok::<_, BoxError>(())
        })
        .await?;
        // The slow client now reads what reached it before it was cut off, then the end.
        let mut got = 0;
        while let Some(l) = slow.chat_line().await? {
            assert!(l.ends_with(line_body.as_str()));
            got += 1;
        }
        slow_got.set(got);
        Ok(())
    });
    let got = slow_got.get();
    eprintln!("slow client received {got} of {LINES} lines before it was disconnected");
    assert!(got < LINES, "the slow client was disconnected, not served everything");
}
