//! The multi-core entry point (`PerCore`, `run_per_core`): one kernel per core, structured as one
//! group. Every body finishes before the call returns; a failure or panic on one core cancels the
//! others; failures come back together with their core; the group's cancel handle, graceful
//! cancellation and signals reach every core; bad settings are typed errors.

use quartet::runtime::group::allowed_cpus;
use quartet::signal::Signal;
use quartet::{BoxError, Core, CoresError, PerCore, Pinning, Reason, wait_shutdown_requested};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Liveness bound only: a cancelled sleep returns in microseconds.
const FOREVER: Duration = Duration::from_secs(3600);

fn unpinned(n: usize) -> PerCore {
    PerCore::new(n).pin(Pinning::Off)
}

#[test]
fn every_core_runs_its_body_on_its_own_thread_and_values_come_back_in_core_order() {
    let out = unpinned(3)
        .run(|core: Core| async move {
            quartet::checkpoint().await?;
            assert!(quartet::stats().is_some(), "a runtime runs on every core's thread");
            let name = std::thread::current().name().map(str::to_owned);
            Ok::<_, BoxError>((core.index(), core.count(), name))
        })
        .unwrap();
    let expected: Vec<_> = (0..3).map(|i| (i, 3, Some(format!("quartet-core-{i}")))).collect();
    assert_eq!(out, expected);
}

#[test]
fn pinned_cores_run_on_their_own_cpu() {
    let cpus = allowed_cpus().unwrap();
    let n = cpus.len().min(2);
    let out =
        PerCore::new(n).run(|core: Core| async move { Ok::<_, BoxError>((core.cpu(), allowed_cpus()?)) }).unwrap();
    for (i, (cpu, now_allowed)) in out.into_iter().enumerate() {
        assert_eq!(cpu, Some(cpus[i]));
        assert_eq!(now_allowed, vec![cpus[i]], "core {i} is pinned to one CPU");
    }
}

#[test]
fn bad_settings_are_typed_errors_not_panics() {
    let ok = |_: Core| async { Ok::<_, BoxError>(()) };
    assert!(matches!(PerCore::new(0).run(ok), Err(CoresError::NoCores)));
    let available = allowed_cpus().unwrap().len();
    let too_many = PerCore::new(available + 1).run(ok).unwrap_err();
    assert!(
        matches!(too_many, CoresError::TooManyCores { requested, available: a } if requested == available + 1 && a == available)
    );
    assert!(matches!(
        PerCore::new(2).pin(Pinning::Cpus(vec![0])).run(ok),
        Err(CoresError::CpuCount { cpus: 1, cores: 2 })
    ));
    assert!(matches!(
        PerCore::new(1).pin(Pinning::Cpus(vec![1 << 20])).run(ok),
        Err(CoresError::CpuNotAllowed { cpu: 1048576 })
    ));
    let first = allowed_cpus().unwrap()[0];
    assert!(matches!(
        PerCore::new(2).pin(Pinning::Cpus(vec![first, first])).run(ok),
        Err(CoresError::DuplicateCpu { cpu }) if cpu == first
    ));
    // Unpinned, an absurd count is refused up front (it used to be a capacity-overflow panic, or
    // an abort on the allocation of its placement list, before any thread started).
    for requested in [usize::MAX, 1 << 40, 1025] {
        assert!(
            matches!(unpinned(requested).run(ok), Err(CoresError::TooManyThreads { requested: r, max: 1024 }) if r == requested),
            "{requested}"
        );
    }
    // Unpinned, more threads than CPUs is fine.
    assert_eq!(
        unpinned(available + 1).run(|c: Core| async move { Ok::<_, BoxError>(c.index()) }).unwrap().len(),
        available + 1
    );
}

#[test]
fn a_core_whose_runtime_cannot_start_cancels_the_others() {
    // Core 1's ring cannot be made (0 entries); core 0 would sleep forever.
    let err = unpinned(2)
        .runtime(quartet::Builder::new().entries(0))
        .run(|_core: Core| async { Ok::<_, BoxError>(()) })
        .unwrap_err();
    assert!(matches!(err, CoresError::Runtime { core: 0, .. }), "{err}");
}

#[test]
fn a_failing_core_cancels_the_others_and_its_failure_names_its_core() {
    let cancelled_sleeps = AtomicUsize::new(0);
    let err = unpinned(3)
        .run(|core: Core| {
            let cancelled_sleeps = &cancelled_sleeps;
            async move {
                if core.index() == 1 {
                    quartet::checkpoint().await?;
                    return Err::<(), BoxError>("core 1 gives up".into());
                }
                let slept = quartet::sleep(FOREVER).await;
                let cancelled = slept.unwrap_err();
                assert_eq!(cancelled.reason(), &Reason::SiblingFailed("core 1 failed".into()));
                cancelled_sleeps.fetch_add(1, Ordering::SeqCst);
                Err(cancelled.into())
            }
        })
        .unwrap_err();
    assert_eq!(cancelled_sleeps.load(Ordering::SeqCst), 2, "both other cores were cancelled");
    let CoresError::Tasks(tasks) = err else { panic!("expected the bodies' failures, got {err}") };
    assert_eq!(tasks.failures().len(), 1, "the others' cancellations are not failures: {tasks}");
    assert_eq!(tasks.failures()[0].origin(), "core 1");
    assert_eq!(tasks.failures()[0].error().to_string(), "core 1 gives up");
}

#[test]
fn failures_on_several_cores_all_come_back() {
    let err = unpinned(3)
        .run(|core: Core| async move { Err::<(), BoxError>(format!("failure {}", core.index()).into()) })
        .unwrap_err();
    let CoresError::Tasks(tasks) = err else { panic!("expected failures") };
    let got: Vec<_> = tasks.failures().iter().map(|f| (f.origin().to_owned(), f.error().to_string())).collect();
    let expected: Vec<_> = (0..3).map(|i| (format!("core {i}"), format!("failure {i}"))).collect();
    assert_eq!(got, expected);
}

#[test]
fn a_panic_cancels_the_others_and_is_resumed_after_every_core_finished() {
    let finished = AtomicUsize::new(0);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        unpinned(2).run(|core: Core| {
            let finished = &finished;
            async move {
                if core.index() == 0 {
                    quartet::checkpoint().await?;
                    panic!("core 0 panics");
                }
                let slept = quartet::sleep(FOREVER).await;
                assert_eq!(slept.unwrap_err().reason(), &Reason::SiblingFailed("core 0 panicked".into()));
                finished.fetch_add(1, Ordering::SeqCst);
                Ok::<_, BoxError>(())
            }
        })
    }));
    let payload = caught.expect_err("the panic is resumed on the calling thread");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"core 0 panics"));
    assert_eq!(finished.load(Ordering::SeqCst), 1, "core 1 finished before the panic was resumed");
}

#[test]
fn the_group_handle_cancels_every_core_from_another_thread() {
    let group = unpinned(2);
    let stop = group.handle();
    let started = AtomicUsize::new(0);
    let err = std::thread::scope(|s| {
        s.spawn(|| {
            while started.load(Ordering::SeqCst) < 2 {
                std::thread::yield_now();
            }
            stop.cancel();
        });
        group.run(|_core: Core| {
            let started = &started;
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                quartet::sleep(FOREVER).await?;
                Ok::<_, BoxError>(())
            }
        })
    })
    .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
}

#[test]
fn graceful_cancellation_of_the_group_reaches_every_core() {
    let out = unpinned(2)
        .run(|core: Core| async move {
            if core.index() == 1 {
                core.group().cancel_gracefully(FOREVER);
            }
            wait_shutdown_requested().await?; // every core sees it, then finishes its work
            Ok::<_, BoxError>(core.index())
        })
        .unwrap();
    assert_eq!(out, vec![0, 1]);
}

/// Sends `sig` to the thread `tid` of this process (thread-directed: the test harness's other
/// threads do not block it, so a process-directed signal could kill the process).
fn signal_thread(tid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: tgkill takes no pointers; the thread is the test's calling thread, alive in `run`.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, sig) };
    assert_eq!(rc, 0);
}

#[test]
fn a_signal_cancels_the_whole_group() {
    // SAFETY: gettid takes no arguments.
    let caller = unsafe { libc::gettid() };
    let err = unpinned(2)
        .cancel_on_signals(&[Signal::User2])
        .run(|core: Core| async move {
            if core.index() == 0 {
                signal_thread(caller, libc::SIGUSR2);
            }
            let cancelled = quartet::sleep(FOREVER).await.unwrap_err();
            assert_eq!(cancelled.reason(), &Reason::Signal);
            Err::<(), BoxError>(cancelled.into())
        })
        .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
}

#[test]
fn a_first_signal_cancels_the_group_gracefully() {
    // SAFETY: gettid takes no arguments.
    let caller = unsafe { libc::gettid() };
    let out = unpinned(2)
        .cancel_on_signals_gracefully(&[Signal::User1], FOREVER)
        .run(|core: Core| async move {
            if core.index() == 1 {
                signal_thread(caller, libc::SIGUSR1);
            }
            wait_shutdown_requested().await?;
            Ok::<_, BoxError>(core.index())
        })
        .unwrap();
    assert_eq!(out, vec![0, 1]);
}

#[test]
fn a_channel_send_on_one_core_wakes_the_receiver_on_another() {
    let (tx, rx) = quartet::channel::<u64>(0);
    let out = unpinned(2).run(|core: Core| {
        let (tx, rx) = (tx.clone(), rx.clone());
        async move {
            if core.index() == 0 {
                for i in 0..100 {
                    tx.send(i).await?;
                }
                return Ok::<_, BoxError>(0);
            }
            let mut sum = 0;
            for _ in 0..100 {
                sum += rx.recv().await?.expect("a sender is alive");
            }
            Ok(sum)
        }
    });
    assert_eq!(out.unwrap(), vec![0, (0..100).sum::<u64>()]);
}

/// Runs in a child process (see the next test): core 1 fails, then core 0 panics; the group
/// resumes the panic and must say on stderr which core's failure it could not return.
#[test]
fn panic_over_a_core_failure_child_process() {
    if std::env::var_os("QUARTET_CORES_PANIC_REPORT_CHILD").is_none() {
        return;
    }
    let _ = unpinned(2).run(|core: Core| async move {
        if core.index() == 1 {
            return Err::<(), BoxError>("core 1 ran out of disk".into());
        }
        // Core 0 panics only once core 1 has failed (its failure cancels this sleep).
        let _ = quartet::sleep(FOREVER).await;
        panic!("core 0 panics after the failure");
        #[allow(unreachable_code)]
        Ok(())
    });
}

#[test]
fn a_resumed_panic_reports_the_other_cores_failures_on_stderr() {
    let out = std::process::Command::new(std::env::current_exe().expect("current exe"))
        .args(["--exact", "panic_over_a_core_failure_child_process", "--nocapture", "--test-threads=1"])
        .env("QUARTET_CORES_PANIC_REPORT_CHILD", "1")
        .output()
        .expect("re-run this test binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the panic reached the test: {stderr}");
    assert!(stderr.contains("core 0 panics after the failure"), "{stderr}");
    let report = stderr
        .lines()
        .skip_while(|l| !l.contains("a group of cores resumes a panic; 1 other failure"))
        .take(2)
        .collect::<Vec<_>>();
    assert_eq!(report.len(), 2, "no report of the failure behind the panic: {stderr}");
    assert!(report[1].contains("core 1") && report[1].contains("ran out of disk"), "{stderr}");
}
