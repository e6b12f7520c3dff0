//! Checkpoints (semantics §3.3): every async operation of the runtime checks for cancellation on
//! entry and yields at least once, even when it could complete at once; synchronous functions are
//! never checkpoints; `checkpoint()` is public; nursery exit is a schedule point but never the
//! source of `Cancelled`.

use crate::nursery_support;

use nursery_support::{readable_bytes, run, tcp_pair};
use quartet::fs::File;
use quartet::net::{TcpListener, TcpStream};
use quartet::{
    BoxError, CancelScope, Cancelled, Instant, SpawnError, TaskStatus, checkpoint, nop, nursery, sleep, sleep_until,
    yield_now,
};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Counts how often the wrapped future is polled.
struct Counted<'a, F> {
    fut: Pin<Box<F>>,
    polls: &'a Cell<u32>,
}

impl<F: Future> Future for Counted<'_, F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.set(self.polls.get() + 1);
        self.fut.as_mut().poll(cx)
    }
}

/// Awaits `fut` and returns its output and how many polls it took.
async fn polls<F: Future>(fut: F) -> (F::Output, u32) {
    let n = Cell::new(0);
    let out = Counted { fut: Box::pin(fut), polls: &n }.await;
    (out, n.get())
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("quartet-checkpoint-{}-{name}", std::process::id()))
}

#[test]
fn checkpoint_yields_when_not_cancelled_and_raises_when_cancelled() {
    run(async {
        let (r, n) = polls(checkpoint()).await;
        assert_eq!((r, n), (Ok(()), 2), "checkpoint must yield exactly once");
        let scope = CancelScope::new();
        scope.cancel();
        let r = scope.run(async { polls(checkpoint()).await.0 }).await;
        assert_eq!(r, Ok(None));
    });
}

#[test]
fn every_runtime_op_yields_at_least_once_even_when_it_could_complete_at_once() {
    let path = temp_path("yields");
    run(async {
        let mut report = Vec::new();
        report.push(("checkpoint", polls(checkpoint()).await.1));
        report.push(("sleep(0)", polls(sleep(Duration::ZERO)).await.1));
        report.push(("sleep_until(past)", polls(sleep_until(Instant::now() - Duration::from_secs(1))).await.1));
        report.push(("yield_now", polls(yield_now()).await.1));
        report.push(("nop", polls(nop()).await.1));

        let (a, b) = tcp_pair().await.unwrap();
        let (r, n) = polls(b.send_all(b"ready".to_vec())).await;
        r.0.unwrap();
        report.push(("send", n));
        while readable_bytes(a.as_raw_fd()) < 5 {
            nop().await.unwrap();
        }
        let (r, n) = polls(a.recv(Vec::with_capacity(16))).await;
        assert_eq!(r.0.unwrap(), 5);
        report.push(("recv with data ready", n));

        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (c, n) = polls(TcpStream::connect(addr)).await;
        let _c = c.unwrap();
        report.push(("connect", n));
        let (r, n) = polls(listener.accept()).await;
        r.unwrap();
        report.push(("accept with a connection queued", n));

        let (f, n) = polls(File::create(&path)).await;
        let f = f.unwrap();
        report.push(("File::create", n));
        let (r, n) = polls(f.write_at(b"abc".to_vec(), 0)).await;
        r.0.unwrap();
        report.push(("write_at", n));
        let (r, n) = polls(f.metadata()).await;
        r.unwrap();
        report.push(("metadata", n));
        let (r, n) = polls(f.sync_all()).await;
        r.unwrap();
        report.push(("sync_all", n));
        let f = File::open(&path).await.unwrap();
        let (r, n) = polls(f.read_at(Vec::with_capacity(8), 0)).await;
        assert_eq!(r.0.unwrap(), 3);
        report.push(("read_at (page cache)", n));

        nursery(async |nur| {
            let h = nur.spawn(async { Ok::<_, Cancelled>(1) })?;
            for _ in 0..3 {
                yield_now().await; // the child has surely finished
            }
            assert!(h.is_finished());
            let (r, n) = polls(h).await;
            assert_eq!(r.unwrap(), 1);
            report.push(("JoinHandle of a finished child", n));
            let (r, n) = polls(nur.start(|s: TaskStatus<u8>| async move {
                s.started(2);
                Ok::<_, Cancelled>(())
            }))
            .await;
            assert_eq!(r.unwrap(), 2);
            report.push(("start", n));
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
        report.push(("nursery with nothing to do", polls(nursery(async |_| Ok::<_, SpawnError>(()))).await.1));

        let immediate: Vec<_> = report.iter().filter(|(_, n)| *n < 2).collect();
        assert!(immediate.is_empty(), "these completed without yielding: {immediate:?}");
    });
    let _ = std::fs::remove_file(&path);
}

#[test]
fn every_runtime_op_checks_cancellation_on_entry_and_does_nothing() {
    let path = temp_path("entry");
    std::fs::write(&path, b"original").unwrap();
    let created = temp_path("entry-created");
    let _ = std::fs::remove_file(&created);
    run(async {
        let (a, b) = tcp_pair().await.unwrap();
        let (r, _) = b.send_all(b"queued".to_vec()).await;
        r.unwrap();
        while readable_bytes(a.as_raw_fd()) < 6 {
            nop().await.unwrap();
        }
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let _queued = TcpStream::connect(addr).await.unwrap();
        let file = File::open(&path).await.unwrap();
        let wfile = quartet::fs::OpenOptions::new().write(true).open(&path).await.unwrap();

        let scope = CancelScope::new();
        scope.cancel();
        let results = RefCell::new(Vec::new());
        nursery(async |nur| {
            let finished = nur.spawn(async { Ok::<_, Cancelled>(()) })?;
            for _ in 0..3 {
                yield_now().await;
            }
            let r = scope
                .run(async {
                    let mut v = Vec::new();
                    v.push(("checkpoint", checkpoint().await.is_err()));
                    v.push(("sleep(0)", sleep(Duration::ZERO).await.is_err()));
                    v.push(("nop", nop().await.is_err_and(|e| e.is_cancelled())));
                    v.push(("recv", a.recv(Vec::with_capacity(16)).await.0.is_err_and(|e| e.is_cancelled())));
                    v.push(("send", a.send(b"x".to_vec()).await.0.is_err_and(|e| e.is_cancelled())));
                    v.push(("accept", listener.accept().await.is_err_and(|e| e.is_cancelled())));
                    v.push(("connect", TcpStream::connect(addr).await.is_err_and(|e| e.is_cancelled())));
                    v.push(("File::create", File::create(&created).await.is_err_and(|e| e.is_cancelled())));
                    v.push((
                        "read_at",
                        file.read_at(Vec::with_capacity(8), 0).await.0.is_err_and(|e| e.is_cancelled()),
                    ));
                    v.push((
                        "write_at",
                        wfile.write_at(b"CHANGED!".to_vec(), 0).await.0.is_err_and(|e| e.is_cancelled()),
                    ));
                    v.push(("JoinHandle", matches!(finished.await, Err(quartet::JoinError::Cancelled(_)))));
                    // like a spawn, `start` runs the child until its first checkpoint (Trio)
                    let started = nur.start(|s: TaskStatus<()>| async move {
                        checkpoint().await?;
                        s.started(());
                        Ok::<_, Cancelled>(())
                    });
                    v.push(("start", matches!(started.await, Err(quartet::StartError::Cancelled(_)))));
                    *results.borrow_mut() = v;
                    Ok::<_, Cancelled>(())
                })
                .await;
            assert_eq!(r, Ok(Some(())));
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
        let not_cancelled: Vec<_> = results.borrow().iter().filter(|(_, c)| !c).map(|(w, _)| *w).collect();
        assert!(not_cancelled.is_empty(), "these did not raise Cancelled on entry: {not_cancelled:?}");
        // ... and did nothing:
        assert_eq!(readable_bytes(a.as_raw_fd()), 6, "the cancelled recv consumed data");
        assert_eq!(readable_bytes(b.as_raw_fd()), 0, "the cancelled send sent data");
        let accepted = quartet::move_on_after(Duration::from_secs(5), listener.accept()).await;
        assert!(matches!(accepted, Ok(Some(_))), "the cancelled accept took the queued connection");
        assert!(!created.exists(), "the cancelled create created the file");
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"original", "the cancelled write wrote");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn two_children_alternate_at_checkpoints() {
    for op in ["checkpoint", "sleep(0)", "yield_now"] {
        let log = RefCell::new(String::new());
        run(async {
            nursery(async |n| {
                for name in ['a', 'b'] {
                    let log = &log;
                    n.spawn(async move {
                        for _ in 0..50 {
                            log.borrow_mut().push(name);
                            match op {
                                "checkpoint" => checkpoint().await?,
                                "sleep(0)" => sleep(Duration::ZERO).await?,
                                _ => yield_now().await,
                            }
                        }
                        Ok::<_, Cancelled>(())
                    })?;
                }
                Ok::<_, SpawnError>(())
            })
            .await
        })
        .unwrap();
        let log = log.into_inner();
        assert_eq!(log, "ab".repeat(50), "{op} did not let the sibling run");
    }
}

#[test]
fn a_busy_child_with_checkpoints_cannot_starve_its_sibling() {
    let sibling_ran_at = Cell::new(None);
    let spins = Cell::new(0u32);
    run(async {
        nursery(async |n| {
            let (sibling_ran_at, spins) = (&sibling_ran_at, &spins);
            n.spawn(async move {
                while sibling_ran_at.get().is_none() {
                    spins.set(spins.get() + 1);
                    checkpoint().await?;
                }
                Ok::<_, Cancelled>(())
            })?;
            n.spawn(async move {
                sleep(Duration::from_millis(1)).await?;
                sibling_ran_at.set(Some(spins.get()));
                Ok::<_, Cancelled>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap();
    assert!(sibling_ran_at.get().is_some());
}

#[test]
fn synchronous_functions_are_not_checkpoints() {
    run(async {
        let scope = CancelScope::new();
        scope.cancel();
        let r = scope
            .run(async {
                // none of these raise inside a cancelled scope
                let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())
                    .map_err(|_| Cancelled::new(quartet::Reason::Explicit))?;
                let _ = listener.local_addr();
                let _ = quartet::current_effective_deadline();
                let _ = scope.cancel_called();
                yield_now().await; // a schedule point, not a cancel point
                nursery(async |n| {
                    // spawning is synchronous: it succeeds
                    n.spawn(async { Ok::<_, Cancelled>(()) })?;
                    Ok::<_, SpawnError>(())
                })
                .await
                .map_err(|_| Cancelled::new(quartet::Reason::Explicit))?;
                Ok::<_, Cancelled>("all ran")
            })
            .await;
        assert_eq!(r, Ok(Some("all ran")));
    });
}

#[test]
fn nursery_exit_is_a_schedule_point() {
    let log = RefCell::new(String::new());
    run(async {
        nursery(async |n| {
            let log = &log;
            n.spawn(async move {
                for _ in 0..3 {
                    log.borrow_mut().push('x');
                    yield_now().await;
                }
                Ok::<_, Cancelled>(())
            })?;
            for _ in 0..3 {
                log.borrow_mut().push('n');
                // an empty nursery: nothing to wait for, but still lets the sibling run
                nursery(async |_| Ok::<_, SpawnError>(())).await?;
            }
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap();
    assert_eq!(*log.borrow(), "nxnxnx");
}

#[test]
fn nursery_exit_is_never_the_source_of_cancelled() {
    let out = run(async {
        nursery(async |n| {
            for _ in 0..3 {
                n.spawn(async { sleep(Duration::from_secs(3600)).await })?;
            }
            checkpoint().await?;
            n.cancel();
            // the body returns normally inside its cancelled nursery
            Ok::<_, BoxError>("value")
        })
        .await
    });
    assert_eq!(out.unwrap(), "value");
    // an empty nursery inside a cancelled scope exits normally too
    let scope = CancelScope::new();
    scope.cancel();
    let r = run(scope.run(async { nursery(async |_| Ok::<_, SpawnError>(1)).await }));
    assert_eq!(r.unwrap(), Some(1));
}
