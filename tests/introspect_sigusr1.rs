//! `Builder::dump_on_sigusr1`: a real `SIGUSR1`, sent with `kill(2)` to a child process, prints
//! the task tree to the child's stderr. The child is this test binary, re-executed with an
//! environment variable that makes the test act as the hung program.

use quartet::{BoxError, nursery};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CHILD: &str = "QUARTET_SIGUSR1_TEST_CHILD";
/// Set in the child of the chaining test: install a handler of its own before the runtime's.
const CHILD_WITH_OWN_HANDLER: &str = "QUARTET_SIGUSR1_TEST_OWN_HANDLER";
/// Liveness bound only: a passing run takes milliseconds.
const LIVENESS: Duration = Duration::from_secs(60);

/// Set by the program's own `SIGUSR1` handler (the chaining test).
static OWN_HANDLER_RAN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn own_handler(_: libc::c_int) {
    OWN_HANDLER_RAN.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// The hung program: a task parked in a sleep that will not end; says "ready" once it runs.
/// With `CHILD_WITH_OWN_HANDLER` set it first installs a `SIGUSR1` handler of its own, and says
/// "own handler ran" once that handler has been called.
fn child() {
    let own = std::env::var_os(CHILD_WITH_OWN_HANDLER).is_some();
    if own {
        // SAFETY: a zeroed sigaction with a handler that only stores an atomic (signal-safe).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = own_handler as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
        }
    }
    quartet::Builder::new()
        .dump_on_sigusr1(true)
        .run(async {
            let r: Result<(), quartet::NurseryError> = nursery(async |n| -> Result<(), BoxError> {
                n.spawn_named("sleeper", quartet::sleep(Duration::from_secs(3600)))?;
                quartet::yield_now().await;
                println!("QUARTET-CHILD-READY");
                std::io::stdout().flush()?;
                if own {
                    // Poll the flag (liveness-bounded: the parent kills us when done).
                    while !OWN_HANDLER_RAN.load(std::sync::atomic::Ordering::SeqCst) {
                        quartet::sleep(Duration::from_millis(5)).await?;
                    }
                    println!("QUARTET-OWN-HANDLER-RAN");
                    std::io::stdout().flush()?;
                }
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
    let (stderr, _) = signal_child("sigusr1_prints_the_task_tree_to_stderr", false);
    assert!(stderr.iter().any(|l| l.contains("task tree (SIGUSR1)")), "{stderr:#?}");
    assert!(stderr.iter().any(|l| l.contains("task 'sleeper'")), "{stderr:#?}");
}

#[test]
fn a_handler_installed_before_the_runtime_still_runs_after_the_dump() {
    if std::env::var(CHILD).is_ok() {
        return child();
    }
    let (stderr, stdout) = signal_child("a_handler_installed_before_the_runtime_still_runs_after_the_dump", true);
    assert!(stderr.iter().any(|l| l.contains("task tree (SIGUSR1)")), "{stderr:#?}");
    assert!(
        stdout.iter().any(|l| l.contains("QUARTET-OWN-HANDLER-RAN")),
        "the program's own handler never ran: {stdout:#?}"
    );
}

/// Starts the child (running test `name`), waits until it is ready, sends it `SIGUSR1`, and
/// collects its output until the dump (and, with `own`, the own handler's line) has appeared.
/// Returns the child's stderr and stdout lines.
fn signal_child(name: &str, own: bool) -> (Vec<String>, Vec<String>) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"]).env(CHILD, "1");
    if own {
        cmd.env(CHILD_WITH_OWN_HANDLER, "1");
    }
    let mut proc = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start the child");
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
    let mut stdout = Vec::new();
    let (mut dumped, mut own_ran) = (false, !own);
    while !(dumped && own_ran) {
        let Ok((is_err, line)) = rx.recv_timeout(LIVENESS) else { break };
        if is_err {
            // The sleeper's own row, then its wait (the body's sleep is listed above it).
            let after_sleeper = stderr.last().is_some_and(|l: &String| l.contains("task 'sleeper'"));
            dumped |= after_sleeper && line.contains("waits on timer");
            stderr.push(line);
        } else {
            own_ran |= line.contains("QUARTET-OWN-HANDLER-RAN");
            stdout.push(line);
        }
    }
    let _ = proc.kill();
    let _ = proc.wait();
    assert!(dumped, "no task tree on stderr: {stderr:#?}");
    (stderr, stdout)
}
