//! 4 KiB random reads from a file in the page cache, D reads in flight.
//!
//! quartet: D children, each looping `File::read_at`. raw: one io_uring with D reads in flight.
//! tokio-fs: D tasks, each with its own `tokio::fs::File`, `seek` + `read_exact` (how tokio::fs is
//! used; each call is a trip to the blocking pool). tokio-pread: D tasks, each read one
//! `spawn_blocking(pread)` (the cheapest way to read a file from tokio).
//!
//! Figure: reads per second. Offsets are 4 KiB aligned and uniform over the file.

use super::Rng;
use crate::child::{Metrics, Params};
use std::time::{Duration, Instant};

const BLOCK: u64 = 4096;

/// One run of `peer`.
pub fn run(peer: &str, p: &Params) -> Result<Metrics, String> {
    let path = p.str("path")?.to_string();
    let ops = p.num("ops")?;
    let depth = p.num("depth")? as usize;
    let blocks = std::fs::metadata(&path).map_err(|e| format!("{path}: {e}"))?.len() / BLOCK;
    if blocks == 0 {
        return Err("file too small".into());
    }
    let dt = match peer {
        "quartet" => quartet(&path, ops, depth, blocks)?,
        "raw" => raw(&path, ops, depth, blocks)?,
        "tokio-fs" => super::tokio_ct()?.block_on(tokio_fs(path, ops, depth, blocks))?,
        "tokio-pread" => super::tokio_ct()?.block_on(tokio_pread(path, ops, depth, blocks))?,
        other => return Err(format!("unknown peer {other}")),
    };
    Ok(Metrics::from([("ops_per_s".to_string(), ops as f64 / dt.as_secs_f64())]))
}

/// Creates (or reuses) a file of `size` bytes at `path` and reads it once so it is cached.
pub fn prepare(path: &std::path::Path, size: u64) -> Result<(), String> {
    use std::io::{Read, Write};
    let ok = std::fs::metadata(path).map(|m| m.len() == size).unwrap_or(false);
    if !ok {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let mut f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut rng = Rng::new(1);
        let chunk: Vec<u8> = (0..1 << 20).map(|_| rng.next_u64() as u8).collect();
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n]).map_err(|e| e.to_string())?;
            left -= n as u64;
        }
    }
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf).map_err(|e| e.to_string())? > 0 {}
    Ok(())
}

fn quartet(path: &str, ops: u64, depth: usize, blocks: u64) -> Result<Duration, String> {
    use std::cell::Cell;
    let out = quartet::run(async move {
        let f = quartet::fs::File::open(path).await.map_err(|e| e.to_string())?;
        let issued = Cell::new(0u64);
        let t0 = Instant::now();
        quartet::nursery(async |nur| {
            for c in 0..depth {
                let (f, issued) = (&f, &issued);
                nur.spawn(async move {
                    let mut rng = Rng::new(c as u64 + 1);
                    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK as usize);
                    while issued.get() < ops {
                        issued.set(issued.get() + 1);
                        buf.clear();
                        let (r, b) = f.read_at(buf, rng.below(blocks) * BLOCK).await;
                        buf = b;
                        if r? != BLOCK as usize {
                            return Err(quartet::BoxError::from("short read"));
                        }
                    }
                    Ok(())
                })?;
            }
            Ok::<_, quartet::SpawnError>(())
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, String>(t0.elapsed())
    });
    out.map_err(|e| e.to_string())?
}

fn raw(path: &str, ops: u64, depth: usize, blocks: u64) -> Result<Duration, String> {
    use crate::echo::raw::{push, ring};
    use io_uring::{opcode, types};
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut ring = ring((depth as u32).next_power_of_two().max(8))?;
    // Leaked: the child process exits after this run, and no error path can free a buffer the
    // kernel may still write.
    let bufs: &'static mut [Box<[u8]>] =
        Vec::leak((0..depth).map(|_| vec![0u8; BLOCK as usize].into_boxed_slice()).collect());
    let mut rng = Rng::new(1);
    let (mut issued, mut done) = (0u64, 0u64);
    let t0 = Instant::now();
    let mut submit = |ring: &mut io_uring::IoUring, i: usize, rng: &mut Rng| {
        let e = opcode::Read::new(types::Fd(f.as_raw_fd()), bufs[i].as_mut_ptr(), BLOCK as u32)
            .offset(rng.below(blocks) * BLOCK)
            .build()
            .user_data(i as u64);
        // SAFETY: the buffers are leaked, so they outlive every read.
        unsafe { push(ring, &e) }
    };
    for i in 0..depth.min(ops as usize) {
        submit(&mut ring, i, &mut rng)?;
        issued += 1;
    }
    while done < issued {
        ring.submit_and_wait(1).map_err(|e| e.to_string())?;
        let cqes: Vec<(u64, i32)> = ring.completion().map(|c| (c.user_data(), c.result())).collect();
        for (i, res) in cqes {
            done += 1;
            if res != BLOCK as i32 {
                return Err(format!("read returned {res}"));
            }
            if issued < ops {
                submit(&mut ring, i as usize, &mut rng)?;
                issued += 1;
            }
        }
    }
    Ok(t0.elapsed())
}

async fn tokio_fs(path: String, ops: u64, depth: usize, blocks: u64) -> Result<Duration, String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let issued = Arc::new(AtomicU64::new(0));
    let mut files = Vec::with_capacity(depth);
    for _ in 0..depth {
        files.push(tokio::fs::File::open(&path).await.map_err(|e| e.to_string())?);
    }
    let t0 = Instant::now();
    let mut js = tokio::task::JoinSet::new();
    for (c, mut f) in files.into_iter().enumerate() {
        let issued = issued.clone();
        js.spawn(async move {
            let mut rng = Rng::new(c as u64 + 1);
            let mut buf = vec![0u8; BLOCK as usize];
            while issued.fetch_add(1, Ordering::Relaxed) < ops {
                f.seek(std::io::SeekFrom::Start(rng.below(blocks) * BLOCK)).await?;
                f.read_exact(&mut buf).await?;
            }
            Ok::<_, std::io::Error>(())
        });
    }
    while let Some(r) = js.join_next().await {
        r.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    }
    Ok(t0.elapsed())
}

async fn tokio_pread(path: String, ops: u64, depth: usize, blocks: u64) -> Result<Duration, String> {
    use std::os::unix::fs::FileExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let f = Arc::new(std::fs::File::open(&path).map_err(|e| e.to_string())?);
    let issued = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut js = tokio::task::JoinSet::new();
    for c in 0..depth {
        let (f, issued) = (f.clone(), issued.clone());
        js.spawn(async move {
            let mut rng = Rng::new(c as u64 + 1);
            let mut buf = vec![0u8; BLOCK as usize];
            while issued.fetch_add(1, Ordering::Relaxed) < ops {
                let (f, off) = (f.clone(), rng.below(blocks) * BLOCK);
                let (r, b) = tokio::task::spawn_blocking(move || {
                    let r = f.read_exact_at(&mut buf, off);
                    (r, buf)
                })
                .await
                .map_err(std::io::Error::other)?;
                buf = b;
                r?;
            }
            Ok::<_, std::io::Error>(())
        });
    }
    while let Some(r) = js.join_next().await {
        r.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    }
    Ok(t0.elapsed())
}
