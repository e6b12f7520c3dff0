//! A process pipeline with quartet in the middle: `seq 1 N | (quartet) | sort -rn`.
//!
//! Usage: `cargo run --example process_pipeline [N]` (default 1000).
//!
//! - `seq` produces numbers on its stdout pipe; a quartet task reads them (ring reads on the
//!   pipe), keeps the multiples of 7, squares them and writes them into `sort`'s stdin; another
//!   task reads `sort`'s output. Both tasks are children of one nursery; closing `sort`'s stdin is
//!   how `sort` learns the input is complete.
//! - then `ls / | sort -r`, wired child to child (`PipeReader::into_stdio`), with no bytes passing
//!   through this process;
//! - then `run_process(uname -sr)`: run, capture, check the exit status.
//!
//! A child never outlives the code that owns it: Ctrl-C kills the process group as usual, and a
//! cancelled `wait` would kill and reap its child. [`largest_squares`] is reused by
//! `tests/process_pipeline_example.rs`.

use quartet::process::{Command, PipeReader, PipeWriter, run_process};
use quartet::{BoxError, nursery};
use std::process::{ExitCode, Stdio};

/// The `keep` largest squares of the multiples of 7 in `1..=n`, computed by `seq | quartet | sort`.
pub async fn largest_squares(n: u32, keep: usize) -> Result<Vec<u64>, BoxError> {
    let mut producer = Command::new("seq").args(["1", &n.to_string()]).stdout(Stdio::piped()).spawn()?;
    let mut consumer = Command::new("sort").arg("-rn").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let from = producer.stdout.take().ok_or("seq has no stdout pipe")?;
    let to = consumer.stdin.take().ok_or("sort has no stdin pipe")?;
    let sorted = consumer.stdout.take().ok_or("sort has no stdout pipe")?;
    let text = nursery(async |n| {
        n.spawn_named("transform", transform(from, to))?;
        let (r, text) = sorted.read_to_end(Vec::new()).await;
        r?;
        Ok::<_, BoxError>(text)
    })
    .await?;
    for (name, child) in [("seq", &mut producer), ("sort", &mut consumer)] {
        let status = child.wait().await?;
        if !status.success() {
            return Err(format!("{name} failed: {status}").into());
        }
    }
    let text = String::from_utf8(text)?;
    Ok(text.lines().take(keep).map(str::parse).collect::<Result<_, _>>()?)
}

/// Reads numbers, one per line, and writes the squares of the multiples of 7.
async fn transform(from: PipeReader, to: PipeWriter) -> Result<(), BoxError> {
    let mut pending = Vec::new();
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        let (r, b) = from.read(buf).await;
        buf = b;
        if r? == 0 {
            break;
        }
        pending.extend_from_slice(&buf);
        let mut out = String::new();
        while let Some(end) = pending.iter().position(|&c| c == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let v: u64 = std::str::from_utf8(&line[..end])?.trim().parse()?;
            if v % 7 == 0 {
                out.push_str(&format!("{}\n", v * v));
            }
        }
        let (r, _) = to.write_all(out).await;
        r?;
    }
    to.close().await?; // end of input: sort can now sort and print
    Ok(())
}

/// `ls / | sort -r`: the two children talk through a pipe this process never reads.
async fn listing() -> Result<String, BoxError> {
    let mut ls = Command::new("ls").arg("/").stdout(Stdio::piped()).spawn()?;
    let middle = ls.stdout.take().ok_or("ls has no stdout pipe")?.into_stdio()?;
    let mut sort = Command::new("sort").arg("-r").stdin(middle).stdout(Stdio::piped()).spawn()?;
    let (r, out) = sort.stdout.take().ok_or("sort has no stdout pipe")?.read_to_end(Vec::new()).await;
    r?;
    ls.wait().await?;
    sort.wait().await?;
    Ok(String::from_utf8(out)?)
}

async fn demo(n: u32) -> Result<(), BoxError> {
    let top = largest_squares(n, 5).await?;
    println!("largest squares of multiples of 7 up to {n}: {top:?}");
    let listing = listing().await?;
    println!("ls / | sort -r, first three: {:?}", listing.lines().take(3).collect::<Vec<_>>());
    let uname = run_process(Command::new("uname").arg("-sr")).await?;
    print!("uname -sr: {}", String::from_utf8_lossy(&uname.stdout));
    Ok(())
}

fn main() -> ExitCode {
    let n = match std::env::args().nth(1).map(|a| a.parse::<u32>()) {
        None => 1000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: process_pipeline [N]  ({e})");
            return ExitCode::from(2);
        }
    };
    match quartet::run(demo(n)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("process_pipeline: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("process_pipeline: cannot start: {e}");
            ExitCode::FAILURE
        }
    }
}
