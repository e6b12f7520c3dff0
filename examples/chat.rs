//! A TCP chat server: every line a client sends is broadcast to every other client.
//!
//! Usage: `cargo run --example chat [ADDR:PORT]` (default 127.0.0.1:7879); talk to it with
//! `nc 127.0.0.1 7879` from a few terminals. The first Ctrl-C or SIGTERM is a graceful shutdown:
//! the server stops accepting, each client's reader stops at its next idle wait, lines already
//! read are still delivered, for up to 3 s; a second signal cancels everything at once. Every task
//! unwinds through its cleanup.
//!
//! Structure (every task is a child of a nursery):
//! - the accept loop spawns one task per client;
//! - a hub task owns the list of clients; readers send it what their clients say through a
//!   rendezvous channel, and it fans each line out through a bounded queue per client;
//! - each client task runs a reader and a writer; the writer drains the client's queue into its
//!   socket.
//!
//! A slow client (one whose queue is full because it does not read) is disconnected instead of
//! stalling the others: the hub never waits on a client queue (`try_send`), and on `Full` it drops
//! that queue's only sender. The client's writer then sees the end of its queue and cancels the
//! client's nursery, which closes the connection.
//!
//! [`serve`] is reused by `tests/chat_example.rs`, which includes this file as a module.

use quartet::channel::{Receiver, Sender, TrySendError};
use quartet::net::{TcpListener, TcpStream};
use quartet::signal::{Signal, Signals};
use quartet::{BoxError, CancelScope, Cancelled, OpError, Reason, channel, is_cancellation, move_on_shutdown, nursery};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// How long a graceful shutdown lets clients finish.
const GRACE: Duration = Duration::from_secs(3);

/// Messages a client may fall behind by before it is disconnected.
pub const DEFAULT_QUEUE: usize = 128;
/// Longer lines are cut into pieces of this size.
const MAX_LINE: usize = 4096;
/// A writer batches queued messages up to this many bytes per send.
const WRITE_BATCH: usize = 64 * 1024;

/// What clients tell the hub.
enum Event {
    Joined(u64, Sender<Arc<str>>),
    Said(u64, String),
    Left(u64),
}

/// Serves chat clients accepted from `listener` until cancelled, gracefully cancelled (then it
/// stops accepting and returns once the clients have left), or until `accept` fails.
/// `queue` is each client's outgoing queue capacity: a client that falls that many messages
/// behind is disconnected.
///
/// # Cancellation
/// Runs until its scope is cancelled; every client connection is closed on the way out.
pub async fn serve(listener: &TcpListener, queue: usize) -> Result<(), BoxError> {
    nursery(async |n| {
        let (events, inbox) = channel::<Event>(0);
        n.spawn_named("hub", hub(inbox))?;
        let mut id = 0;
        while let Some((stream, peer)) = move_on_shutdown(listener.accept()).await? {
            id += 1;
            let events = events.clone();
            n.spawn_named(format!("client {id} ({peer})"), async move {
                match client(id, stream, events, queue).await {
                    Err(e) if !is_cancellation(&*e) => eprintln!("chat: client {id} ({peer}): {e}"),
                    _ => {}
                }
                Ok::<_, Cancelled>(())
            })?;
        }
        Ok::<_, BoxError>(())
    })
    .await?;
    Ok(())
}

/// Owns the client list and fans every line out. Never waits on a client.
async fn hub(inbox: Receiver<Event>) -> Result<(), BoxError> {
    let mut clients: BTreeMap<u64, Sender<Arc<str>>> = BTreeMap::new();
    while let Some(event) = inbox.recv().await? {
        match event {
            Event::Joined(id, queue) => {
                // The queue is empty, so the welcome always fits; it tells the client it is in.
                let _ = queue.try_send(format!("* welcome, you are client {id}\n").into());
                broadcast(&mut clients, None, format!("* client {id} joined\n").into());
                clients.insert(id, queue);
            }
            Event::Said(id, line) => broadcast(&mut clients, Some(id), format!("{id}: {line}\n").into()),
            Event::Left(id) => {
                if clients.remove(&id).is_some() {
                    broadcast(&mut clients, None, format!("* client {id} left\n").into());
                }
            }
        }
    }
    Ok(())
}

/// Queues `msg` for every client but `from`; drops the clients whose queue is full or gone.
fn broadcast(clients: &mut BTreeMap<u64, Sender<Arc<str>>>, from: Option<u64>, msg: Arc<str>) {
    clients.retain(|&id, queue| {
        if Some(id) == from {
            return true;
        }
        match queue.try_send(msg.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                eprintln!("chat: client {id} is too slow, disconnecting it");
                false // dropping its only sender ends its queue: its writer closes the connection
            }
            Err(_) => false,
        }
    });
}

/// One connection: registers with the hub, then reads lines and writes the queue until either
/// side ends.
async fn client(id: u64, stream: TcpStream, events: Sender<Event>, queue: usize) -> Result<(), BoxError> {
    let (tx, rx) = channel::<Arc<str>>(queue);
    events.send(Event::Joined(id, tx)).await?;
    let outcome = nursery(async |n| {
        let (stream, rx) = (&stream, rx);
        let stop = n.cancel_handle();
        n.spawn_named("writer", async move {
            write_queue(stream, &rx).await?;
            // The hub dropped our queue (this client fell too far behind) or the peer went away:
            // close the connection.
            stop.cancel();
            Ok::<_, BoxError>(())
        })?;
        read_lines(stream, id, &events).await?;
        // The peer closed its side: stop the writer.
        n.cancel();
        Ok::<_, BoxError>(())
    })
    .await;
    let _ = events.send(Event::Left(id)).await;
    stream.close().await?;
    outcome.map_err(Into::into)
}

/// Sends every complete line the peer writes to the hub, until end of stream.
async fn read_lines(stream: &TcpStream, id: u64, events: &Sender<Event>) -> Result<(), BoxError> {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        buf.clear();
        // Idle: a graceful shutdown ends the wait for the next line.
        let next = move_on_shutdown(async {
            let (n, b) = stream.recv(buf).await;
            Ok::<_, OpError>((n, b))
        })
        .await?;
        let Some((n, b)) = next else { return Ok(()) };
        buf = b;
        match n {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if is_disconnect(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let mut start = 0;
        pending.extend_from_slice(&buf);
        while let Some(pos) = pending[start..].iter().position(|&c| c == b'\n') {
            let line = String::from_utf8_lossy(&pending[start..start + pos]).trim_end_matches('\r').to_owned();
            events.send(Event::Said(id, line)).await?;
            start += pos + 1;
        }
        pending.drain(..start);
        while pending.len() >= MAX_LINE {
            let line = String::from_utf8_lossy(&pending[..MAX_LINE]).into_owned();
            events.send(Event::Said(id, line)).await?;
            pending.drain(..MAX_LINE);
        }
    }
}

/// Writes queued messages (batched) until the queue ends or the peer goes away.
async fn write_queue(stream: &TcpStream, rx: &Receiver<Arc<str>>) -> Result<(), BoxError> {
    let mut out = Vec::with_capacity(WRITE_BATCH);
    while let Some(msg) = rx.recv().await? {
        out.clear();
        out.extend_from_slice(msg.as_bytes());
        while out.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(msg) => out.extend_from_slice(msg.as_bytes()),
                Err(_) => break,
            }
        }
        let (r, b) = stream.send_all(out).await;
        out = b;
        match r {
            Err(e) if is_disconnect(&e) => return Ok(()),
            r => r?,
        }
    }
    Ok(())
}

/// The peer went away abruptly (closed with unread data, or reset): a normal way to leave.
fn is_disconnect(e: &OpError) -> bool {
    matches!(e.as_io().and_then(std::io::Error::raw_os_error), Some(libc::ECONNRESET | libc::EPIPE))
}

async fn server(addr: SocketAddr) -> Result<(), BoxError> {
    let signals = Signals::new(&[Signal::Interrupt, Signal::Terminate])?;
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    println!("chat: listening on {local} (try `nc {} {}`)", local.ip(), local.port());
    let clients = CancelScope::new();
    let handle = clients.handle();
    nursery(async |outer| {
        outer.spawn_named("signal watcher", async move {
            let s = signals.recv().await?;
            eprintln!("chat: {s:?} received, letting clients finish for up to {GRACE:?} (again to stop now)");
            handle.cancel_gracefully(GRACE);
            let s = signals.recv().await?;
            eprintln!("chat: {s:?} received again, stopping now");
            handle.cancel_with(Reason::Signal);
            Ok::<_, OpError>(())
        })?;
        clients.run(async { serve(&listener, DEFAULT_QUEUE).await.map_err(std::io::Error::other) }).await?;
        outer.cancel(); // the clients are gone: stop the signal watcher
        Ok::<_, BoxError>(())
    })
    .await?;
    println!("chat: shut down cleanly");
    Ok(())
}

fn main() -> ExitCode {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7879".to_string());
    let addr: SocketAddr = match arg.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("usage: chat [ADDR:PORT]  ({arg:?}: {e})");
            return ExitCode::from(2);
        }
    };
    match quartet::run(server(addr)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("chat: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("chat: cannot start: {e}");
            ExitCode::FAILURE
        }
    }
}
