//! Op data lives inline in the op's future and moves: before the first poll (with the future),
//! into the driver when the future is dropped while the op is in flight, and back to the caller
//! with the result. The kernel's pointers lead only to memory that stays put (heap buffers, the
//! ops' `Stable` address/`statx` blocks), so every move is harmless; and whatever path the data
//! takes, it is dropped exactly once, after the kernel's final completion, or never (leaked) when
//! that completion may never come (H1, H4).

use crate::hazard_support;

use hazard_support::{poll_once, serial, tcp_pair, watchdog};
use quartet::fs::File;
use quartet::net::{TcpListener, TcpStream, UdpSocket};
use quartet::{Builder, IoBuf, IoBufMut, OpError, SetupFlags, nop, run, stats};
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::hint::black_box;
use std::io::Write;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

/// What a [`CountedBuf`] saw: how many times it was dropped and what it held the last time.
#[derive(Clone, Default)]
struct Drops(Rc<(Cell<usize>, RefCell<Vec<u8>>)>);

impl Drops {
    fn count(&self) -> usize {
        self.0.0.get()
    }
    fn held(&self) -> Vec<u8> {
        self.0.1.borrow().clone()
    }
}

/// A 64-byte receive buffer on the heap that counts its drops (shared by every buffer made from
/// the same [`Drops`]) and records its bytes when dropped.
struct CountedBuf {
    storage: Box<[u8; 64]>,
    len: usize,
    drops: Drops,
}

impl CountedBuf {
    fn new(drops: &Drops) -> CountedBuf {
        CountedBuf { storage: Box::new([0; 64]), len: 0, drops: drops.clone() }
    }
}

impl Drop for CountedBuf {
    fn drop(&mut self) {
        let (count, held) = &*self.drops.0;
        count.set(count.get() + 1);
        *held.borrow_mut() = self.storage.to_vec();
    }
}

// SAFETY: the bytes are a heap block that stays put when the value moves (only the box pointer
// moves); `len` of them are initialised (in fact all 64 are).
unsafe impl IoBuf for CountedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.storage.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
}

// SAFETY: all 64 bytes of the heap block are writable; `set_init` records at most 64.
unsafe impl IoBufMut for CountedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.storage.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.storage.len()
    }
    unsafe fn set_init(&mut self, n: usize) {
        self.len = self.len.max(n.min(64));
    }
}

/// Moves `value` through memory the optimiser cannot see through.
fn moved<T>(value: T) -> T {
    let boxed = black_box(Box::new(black_box(value)));
    *boxed
}

/// Waits (a bounded number of ring round trips) until no op is in flight, plus one loop turn, in
/// which the kernel drops what the driver released (it drops op data only outside its borrow).
async fn settle() -> Result<(), OpError> {
    for _ in 0..1000 {
        if stats().unwrap().live_ops == 0 {
            return nop().await;
        }
        nop().await?;
    }
    panic!("ops still in flight after 1000 ring round trips: {:?}", stats());
}

/// Every kind of op whose kernel-visible parts moved out of the inline data (buffer, accepted
/// peer address, connect address, `recvmsg` header and address, `statx` result) works from a
/// future that was moved before its first poll.
#[test]
fn op_futures_moved_before_their_first_poll_work_from_their_new_place() {
    let _w = watchdog(Duration::from_secs(30), "moved op futures");
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
        let addr = listener.local_addr()?;
        let accept = moved(listener.accept());
        let connect = moved(TcpStream::connect(addr));
        let (client, accepted) = futures_util::future::join(connect, accept).await;
        let (client, (server, peer)) = (client?, accepted?);
        assert_eq!(peer, client.local_addr()?);

        let drops = Drops::default();
        let recv = moved(server.recv(CountedBuf::new(&drops)));
        let (sent, _) = moved(client.send_all(b"moved")).await;
        sent?;
        let (n, buf) = recv.await;
        assert_eq!(&buf.storage[..n?], b"moved");
        assert_eq!(drops.count(), 0, "the buffer came back by value, not dropped");
        drop(buf);
        assert_eq!(drops.count(), 1);

        let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
        let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
        let recv_from = moved(b.recv_from(Vec::with_capacity(16)));
        let (sent, _) = moved(a.send_to(b"datagram", b.local_addr()?)).await;
        sent?;
        let (meta, buf) = recv_from.await;
        let meta = meta?;
        assert_eq!((&buf[..meta.len], meta.addr), (&b"datagram"[..], a.local_addr()?));

        let path = std::env::temp_dir().join(format!("quartet-op-moves-{}", std::process::id()));
        std::fs::write(&path, b"12345").unwrap();
        let file = moved(File::open(&path)).await?;
        let meta = moved(file.metadata()).await?;
        assert_eq!(meta.len(), 5);
        assert_eq!(moved(quartet::fs::metadata(&path)).await?.len(), 5);
        file.close().await?;
        std::fs::remove_file(&path).unwrap();
        client.close().await?;
        server.close().await?;
        Ok::<_, OpError>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn recv_dropped_in_flight_drops_its_buffer_once_after_the_final_completion() {
    dropped_in_flight(SetupFlags::Auto);
}

/// With `COOP_TASKRUN` the kernel completes the recv as soon as the peer's write returns, before
/// the drop's cancel reaches the ring: it writes into the buffer after the data moved into the
/// driver, which must see those bytes (same heap block) and drop it once.
#[test]
fn kernel_write_after_the_data_moved_into_the_driver_lands_in_the_buffer_dropped_once() {
    dropped_in_flight(SetupFlags::CoopTaskrun);
}

fn dropped_in_flight(flags: SetupFlags) {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "recv dropped in flight");
    Builder::new()
        .setup_flags(flags)
        .run(async {
            let (stream, mut peer) = tcp_pair().await?;
            let drops = Drops::default();
            {
                let mut recv = Box::pin(stream.recv(CountedBuf::new(&drops)));
                assert!(poll_once(recv.as_mut()).await.is_pending());
                nop().await?; // armed in the kernel
            } // dropped in flight: the data moves out of the future into the driver
            assert_eq!(drops.count(), 0, "the buffer was dropped while the kernel owned it");
            peer.write_all(b"after the move")?;
            settle().await?;
            assert_eq!(drops.count(), 1, "dropped exactly once, at the final completion");
            if flags == SetupFlags::CoopTaskrun {
                assert!(drops.held().starts_with(b"after the move"), "held {:?}", drops.held());
            }
            stream.close().await?;
            Ok::<_, OpError>(())
        })
        .unwrap()
        .unwrap();
}

/// Every way an op's future can end, many times over: its data (here the buffer) is dropped once
/// per op, never twice and never while the kernel may use it.
#[test]
fn op_data_is_dropped_exactly_once_on_every_path() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(60), "op data drop paths");
    const ROUNDS: usize = 200;
    run(async {
        let (stream, mut peer) = tcp_pair().await?;
        let drops = Drops::default();
        let mut expected = 0;
        for round in 0..ROUNDS {
            // Never polled: nothing submitted, the data drops with the future.
            drop(moved(stream.recv(CountedBuf::new(&drops))));
            expected += 1;
            assert_eq!(drops.count(), expected);

            // Submitted but not yet in the kernel (still in the SQ), then dropped.
            {
                let mut recv = Box::pin(stream.recv(CountedBuf::new(&drops)));
                assert!(poll_once(recv.as_mut()).await.is_pending());
            }
            // In the kernel, then dropped; every other round data arrives before the cancel.
            {
                let mut recv = Box::pin(stream.recv(CountedBuf::new(&drops)));
                assert!(poll_once(recv.as_mut()).await.is_pending());
                nop().await?;
                if round % 2 == 0 {
                    peer.write_all(b"x")?;
                }
            }
            settle().await?;
            expected += 2;
            assert_eq!(drops.count(), expected, "round {round}");

            // Completed (its CQE reaped) but never polled again, then dropped.
            peer.write_all(b"y")?;
            {
                let mut recv = Box::pin(stream.recv(CountedBuf::new(&drops)));
                assert!(poll_once(recv.as_mut()).await.is_pending());
                nop().await?;
                nop().await?;
            }
            settle().await?;
            expected += 1;
            assert_eq!(drops.count(), expected, "round {round}");

            // Completed and collected: the buffer comes back by value.
            peer.write_all(b"z")?;
            let (n, buf) = stream.recv(CountedBuf::new(&drops)).await;
            assert!(n? >= 1);
            assert_eq!(drops.count(), expected, "handed back, not dropped");
            drop(buf);
            expected += 1;
            assert_eq!(drops.count(), expected);

            // Drain whatever bytes the dropped receives did not take.
            while let Ok(Some(_)) = try_recv_now(&stream).await {}
        }
        stream.close().await?;
        Ok::<_, OpError>(())
    })
    .unwrap()
    .unwrap();
}

/// Receives what is already queued on `stream`, if anything (a recv raced with a nop).
async fn try_recv_now(stream: &TcpStream) -> Result<Option<usize>, OpError> {
    let mut recv = Box::pin(stream.recv(Vec::with_capacity(64)));
    if let Poll::Ready((n, _)) = poll_once(recv.as_mut()).await {
        return n.map(Some);
    }
    nop().await?;
    nop().await?;
    match poll_once(recv.as_mut()).await {
        Poll::Ready((n, _)) => n.map(|n| (n > 0).then_some(n)),
        Poll::Pending => Ok(None), // dropped: cancelled (or, racing, reclaimed by the driver)
    }
}

/// `Incoming` is `Unpin` and holds its accept op inline, so safe code can `mem::forget` it with
/// the op in flight: the op is then neither dropped nor moved to the driver, and the future's
/// memory is reused. The kernel must not write there: the peer address it writes lives in the
/// accept's heap block, which the forget leaks. The runtime keeps working and shuts down cleanly.
#[test]
fn forgotten_incoming_with_an_accept_in_flight_leaks_instead_of_corrupting() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "forgotten accept");
    let client = run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
        let addr = listener.local_addr()?;
        let mut incoming = listener.incoming();
        let polled = poll_fn(|cx| Poll::Ready(futures_core::Stream::poll_next(Pin::new(&mut incoming), cx))).await;
        assert!(polled.is_pending());
        nop().await?; // the accept is in the kernel
        std::mem::forget(incoming);
        let client = std::net::TcpStream::connect(addr)?; // the kernel accepts it, writing the address
        // Reuse the stack and the heap the forgotten future might have pointed into.
        for _ in 0..100 {
            let scratch = black_box([0xa5u8; 512]);
            black_box(&scratch);
            nop().await?;
        }
        // The listener still works for a second connection.
        let second = std::net::TcpStream::connect(addr)?;
        let (stream, peer) = listener.accept().await?;
        assert_eq!(peer, second.local_addr()?);
        stream.close().await?;
        Ok::<_, OpError>(client)
    })
    .unwrap()
    .unwrap();
    drop(client);
}

/// H4: a future holding an in-flight op escapes a runtime whose drain bound expires (an unclean
/// shutdown); dropping it afterwards must forget its data (the kernel may still write the buffer),
/// not drop it.
#[test]
fn escaped_op_dropped_after_an_unclean_shutdown_forgets_its_data() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "escaped op after unclean shutdown");
    let drops = Drops::default();
    let (escaped, peer) = Builder::new()
        .shutdown_drain(Duration::ZERO)
        .run({
            let drops = drops.clone();
            async move {
                let (stream, peer) = tcp_pair().await?;
                let stream = Box::leak(Box::new(stream)); // outlives the runtime with the op
                let mut recv = Box::pin(stream.recv(CountedBuf::new(&drops)));
                assert!(poll_once(recv.as_mut()).await.is_pending());
                nop().await?; // armed in the kernel
                Ok::<_, OpError>((recv, peer))
            }
        })
        .unwrap()
        .unwrap();
    drop(escaped);
    assert_eq!(drops.count(), 0, "a buffer the kernel may still own was dropped after an unclean shutdown");
    drop(peer);
}
