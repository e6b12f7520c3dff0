//! `Builder::dump_on_sigusr1`: a real `SIGUSR1`, sent with `kill(2)` to a child process, prints
//! the task tree to the child's stderr. The child is this test binary, re-executed with an
//! environment variable that makes the test act as the hung program.

use quartet::{BoxError, nursery};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CHILD: &str = "QUARTET_SIGUSR1_TEST_CHILD";
/// Liveness bound only: a passing run takes milliseconds.
const LIVENESS: Duration = Duration::from_secs(60);

/// The hung program: a task parked in a sleep that will not end; says "ready" once it runs.
fn child() {
    quartet::Builder::new()
        .dump_on_sigusr1(true)
        .run(async {
            let r: Result<(), quartet::NurseryError> = nursery(async |n| -> Result<(), BoxError> {
                n.spawn_named("sleeper", quartet::sleep(Duration::from_secs(3600)))?;
                quartet::yield_now().await;
                println!("QUARTET-CHILD-READY");
                std::io::stdout().flush()?;
                quartet::sleep(LIVENESS).await?; // then exit: the parent has given up
                n.cancel();
                Ok(())
            })
            .await;
            r.unwrap();
        })
        .unwrap();
}

#[test]
fn sigusr1_prints_the_task_tree_to_stderr() {
    if std::env::var(CHILD).is_ok() {
        return child();
    }
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sigusr1_prints_the_task_tree_to_stderr", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child");
    let (tx, rx) = mpsc::channel::<(bool, String)>();
    let out = BufReader::new(proc.stdout.take().unwrap());
    let err = BufReader::new(proc.stderr.take().unwrap());
    let tx2 = tx.clone();
    std::thread::spawn(move || out.lines().map_while(Result::ok).for_each(|l| drop(tx.send((false, l)))));
    std::thread::spawn(move || err.lines().map_while(Result::ok).for_each(|l| drop(tx2.send((true, l)))));
    // Wait for "ready" (the runtime, and so the handler, is up), then signal.
    loop {
        let (is_err, line) = rx.recv_timeout(LIVENESS).expect("the child never said ready");
        if !is_err && line.contains("QUARTET-CHILD-READY") {
            break;
        }
    }
    // SAFETY: kill(2) on our own child's pid, which has not been reaped (we still hold it).
    let rc = unsafe { libc::kill(proc.id() as libc::pid_t, libc::SIGUSR1) };
    assert_eq!(rc, 0);
    let mut stderr = Vec::new();
    let found = loop {
        let Ok((is_err, line)) = rx.recv_timeout(LIVENESS) else { break false };
        if is_err {
            // The sleeper's own row, then its wait (the body's sleep is listed above it).
            let after_sleeper = stderr.last().is_some_and(|l: &String| l.contains("task 'sleeper'"));
            stderr.push(line.clone());
            if after_sleeper && line.contains("waits on timer") {
                break true;
            }
        }
    };
    let _ = proc.kill();
    let _ = proc.wait();
    assert!(found, "no task tree on stderr: {stderr:#?}");
    assert!(stderr.iter().any(|l| l.contains("task tree (SIGUSR1)")), "{stderr:#?}");
    assert!(stderr.iter().any(|l| l.contains("task 'sleeper'")), "{stderr:#?}");
}
