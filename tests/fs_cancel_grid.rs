//! "Cancelled ⇒ nothing happened" for the fs and process operations, checked on the shared
//! cancellation grid: each operation runs in a scope cancelled just before its poll number `at`,
//! for every `at`, on the ring and through the worker-thread fallbacks; whichever way it ends,
//! the filesystem (or the child) must agree with the reported outcome.

mod cancel_grid;
mod fs_support;

use cancel_grid::{POINTS, Seen, cancelled_at};
use fs_support::both;
use quartet::OpError;
use quartet::fs::{self, OpenOptions};
use quartet::process::Command;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

/// `true` for success, `false` for `Cancelled`; any other error fails the test.
fn ok<T: std::fmt::Debug>(what: &str, r: Result<T, OpError>) -> bool {
    match r {
        Ok(_) => true,
        Err(e) if e.is_cancelled() => false,
        Err(e) => panic!("{what}: unexpected error {e}"),
    }
}

fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

#[test]
fn create_and_remove_match_their_reported_outcome() {
    both("grid-names", |_, dir| async move {
        let (mut mk, mut rm, mut mv, mut all) = (Seen::default(), Seen::default(), Seen::default(), Seen::default());
        for at in 0..POINTS {
            let d = dir.join(format!("d{at}"));
            let made = ok("create_dir", cancelled_at(at, fs::create_dir(&d)).await);
            assert_eq!(exists(&d), made, "create_dir at {at}");
            mk.record(made);

            let f = dir.join(format!("f{at}"));
            std::fs::write(&f, b"x").unwrap();
            let removed = ok("remove_file", cancelled_at(at, fs::remove_file(&f)).await);
            assert_eq!(exists(&f), !removed, "remove_file at {at}");
            rm.record(removed);

            let (from, to) = (dir.join(format!("from{at}")), dir.join(format!("to{at}")));
            std::fs::write(&from, b"x").unwrap();
            let moved = ok("rename", cancelled_at(at, fs::rename(&from, &to)).await);
            assert_eq!((exists(&from), exists(&to)), (!moved, moved), "rename at {at}");
            mv.record(moved);

            let chain = dir.join(format!("c{at}/a/b"));
            let chained = ok("create_dir_all", cancelled_at(at, fs::create_dir_all(&chain)).await);
            assert_eq!(exists(&chain), chained, "create_dir_all at {at}");
            assert_eq!(exists(&dir.join(format!("c{at}"))), chained, "no partial chain at {at}");
            all.record(chained);
        }
        mk.assert_both("create_dir");
        rm.assert_both("remove_file");
        mv.assert_both("rename");
        all.assert_both("create_dir_all");
    });
}

#[test]
fn write_is_all_or_nothing_under_cancellation() {
    both("grid-write", |_, dir| async move {
        let mut seen = Seen::default();
        let new = vec![b'n'; 256 * 1024];
        for at in 0..POINTS {
            let p = dir.join(format!("w{at}"));
            std::fs::write(&p, b"old content").unwrap();
            let wrote = ok("write", cancelled_at(at, fs::write(&p, new.clone())).await);
            let content = std::fs::read(&p).unwrap();
            if wrote {
                assert!(content == new, "write at {at} reported success");
            } else {
                assert_eq!(content, b"old content", "a cancelled write neither truncated nor wrote (at {at})");
            }
            seen.record(wrote);
        }
        seen.assert_both("write");
    });
}

#[test]
fn file_length_changes_match_their_reported_outcome() {
    both("grid-len", |_, dir| async move {
        let (mut trunc, mut alloc) = (Seen::default(), Seen::default());
        for at in 0..POINTS {
            let p = dir.join(format!("l{at}"));
            std::fs::write(&p, b"0123456789").unwrap();
            let f = OpenOptions::new().write(true).open(&p).await.unwrap();
            let cut = ok("set_len", cancelled_at(at, f.set_len(4)).await);
            assert_eq!(std::fs::metadata(&p).unwrap().len(), if cut { 4 } else { 10 }, "set_len at {at}");
            trunc.record(cut);
            let len = std::fs::metadata(&p).unwrap().len();
            let grew = ok("fallocate", cancelled_at(at, f.fallocate(0, 8192)).await);
            assert_eq!(std::fs::metadata(&p).unwrap().len(), if grew { 8192 } else { len }, "fallocate at {at}");
            alloc.record(grew);
            f.close().await.unwrap();
        }
        trunc.assert_both("set_len");
        alloc.assert_both("fallocate");
    });
}

#[test]
fn a_child_whose_wait_is_cancelled_is_killed_and_one_whose_wait_returned_exited_normally() {
    both("grid-wait", |via, _| async move {
        let mut seen = Seen::default();
        for at in 0..POINTS {
            let mut child = Command::new("/bin/sh").args(["-c", "exit 5"]).spawn().unwrap();
            let r = cancelled_at(at, child.wait()).await;
            let waited = match &r {
                Ok(_) => true,
                Err(e) if e.is_cancelled() => false,
                Err(e) => panic!("wait: unexpected error {e}"),
            };
            let status = child.try_wait().unwrap().expect("reaped either way");
            if waited {
                assert_eq!(r.unwrap().code(), Some(5));
            } else {
                // killed, unless it had already exited by itself (then it was just reaped)
                assert!(status.signal() == Some(libc::SIGKILL) || status.code() == Some(5), "{status} ({via:?})");
            }
            seen.record(waited);
        }
        seen.assert_both("wait");
    });
}
