//! Fault injection on small real programs: an injected `ECONNRESET` reaching a server's handler,
//! `EMFILE` from `accept` driving `serve_listeners`' backoff (on the mock clock, so the backoff is
//! exact), short sends that `send_all` must complete, and seeded probabilities that replay.

use quartet::net::{Serve, ServeEvent, TcpListener, TcpStream};
use quartet::testing::{Fault, FaultPlan, OpKind, When, elapsed, wait_all_tasks_blocked};
use quartet::{BoxError, Builder, CancelScope, OpError, nursery};
use std::cell::{Cell, RefCell};
use std::time::Duration;

#[test]
fn an_injected_connection_reset_reaches_the_handler_and_its_report() {
    let plan = FaultPlan::new().inject(OpKind::Recv, Fault::Error(libc::ECONNRESET), When::Nth(1));
    let (seen, reported) = Builder::new()
        .mock_clock(true)
        .fault_plan(plan)
        .run(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let addr = listener.local_addr()?;
            let seen = Cell::new(None);
            let reported = RefCell::new(Vec::new());
            let scope = CancelScope::new();
            nursery(async |n| {
                let (scope2, seen, reported) = (scope.clone(), &seen, &reported);
                n.spawn(async move {
                    let serve = Serve::new()
                        .report(|e: &ServeEvent<'_>| reported.borrow_mut().push(e.to_string()))
                        .listeners(vec![listener], async |s: TcpStream| {
                            let (r, _buf) = s.recv(Vec::with_capacity(64)).await;
                            if let Err(OpError::Io(e)) = &r {
                                seen.set(Some(e.kind()));
                            }
                            r.map(drop)
                        });
                    scope2.run(serve).await.map(drop)
                })?;
                let client = TcpStream::connect(addr).await?;
                client.send_all(b"hello".to_vec()).await.0?;
                // The first recv of the program is the handler's (the injected one).
                wait_all_tasks_blocked().await?;
                // (Not reading from `client` here: the handler's socket closed with "hello" unread,
                // so the kernel answers with a real RST.)
                scope.cancel();
                Ok::<_, BoxError>(())
            })
            .await?;
            Ok::<_, BoxError>((seen.get(), reported.into_inner()))
        })
        .unwrap()
        .unwrap();
    assert_eq!(seen, Some(std::io::ErrorKind::ConnectionReset));
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(reported[0].contains("handler for 127.0.0.1:"), "{reported:?}");
}

#[test]
fn serve_backs_off_on_emfile_from_accept_and_then_serves() {
    let plan = FaultPlan::new().inject(OpKind::Accept, Fault::Error(libc::EMFILE), When::FirstN(3));
    let (backoffs, reply, took) = Builder::new()
        .mock_clock(true)
        .fault_plan(plan)
        .run(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let addr = listener.local_addr()?;
            let backoffs = RefCell::new(Vec::new());
            let scope = CancelScope::new();
            let reply = nursery(async |n| {
                let (scope2, backoffs) = (scope.clone(), &backoffs);
                n.spawn(async move {
                    let serve = Serve::new()
                        .report(|e: &ServeEvent<'_>| {
                            if let ServeEvent::AcceptBackoff { error, backoff, .. } = e {
                                backoffs.borrow_mut().push((error.raw_os_error(), *backoff, elapsed().unwrap()));
                            }
                        })
                        .listeners(vec![listener], async |s: TcpStream| s.send_all(b"hi".to_vec()).await.0);
                    scope2.run(serve).await.map(drop)
                })?;
                let client = TcpStream::connect(addr).await?;
                let (n, buf) = client.recv(Vec::with_capacity(8)).await;
                n?;
                scope.cancel();
                Ok::<_, BoxError>(buf)
            })
            .await?;
            Ok::<_, BoxError>((backoffs.into_inner(), reply, elapsed()?))
        })
        .unwrap()
        .unwrap();
    let ms = Duration::from_millis;
    let emfile = Some(libc::EMFILE);
    assert_eq!(backoffs, vec![(emfile, ms(100), ms(0)), (emfile, ms(100), ms(100)), (emfile, ms(100), ms(200))]);
    assert_eq!(reply, b"hi");
    assert_eq!(took, ms(300), "served right after the third backoff");
}

#[test]
fn short_sends_are_real_partial_transfers_that_send_all_completes() {
    let plan = FaultPlan::new().inject(OpKind::Send, Fault::Short(2), When::Always);
    let got = Builder::new()
        .fault_plan(plan)
        .run(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let addr = listener.local_addr()?;
            let client = TcpStream::connect(addr).await?;
            let (server, _) = listener.accept().await?;
            let (n, _) = client.send(b"hello".to_vec()).await;
            assert_eq!(n?, 2, "one send moves at most 2 bytes");
            client.send_all(b"llo, world".to_vec()).await.0?;
            client.close().await?;
            let mut all = Vec::new();
            loop {
                let (n, buf) = server.recv(Vec::with_capacity(64)).await;
                if n? == 0 {
                    break;
                }
                all.extend_from_slice(&buf);
            }
            Ok::<_, BoxError>(all)
        })
        .unwrap()
        .unwrap();
    assert_eq!(got, b"hello, world", "nothing lost, nothing duplicated");
}

#[test]
fn seeded_probabilities_replay_and_each_errno_keeps_its_meaning() {
    let pattern = |seed| {
        let plan = FaultPlan::new().inject(OpKind::Any, Fault::Error(libc::EIO), When::Probability(0.3));
        Builder::new()
            .seed(Some(seed))
            .fault_plan(plan)
            .run(async {
                let mut v = Vec::new();
                for _ in 0..64 {
                    v.push(quartet::nop().await.is_err());
                }
                v
            })
            .unwrap()
    };
    let a = pattern(1);
    assert_eq!(a, pattern(1), "same seed, same faults");
    assert_ne!(a, pattern(2), "another seed, other faults");
    let hits = a.iter().filter(|&&x| x).count();
    assert!((5..=40).contains(&hits), "about 30% of 64: {hits}");

    for (errno, kind) in [
        (libc::ECONNRESET, std::io::ErrorKind::ConnectionReset),
        (libc::EPIPE, std::io::ErrorKind::BrokenPipe),
        (libc::ENOSPC, std::io::ErrorKind::StorageFull),
    ] {
        let plan = FaultPlan::new().inject(OpKind::Any, Fault::Error(errno), When::Always);
        let r = Builder::new().fault_plan(plan).run(quartet::nop()).unwrap();
        match r {
            Err(OpError::Io(e)) => assert_eq!((e.raw_os_error(), e.kind()), (Some(errno), kind)),
            other => panic!("{other:?}"),
        }
    }
}
