//! Whole-file and per-file operations of `quartet::fs` (read, write, set_len, fallocate, sync,
//! metadata) and the `read_dir` stream, on the ring and through the worker-thread fallbacks.

use crate::fs_support;

use fs_support::{Via, both, kind, next, ring_ops, run_with};
use quartet::fs::{self, File, OpenOptions};
use quartet::{CancelScope, OpError};
use std::collections::BTreeSet;
use std::io::ErrorKind;

#[test]
fn read_returns_a_whole_file_larger_than_one_read() {
    both("read", |_, dir| async move {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.join("big"), &data).unwrap();
        assert_eq!(fs::read(dir.join("big")).await.unwrap(), data);
        std::fs::write(dir.join("empty"), b"").unwrap();
        assert!(fs::read(dir.join("empty")).await.unwrap().is_empty());
    });
}

#[test]
fn read_of_a_proc_file_whose_size_is_zero_returns_its_content() {
    both("read-proc", |_, _dir| async move {
        let status = fs::read("/proc/self/status").await.unwrap();
        assert!(String::from_utf8(status).unwrap().contains("Pid:"));
    });
}

#[test]
fn read_of_a_missing_file_is_not_found() {
    both("read-missing", |_, dir| async move {
        assert_eq!(kind(&fs::read(dir.join("nope")).await.unwrap_err()), Some(ErrorKind::NotFound));
    });
}

#[test]
fn write_creates_and_then_truncates() {
    both("write", |_, dir| async move {
        let p = dir.join("f");
        fs::write(&p, vec![b'a'; 100_000]).await.unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), vec![b'a'; 100_000]);
        fs::write(&p, "short").await.unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"short", "the old, longer content is gone");
        fs::write(&p, Vec::new()).await.unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 0);
    });
}

#[test]
fn cancelled_write_neither_creates_nor_truncates() {
    both("write-cancelled", |_, dir| async move {
        std::fs::write(dir.join("old"), b"precious").unwrap();
        let scope = CancelScope::new();
        scope.cancel();
        let (new, old) = scope
            .run(async {
                Ok::<_, OpError>((fs::write(dir.join("new"), "x").await, fs::write(dir.join("old"), "x").await))
            })
            .await
            .unwrap()
            .unwrap();
        assert!(new.unwrap_err().is_cancelled() && old.unwrap_err().is_cancelled());
        assert!(!dir.join("new").exists());
        assert_eq!(std::fs::read(dir.join("old")).unwrap(), b"precious");
    });
}

#[test]
fn set_len_truncates_and_extends_with_zeros() {
    for via in [Via::Ring, Via::Fallback] {
        let dir = fs_support::TempDir::new("set-len");
        let p = dir.join("f");
        std::fs::write(&p, b"hello world").unwrap();
        let ring = run_with(via, async {
            let f = OpenOptions::new().read(true).write(true).open(&p).await.unwrap();
            let before = ring_ops();
            f.set_len(5).await.unwrap();
            let used = ring_ops() - before;
            assert_eq!(std::fs::read(&p).unwrap(), b"hello");
            f.set_len(8).await.unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), b"hello\0\0\0");
            f.close().await.unwrap();
            used
        });
        // FTRUNCATE is a ring op from Linux 6.9; older kernels take the fallback on both runs.
        if via == Via::Fallback {
            assert_eq!(ring, 0, "the fallback uses a worker thread");
        }
    }
}

#[test]
fn fallocate_extends_the_file_and_reserves_blocks() {
    both("fallocate", |_, dir| async move {
        let f = File::create(dir.join("f")).await.unwrap();
        f.fallocate(0, 1 << 20).await.unwrap();
        let m = f.metadata().await.unwrap();
        assert_eq!(m.len(), 1 << 20);
        assert!(m.blocks() * 512 >= 1 << 20, "{} blocks", m.blocks());
        f.close().await.unwrap();
    });
}

#[test]
fn sync_all_and_sync_data_succeed_after_a_write() {
    both("sync", |_, dir| async move {
        let f = File::create(dir.join("f")).await.unwrap();
        f.write_all_at(b"durable".to_vec(), 0).await.0.unwrap();
        f.sync_data().await.unwrap();
        f.sync_all().await.unwrap();
        f.close().await.unwrap();
        assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"durable");
    });
}

#[test]
fn read_dir_streams_every_entry_with_its_kind() {
    both("read-dir", |_, dir| async move {
        // more entries than one worker batch
        let mut expected = BTreeSet::new();
        for i in 0..150 {
            std::fs::write(dir.join(format!("f{i}")), b"").unwrap();
            expected.insert(format!("f{i}"));
        }
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::os::unix::fs::symlink("f0", dir.join("ln")).unwrap();
        let mut listing = fs::read_dir(dir.path()).await.unwrap();
        let mut seen = BTreeSet::new();
        while let Some(e) = next(&mut listing).await {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            assert_eq!(e.path(), dir.join(&name));
            match name.as_str() {
                "sub" => assert!(e.file_type().is_dir()),
                "ln" => assert!(e.file_type().is_symlink()),
                _ => assert!(e.file_type().is_file(), "{name}"),
            }
            assert!(seen.insert(name), "no entry twice");
        }
        expected.insert("sub".into());
        expected.insert("ln".into());
        assert_eq!(seen, expected);
        assert!(listing.next_entry().await.unwrap().is_none(), "stays finished");
    });
}

#[test]
fn cancelled_read_dir_step_consumes_no_entry() {
    both("read-dir-cancel", |_, dir| async move {
        for i in 0..3 {
            std::fs::write(dir.join(format!("f{i}")), b"").unwrap();
        }
        let mut listing = fs::read_dir(dir.path()).await.unwrap();
        let cancelled_step = async |listing: &mut fs::ReadDir| {
            let scope = CancelScope::new();
            scope.cancel();
            let r = scope.run(async { Ok::<_, OpError>(listing.next_entry().await) }).await.unwrap().unwrap();
            assert!(r.unwrap_err().is_cancelled());
        };
        // before anything was read (the worker job does not start) ...
        cancelled_step(&mut listing).await;
        let first = listing.next_entry().await.unwrap().expect("an entry");
        // ... and with entries already read ahead
        cancelled_step(&mut listing).await;
        let mut names = vec![first.file_name()];
        while let Some(e) = listing.next_entry().await.unwrap() {
            names.push(e.file_name());
        }
        names.sort();
        assert_eq!(names, ["f0", "f1", "f2"], "every entry is still listed after the cancelled steps");
    });
}

#[test]
fn read_dir_of_a_missing_directory_is_not_found() {
    both("read-dir-missing", |_, dir| async move {
        assert_eq!(kind(&fs::read_dir(dir.join("nope")).await.unwrap_err()), Some(ErrorKind::NotFound));
    });
}
