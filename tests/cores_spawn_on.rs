//! `Core::nursery` / `CoreNursery::spawn_on`: a `Send` child runs on another core inside a
//! nursery whose join, failure reporting and cancellation span cores; an accepted connection
//! moves to another core.

use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, Core, CoresError, JoinError, PerCore, Pinning, Reason};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Liveness bound only: a cancelled sleep returns in microseconds.
const FOREVER: Duration = Duration::from_secs(3600);

fn two_cores() -> PerCore {
    PerCore::new(2).pin(Pinning::Off)
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_owned()
}

#[test]
fn spawn_on_runs_the_child_on_the_target_core_and_the_join_returns_its_value() {
    let out = two_cores()
        .run(|core: Core| async move {
            if core.index() == 1 {
                return Ok::<_, BoxError>(vec![]);
            }
            let names = core
                .nursery(async |n| {
                    let there = n.spawn_on(1, || async { Ok::<_, BoxError>(thread_name()) })?;
                    let here = n.spawn_on(0, || async { Ok::<_, BoxError>(thread_name()) })?;
                    Ok::<_, BoxError>(vec![there.await?, here.await?])
                })
                .await?;
            Ok(names)
        })
        .unwrap();
    assert_eq!(out[0], vec!["quartet-core-1", "quartet-core-0"]);
}

#[test]
fn a_remote_failure_cancels_the_body_and_every_sibling_and_names_its_core() {
    let cancelled = Arc::new(AtomicUsize::new(0));
    let seen = cancelled.clone();
    let err = two_cores()
        .run(move |core: Core| {
            let seen = seen.clone();
            async move {
                if core.index() == 1 {
                    return Ok::<_, BoxError>(());
                }
                let r = core
                    .nursery(async |n| {
                        for on in [0, 1] {
                            let seen = seen.clone();
                            n.spawn_on(on, move || async move {
                                let c = quartet::sleep(FOREVER).await.unwrap_err();
                                assert!(
                                    matches!(c.reason(), Reason::SiblingFailed(s) if s.contains("spawned on core 1"))
                                );
                                seen.fetch_add(1, Ordering::SeqCst);
                                Err::<(), BoxError>(c.into())
                            })?;
                        }
                        n.spawn_on(1, || async {
                            quartet::checkpoint().await?;
                            Err::<(), BoxError>("remote child fails".into())
                        })?;
                        quartet::sleep(FOREVER).await?; // the body is cancelled too
                        Ok::<_, BoxError>(())
                    })
                    .await;
                let err = r.unwrap_err();
                assert_eq!(err.failures().len(), 1, "{err}");
                assert!(err.failures()[0].origin().starts_with("spawned on core 1 at tests/cores_spawn_on.rs"));
                assert_eq!(err.failures()[0].error().to_string(), "remote child fails");
                Err(err.into())
            }
        })
        .unwrap_err();
    assert_eq!(cancelled.load(Ordering::SeqCst), 2, "the siblings on both cores were cancelled");
    assert!(matches!(err, CoresError::Tasks(_)));
}

#[test]
fn cancelling_the_nursery_reaches_children_on_other_cores_and_joins_say_so() {
    let out = two_cores()
        .run(|core: Core| async move {
            if core.index() == 1 {
                return Ok::<_, BoxError>(true);
            }
            core.nursery(async |n| {
                let h = n.spawn_on(1, || async { quartet::sleep(FOREVER).await.map_err(BoxError::from) })?;
                quartet::checkpoint().await?;
                n.cancel();
                // Awaiting in the cancelled scope is refused; the child ends on core 1.
                assert!(matches!(h.await, Err(JoinError::Cancelled(_))));
                Ok::<_, BoxError>(())
            })
            .await
            .map_or_else(|e| Ok(e.is_own_cancel()), |()| Ok(true))
        })
        .unwrap();
    assert_eq!(out, vec![true, true]);
}

#[test]
fn a_remote_panic_is_resumed_on_the_spawning_core_after_the_children_finished() {
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        two_cores().run(move |core: Core| {
            let f = f.clone();
            async move {
                if core.index() == 1 {
                    return Ok::<_, BoxError>(());
                }
                core.nursery(async |n| {
                    let f = f.clone();
                    n.spawn_on(0, move || async move {
                        let _ = quartet::sleep(FOREVER).await;
                        f.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, BoxError>(())
                    })?;
                    n.spawn_on(1, || async {
                        quartet::checkpoint().await?;
                        panic!("remote child panics");
                        #[allow(unreachable_code)]
                        Ok::<_, BoxError>(())
                    })?;
                    Ok::<_, BoxError>(())
                })
                .await?;
                Ok(())
            }
        })
    }));
    let payload = caught.expect_err("the panic reaches the calling thread");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"remote child panics"));
    assert_eq!(finished.load(Ordering::SeqCst), 1, "the sibling finished before the panic was resumed");
}

#[test]
fn spawn_on_a_core_outside_the_group_is_a_spawn_error() {
    let out = PerCore::new(1)
        .pin(Pinning::Off)
        .run(|core: Core| async move {
            core.nursery(async |n| Ok::<_, BoxError>(n.spawn_on(5, || async { Ok::<_, BoxError>(()) }).is_err())).await
        })
        .unwrap();
    assert_eq!(out, vec![true]);
}

#[test]
fn an_accepted_connection_moves_to_another_core() {
    let out = two_cores()
        .run(|core: Core| async move {
            if core.index() == 1 {
                return Ok::<_, BoxError>(String::new());
            }
            let listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
            let addr = listener.local_addr()?;
            core.nursery(async |n| {
                let client = n.spawn_on(0, move || async move {
                    let s = TcpStream::connect(addr).await?;
                    s.send_all(b"ping".to_vec()).await.0?;
                    let (got, buf) = s.recv(Vec::with_capacity(64)).await;
                    got?;
                    Ok::<_, BoxError>(String::from_utf8(buf)?)
                })?;
                let (conn, _) = listener.accept().await?;
                let fd = conn.into_fd().map_err(|_| "an op holds the socket")?;
                n.spawn_on(1, move || async move {
                    let conn = TcpStream::from_fd(fd)?;
                    let (got, buf) = conn.recv(Vec::with_capacity(64)).await;
                    got?;
                    let reply = format!("{} from {}", String::from_utf8(buf)?, thread_name());
                    conn.send_all(reply.into_bytes()).await.0?;
                    Ok::<_, BoxError>(())
                })?;
                Ok::<_, BoxError>(client.await?)
            })
            .await
            .map_err(Into::into)
        })
        .unwrap();
    assert_eq!(out[0], "ping from quartet-core-1");
}
