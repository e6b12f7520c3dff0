//! `quartet::process`: children with piped stdio as quartet streams, waiting through the pidfd
//! (WAITID on the ring, or POLL_ADD on the pidfd as the fallback), kill, `run_process`, and the
//! rule that a child never outlives its owner (a cancelled wait or a drop kills and reaps it).

mod fs_support;

use fs_support::{Via, both, run_with};
use quartet::process::{Command, ProcessError, pipe, run_process};
use quartet::{BoxError, CancelScope, OpError, nursery, sleep};
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// True once `pid` is no child of ours any more: reaped (waitpid says ECHILD). Never reaps it.
fn reaped(pid: u32) -> bool {
    // SAFETY: all-zero is a valid siginfo_t.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid, writable siginfo_t; WNOWAIT leaves a zombie in place, so this only looks.
    let rc = unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) };
    rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD)
}

/// True if /proc lists `pid` as a child of this process (alive or zombie). A recycled pid
/// belongs to someone else's child, so this does not flake on pid reuse.
fn is_our_child(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // fields after the parenthesised command name: state, ppid, ...
    let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
    after.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id())
}

#[test]
fn cat_echoes_what_is_written_to_its_stdin() {
    both("cat", |_, _| async {
        let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let (input, output) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        // write and read at once: 200 kB is more than a pipe holds
        let (got, wrote) = nursery(async |n| {
            let expected = data.clone();
            n.spawn(async move {
                let (r, _) = input.write_all(expected).await;
                r?;
                input.close().await
            })?;
            let (r, buf) = output.read_to_end(Vec::new()).await;
            r?;
            Ok::<_, BoxError>((buf, ()))
        })
        .await
        .unwrap();
        let () = wrote;
        assert_eq!(got, data);
        assert!(child.wait().await.unwrap().success());
        assert!(reaped(child.id()));
    });
}

#[test]
fn wait_reports_exit_codes_and_signals() {
    both("wait-status", |_, _| async {
        let mut ok = Command::new("/bin/sh").args(["-c", "exit 0"]).spawn().unwrap();
        assert!(ok.wait().await.unwrap().success());
        let mut seven = Command::new("/bin/sh").args(["-c", "exit 7"]).spawn().unwrap();
        assert_eq!(seven.wait().await.unwrap().code(), Some(7));
        assert_eq!(seven.wait().await.unwrap().code(), Some(7), "a second wait returns the same status");
        let mut sleeper = Command::new("sleep").arg("100").spawn().unwrap();
        assert!(sleeper.try_wait().unwrap().is_none());
        assert!(is_our_child(sleeper.id()), "the /proc check sees a live child");
        sleeper.kill().unwrap();
        let status = sleeper.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(reaped(sleeper.id()));
        sleeper.kill().expect("kill after reaping does nothing");
    });
}

#[test]
fn cancelled_wait_kills_and_reaps_the_child() {
    both("wait-cancel", |_, _| async {
        let mut child = Command::new("sleep").arg("100").spawn().unwrap();
        let pid = child.id();
        let scope = CancelScope::new();
        let started = Instant::now();
        let r = scope
            .run(async {
                nursery(async |n| {
                    let handle = scope.handle();
                    n.spawn(async move {
                        sleep(Duration::from_millis(20)).await?;
                        handle.cancel();
                        Ok::<_, OpError>(())
                    })?;
                    child.wait().await?;
                    Ok::<_, BoxError>(())
                })
                .await
            })
            .await;
        assert!(matches!(r, Ok(None)), "the scope absorbed the cancellation: {r:?}");
        assert!(started.elapsed() < Duration::from_secs(50), "the wait did not run to the child's end");
        assert!(reaped(pid), "no zombie and no running child");
        assert!(!is_our_child(pid), "/proc shows no child {pid} of ours");
    });
}

#[test]
fn dropping_an_unreaped_child_kills_and_reaps_it() {
    let child = run_with(Via::Ring, async { Command::new("sleep").arg("100").spawn().unwrap() });
    let pid = child.id();
    drop(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !reaped(pid) {
        assert!(Instant::now() < deadline, "child {pid} still not reaped");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn run_process_captures_stdout_and_stderr() {
    both("run", |_, _| async {
        let out = run_process(Command::new("/bin/sh").args(["-c", "echo out; echo err >&2"])).await.unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        // more output than a pipe holds, on both streams
        let big =
            run_process(Command::new("/bin/sh").args(["-c", "head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2"]))
                .await
                .unwrap();
        assert_eq!((big.stdout.len(), big.stderr.len()), (300_000, 200_000));
    });
}

#[test]
fn run_process_reports_a_failure_with_status_and_stderr() {
    both("run-fail", |_, _| async {
        let e = run_process(Command::new("/bin/sh").args(["-c", "echo partial; echo broken >&2; exit 3"]))
            .await
            .unwrap_err();
        match &e {
            ProcessError::Failed { status, stdout, stderr, .. } => {
                assert_eq!(status.code(), Some(3));
                assert_eq!((stdout.as_slice(), stderr.as_slice()), (&b"partial\n"[..], &b"broken\n"[..]));
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("broken"), "{e}");
        assert!(!e.is_cancelled());
        let missing = run_process(&mut Command::new("/nonexistent/program")).await.unwrap_err();
        assert!(
            matches!(&missing, ProcessError::Spawn { source, .. } if source.kind() == ErrorKind::NotFound),
            "{missing:?}"
        );
    });
}

#[test]
fn cancelled_run_process_leaves_no_process_behind() {
    both("run-cancel", |_, dir| async move {
        let pid_file = dir.join("pid");
        let script = format!("echo $$ > {}; exec sleep 100", pid_file.display());
        let scope = CancelScope::new();
        let r = nursery(async |n| {
            let handle = scope.handle();
            let pid_file = pid_file.clone();
            n.spawn(async move {
                while std::fs::read_to_string(&pid_file).map_or(true, |s| !s.ends_with('\n')) {
                    sleep(Duration::from_millis(2)).await?;
                }
                handle.cancel();
                Ok::<_, OpError>(())
            })?;
            let out =
                scope.run(async { run_process(Command::new("/bin/sh").args(["-c", &script])).await.map(Some) }).await;
            Ok::<_, BoxError>(out)
        })
        .await
        .unwrap();
        assert!(matches!(r, Ok(None)), "cancelled and absorbed: {r:?}");
        let pid: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        assert!(reaped(pid), "the killed child was reaped");
        assert!(!is_our_child(pid), "/proc shows no child {pid} of ours");
    });
}

#[test]
fn a_pipeline_connects_one_child_to_the_next() {
    both("pipeline", |_, _| async {
        let mut producer = Command::new("printf").arg("pear\\napple\\nfig\\n").stdout(Stdio::piped()).spawn().unwrap();
        let mid = producer.stdout.take().unwrap().into_stdio().unwrap();
        let mut sort = Command::new("sort").stdin(mid).stdout(Stdio::piped()).spawn().unwrap();
        let (r, out) = sort.stdout.take().unwrap().read_to_end(Vec::new()).await;
        r.unwrap();
        assert_eq!(out, b"apple\nfig\npear\n");
        assert!(producer.wait().await.unwrap().success() && sort.wait().await.unwrap().success());
    });
}

#[test]
fn pipe_round_trips_and_a_closed_reader_breaks_the_writer() {
    both("pipe", |_, _| async {
        let (r, w) = pipe().unwrap();
        w.write_all(b"ping".to_vec()).await.0.unwrap();
        let (n, buf) = r.read(Vec::with_capacity(16)).await;
        assert_eq!(&buf[..n.unwrap()], b"ping");
        r.close().await.unwrap();
        let (res, _) = w.write(b"lost".to_vec()).await;
        assert_eq!(res.unwrap_err().as_io().map(|e| e.kind()), Some(ErrorKind::BrokenPipe));
    });
}

#[test]
fn cancelled_pipe_read_takes_no_bytes() {
    both("pipe-cancel", |_, _| async {
        let (r, w) = pipe().unwrap();
        let scope = CancelScope::new();
        let read = scope
            .run(async {
                nursery(async |n| {
                    let h = scope.handle();
                    n.spawn(async move {
                        sleep(Duration::from_millis(5)).await?;
                        h.cancel();
                        Ok::<_, OpError>(())
                    })?;
                    let (res, _) = r.read(Vec::with_capacity(8)).await;
                    Ok::<_, BoxError>(res?)
                })
                .await
            })
            .await;
        assert!(matches!(read, Ok(None)), "{read:?}");
        w.write_all(b"kept".to_vec()).await.0.unwrap();
        let (n, buf) = r.read(Vec::with_capacity(8)).await;
        assert_eq!(&buf[..n.unwrap()], b"kept");
    });
}

#[test]
fn process_operations_yield_at_least_once() {
    both("proc-yields", |_, _| async {
        let mut child = Command::new("true").stdout(Stdio::piped()).spawn().unwrap();
        let out = child.stdout.take().unwrap();
        fs_support::yields("read_to_end", out.read_to_end(Vec::new())).await.0.unwrap();
        fs_support::yields("wait", child.wait()).await.unwrap();
        fs_support::yields("wait after reaping", child.wait()).await.unwrap();
        fs_support::yields("run_process", run_process(&mut Command::new("true"))).await.unwrap();
    });
}

#[test]
fn children_do_not_inherit_signals_blocked_for_a_signal_receiver() {
    run_with(Via::Ring, async {
        let _signals = quartet::signal::Signals::new(&[quartet::signal::Signal::Terminate]).unwrap();
        let mut child = Command::new("sleep").arg("100").spawn().unwrap();
        child.send_signal(quartet::signal::Signal::Terminate).unwrap();
        // a child that inherited the blocked SIGTERM would sleep on (the watchdog would fire)
        assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGTERM));
    });
}

#[test]
fn pipes_are_owned_read_and_write_streams() {
    use quartet::runtime::io::{OwnedRead, OwnedWrite};
    async fn pump(from: &impl OwnedRead, to: &impl OwnedWrite) -> usize {
        let (n, buf) = from.read(Vec::new()).await; // an empty Vec grows for the read
        let n = n.unwrap();
        let (w, _) = to.write(buf).await;
        assert_eq!(w.unwrap(), n);
        n
    }
    both("owned-io", |_, _| async {
        let mut cat = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let (input, output) = (cat.stdin.take().unwrap(), cat.stdout.take().unwrap());
        let (r, w) = pipe().unwrap();
        w.write_all(b"through".to_vec()).await.0.unwrap();
        assert_eq!(pump(&r, &input).await, 7);
        input.close().await.unwrap();
        let (n, out) = output.read_to_end(Vec::new()).await;
        n.unwrap();
        assert_eq!(out, b"through");
        assert!(cat.wait().await.unwrap().success());
    });
}
