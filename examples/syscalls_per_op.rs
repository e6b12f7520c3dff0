//! How many `io_uring_enter` calls quartet makes per operation, counted by the driver.
//!
//! `cargo run --release --example syscalls_per_op [WORKLOAD]` runs each workload (or only the named
//! one) of 100 000 ops on a fresh runtime and prints, from the driver's own counters
//! ([`quartet::stats`]), the `io_uring_enter` calls, SQEs and CQEs per op.
//!
//! Workloads: `nop-seq` (one task, one nop after another), `nop-64` (64 tasks doing nops
//! concurrently), `read-seq` (`read_at` of a small cached file), `read-64` (the same from 64
//! tasks), `recv-seq` (1-byte `recv`s on a loopback TCP connection whose data is already there).
//!
//! To cross-check with the kernel's view, run one workload under strace:
//! `strace -c -f -e trace=io_uring_enter target/release/examples/syscalls_per_op nop-seq`.

use quartet::fs::File;
use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, OpError, SpawnError, nop, nursery};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const OPS: u64 = 100_000;
const TASKS: u64 = 64;

/// One measured workload.
struct Row {
    name: &'static str,
    ops: u64,
    enters: u64,
    sqes: u64,
    cqes: u64,
    elapsed: Duration,
}

async fn nops(count: u64) -> Result<(), OpError> {
    for _ in 0..count {
        nop().await?;
    }
    Ok(())
}

async fn reads(file: &File, count: u64) -> Result<(), OpError> {
    let mut buf = Vec::with_capacity(64);
    for _ in 0..count {
        buf.clear();
        let (n, b) = file.read_at(buf, 0).await;
        buf = b;
        assert_eq!(n?, 64);
    }
    Ok(())
}

async fn recvs(stream: &TcpStream, count: u64) -> Result<(), OpError> {
    let mut buf = Vec::with_capacity(1);
    for _ in 0..count {
        buf.clear();
        let (n, b) = stream.recv(buf).await;
        buf = b;
        assert_eq!(n?, 1);
    }
    Ok(())
}

/// Splits `OPS` ops over `tasks` concurrent tasks; `f(count)` is one task's share.
async fn concurrently<'a, F, Fut>(tasks: u64, f: F) -> Result<(), BoxError>
where
    F: Fn(u64) -> Fut + 'a,
    Fut: Future<Output = Result<(), OpError>> + 'a,
{
    nursery(async |n| {
        for i in 0..tasks {
            n.spawn(f(OPS / tasks + u64::from(i < OPS % tasks)))?;
        }
        Ok::<_, SpawnError>(())
    })
    .await?;
    Ok(())
}

/// Runs workload `name` on a fresh runtime and counts only what the workload itself does.
fn measure(name: &'static str, path: &Path) -> Result<Row, BoxError> {
    quartet::run(async {
        let file = File::open(path).await?;
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
        let mut peer = std::net::TcpStream::connect(listener.local_addr()?)?;
        let (stream, _) = listener.accept().await?;
        if name == "recv-seq" {
            // All the bytes wait in the socket buffers before the first recv.
            peer.set_write_timeout(Some(Duration::from_secs(5)))?;
            peer.write_all(&vec![1u8; OPS as usize])?;
        }
        let before = quartet::stats().unwrap().driver;
        let start = Instant::now();
        match name {
            "nop-seq" => nops(OPS).await?,
            "nop-64" => concurrently(TASKS, nops).await?,
            "read-seq" => reads(&file, OPS).await?,
            "read-64" => concurrently(TASKS, |n| reads(&file, n)).await?,
            "recv-seq" => recvs(&stream, OPS).await?,
            other => return Err(format!("unknown workload {other}").into()),
        }
        let elapsed = start.elapsed();
        let after = quartet::stats().unwrap().driver;
        drop(peer);
        let ops = after.ops - before.ops;
        Ok::<_, BoxError>(Row {
            name,
            ops,
            enters: after.enters - before.enters,
            sqes: after.sqes - before.sqes,
            cqes: after.cqes - before.cqes,
            elapsed,
        })
    })?
}

fn main() -> ExitCode {
    let all = ["nop-seq", "nop-64", "read-seq", "read-64", "recv-seq"];
    let only = std::env::args().nth(1);
    let path = std::env::temp_dir().join(format!("quartet-syscalls-per-op-{}", std::process::id()));
    if let Err(e) = std::fs::write(&path, [7u8; 64]) {
        eprintln!("cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!(
        "{:<10} {:>8} {:>9} {:>10} {:>9} {:>9} {:>10}",
        "workload", "ops", "enters", "enters/op", "sqes/op", "cqes/op", "ns/op"
    );
    let mut code = ExitCode::SUCCESS;
    for name in all.into_iter().filter(|n| only.as_deref().is_none_or(|o| o == *n)) {
        match measure(name, &path) {
            Ok(r) => println!(
                "{:<10} {:>8} {:>9} {:>10.4} {:>9.4} {:>9.4} {:>10.0}",
                r.name,
                r.ops,
                r.enters,
                r.enters as f64 / r.ops as f64,
                r.sqes as f64 / r.ops as f64,
                r.cqes as f64 / r.ops as f64,
                r.elapsed.as_nanos() as f64 / r.ops as f64
            ),
            Err(e) => {
                eprintln!("{name}: {e}");
                code = ExitCode::FAILURE;
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    code
}
