//! The task-tree dump shows what each parked task waits on (issue 14, semantics §7.1).

use quartet::introspect::{Item, TaskState, WaitKind, task_tree};
use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, CancelScope, nursery};
use std::time::Duration;

/// The rows under the task named `name`, as text (panics with the whole tree if it is absent).
fn task_text(tree: &quartet::introspect::TaskTree, name: &str) -> String {
    let rows = tree.task_rows(name).unwrap_or_else(|| panic!("no task {name:?} in\n{tree}"));
    let mut s = String::new();
    for r in rows {
        s.push_str(&format!("{}{:?}\n", "  ".repeat(r.depth), r.item));
    }
    s
}

#[test]
fn task_parked_in_recv_shows_the_recv_and_its_fd() {
    quartet::run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&server);
        let res: Result<(), quartet::NurseryError> = nursery(async |n| -> Result<(), BoxError> {
            let server = &server;
            n.spawn_named("reader", async move {
                let _ = server.recv(Vec::with_capacity(1000)).await; // the peer never writes
            })?;
            // Let the reader park.
            for _ in 0..4 {
                quartet::yield_now().await;
            }
            let tree = task_tree().unwrap();
            let rows = tree.task_rows("reader").expect("reader listed");
            assert!(matches!(rows[0].item, Item::Task(_, TaskState::Parked)), "{tree}");
            let recv = rows.iter().find_map(|r| match &r.item {
                Item::Wait(w) => match &w.what {
                    WaitKind::Op(op) if op.opcode() == "Recv" => Some(op.clone()),
                    _ => None,
                },
                _ => None,
            });
            let recv = recv.unwrap_or_else(|| panic!("no recv under reader:\n{}", task_text(&tree, "reader")));
            assert_eq!(recv.fd(), Some(fd));
            assert_eq!(recv.bytes(), Some(1000));
            assert_eq!(recv.peer(), Some(client.local_addr().unwrap()));
            let text = tree.to_string();
            assert!(text.contains(&format!("ring op Recv(fd {fd}, 1000 bytes")), "{text}");
            n.cancel();
            Ok(())
        })
        .await;
        res.unwrap();
    })
    .unwrap();
}

#[test]
fn task_in_a_shielded_scope_with_a_deadline_shows_both() {
    quartet::run(async {
        let res: Result<(), quartet::NurseryError> = nursery(async |n| -> Result<(), BoxError> {
            let outer = CancelScope::with_deadline(quartet::Instant::now() + Duration::from_secs(3600));
            outer.set_shield(true);
            let inner = outer.clone();
            n.spawn_named("guarded", async move {
                let _ = inner.run(quartet::sleep(Duration::from_secs(7200))).await;
            })?;
            for _ in 0..4 {
                quartet::yield_now().await;
            }
            let tree = task_tree().unwrap();
            let rows = tree.task_rows("guarded").expect("guarded listed");
            let scope = rows.iter().find_map(|r| match &r.item {
                Item::Scope(s) => Some(s.clone()),
                _ => None,
            });
            let scope = scope.unwrap_or_else(|| panic!("no scope under the task:\n{tree}"));
            assert!(scope.shield, "{tree}");
            assert!(scope.deadline.is_some(), "{tree}");
            assert!(!scope.cancel_requested);
            // The sleep is parked inside the scope (deeper than it), as a timer.
            let scope_depth = rows.iter().find(|r| matches!(r.item, Item::Scope(_))).unwrap().depth;
            let timer =
                rows.iter().find(|r| matches!(&r.item, Item::Wait(w) if matches!(w.what, WaitKind::Timer { .. })));
            assert!(timer.is_some_and(|t| t.depth > scope_depth), "{tree}");
            let text = tree.to_string();
            assert!(text.contains("shielded") && text.contains("deadline in"), "{text}");
            outer.cancel(); // the shield keeps the nursery's cancel out
            n.cancel();
            Ok(())
        })
        .await;
        res.unwrap();
    })
    .unwrap();
}

#[test]
fn task_waiting_for_a_lock_shows_the_lock_and_a_cancelled_scope_its_reason() {
    quartet::run(async {
        let lock = quartet::Lock::new(0u32);
        let res: Result<(), quartet::NurseryError> = nursery(async |n| -> Result<(), BoxError> {
            let held = lock.lock().await?;
            let lock = &lock;
            n.spawn_named("locker", async move {
                let _g = lock.lock().await;
            })?;
            for _ in 0..4 {
                quartet::yield_now().await;
            }
            let tree = task_tree().unwrap();
            let text = task_text(&tree, "locker");
            assert!(text.contains("Lock"), "{tree}");
            // The body is running (it took the snapshot); the nursery is listed as one.
            assert!(tree.rows().iter().any(|r| matches!(r.item, Item::Nursery(_))), "{tree}");
            drop(held);
            n.cancel();
            let tree = task_tree().unwrap();
            assert!(tree.to_string().contains("cancel requested"), "{tree}");
            Ok(())
        })
        .await;
        res.unwrap();
    })
    .unwrap();
}

#[test]
fn dump_can_be_requested_from_another_thread() {
    quartet::run(async {
        let handle = quartet::introspect::dump_handle().unwrap();
        let res: Result<(), quartet::NurseryError> = nursery(async |n| -> Result<(), BoxError> {
            n.spawn_named("sleeper", quartet::sleep(Duration::from_secs(3600)))?;
            let asker = std::thread::spawn(move || handle.request(Duration::from_secs(60)));
            // Sleep in small steps (parked in the ring) until the other thread has its answer.
            while !asker.is_finished() {
                quartet::sleep(Duration::from_millis(1)).await?;
            }
            let tree = asker.join().unwrap().unwrap();
            assert!(tree.task_rows("sleeper").is_some(), "{tree}");
            assert!(tree.to_string().contains("timer"), "{tree}");
            n.cancel();
            Ok(())
        })
        .await;
        res.unwrap();
    })
    .unwrap();
}

#[test]
fn a_spawned_task_not_yet_polled_is_ready_and_an_idle_one_is_idle() {
    use std::cell::{Cell, RefCell};
    use std::task::{Poll, Waker};
    assert!(task_tree().is_none(), "no runtime: no tree");
    quartet::run(async {
        let done = Cell::new(false);
        let waker: RefCell<Option<Waker>> = RefCell::new(None);
        let res: Result<(), quartet::NurseryError> = nursery(async |n| -> Result<(), BoxError> {
            let (done, waker) = (&done, &waker);
            // Pending without parking anywhere (a foreign future): the dump cannot say on what.
            n.spawn_named(
                "foreign",
                std::future::poll_fn(move |cx| {
                    if done.get() {
                        return Poll::Ready(());
                    }
                    *waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }),
            )?;
            for _ in 0..4 {
                quartet::yield_now().await;
            }
            n.spawn_named("fresh", async {})?;
            let tree = task_tree().unwrap(); // before "fresh" was ever polled
            let state = |name: &str| match tree.task_rows(name).map(|r| &r[0].item) {
                Some(Item::Task(_, s)) => *s,
                other => panic!("{name}: {other:?}\n{tree}"),
            };
            assert_eq!(state("fresh"), TaskState::Ready, "{tree}");
            assert_eq!(state("foreign"), TaskState::Idle, "{tree}");
            assert!(tree.to_string().contains("idle (no parked wait)"), "{tree}");
            done.set(true);
            if let Some(w) = waker.borrow_mut().take() {
                w.wake();
            }
            Ok(())
        })
        .await;
        res.unwrap();
    })
    .unwrap();
}
