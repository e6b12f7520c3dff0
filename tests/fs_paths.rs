//! Path operations of `quartet::fs` (create, remove, rename, link, stat, resolve, chmod), each
//! checked on the ring and through its worker-thread fallback, with typed errors and
//! "Cancelled ⇒ nothing happened".

use crate::fs_support;

use fs_support::{TempDir, Via, both, kind, ring_ops, run_with, yields};
use quartet::{CancelScope, OpError, fs};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

#[test]
fn create_dir_then_remove_dir_round_trips() {
    both("mkdir", |_, dir| async move {
        let d = dir.join("sub");
        fs::create_dir(&d).await.unwrap();
        assert!(std::fs::metadata(&d).unwrap().is_dir());
        fs::remove_dir(&d).await.unwrap();
        assert!(!d.exists());
    });
}

#[test]
fn create_dir_reports_already_exists_and_not_found() {
    both("mkdir-errors", |_, dir| async move {
        let d = dir.join("sub");
        fs::create_dir(&d).await.unwrap();
        assert_eq!(kind(&fs::create_dir(&d).await.unwrap_err()), Some(ErrorKind::AlreadyExists));
        let orphan = dir.join("missing/child");
        assert_eq!(kind(&fs::create_dir(&orphan).await.unwrap_err()), Some(ErrorKind::NotFound));
    });
}

#[test]
fn create_dir_all_makes_every_missing_parent_and_accepts_an_existing_dir() {
    both("mkdir-all", |_, dir| async move {
        let deep = dir.join("a/b/c/d");
        fs::create_dir_all(&deep).await.unwrap();
        assert!(std::fs::metadata(&deep).unwrap().is_dir());
        fs::create_dir_all(&deep).await.expect("an existing directory is success");
        fs::create_dir_all(dir.join("a/b/e")).await.expect("a partly existing chain");
        assert!(dir.join("a/b/e").is_dir());
    });
}

#[test]
fn create_dir_all_fails_when_a_component_is_a_file() {
    both("mkdir-all-file", |_, dir| async move {
        std::fs::write(dir.join("f"), b"x").unwrap();
        assert!(fs::create_dir_all(dir.join("f")).await.is_err(), "the path itself is a file");
        assert!(fs::create_dir_all(dir.join("f/sub")).await.is_err(), "a parent is a file");
    });
}

#[test]
fn remove_dir_refuses_a_non_empty_directory_and_remove_file_a_directory() {
    both("rmdir", |_, dir| async move {
        std::fs::create_dir(dir.join("d")).unwrap();
        std::fs::write(dir.join("d/f"), b"x").unwrap();
        assert_eq!(kind(&fs::remove_dir(dir.join("d")).await.unwrap_err()), Some(ErrorKind::DirectoryNotEmpty));
        assert!(fs::remove_file(dir.join("d")).await.is_err(), "remove_file on a directory");
        fs::remove_file(dir.join("d/f")).await.unwrap();
        assert!(!dir.join("d/f").exists());
        assert_eq!(kind(&fs::remove_file(dir.join("d/f")).await.unwrap_err()), Some(ErrorKind::NotFound));
    });
}

#[test]
fn remove_dir_all_removes_a_tree_without_following_symlinks() {
    both("rmtree", |_, dir| async move {
        let outside = TempDir::new("rmtree-outside");
        std::fs::write(outside.join("keep"), b"precious").unwrap();
        std::fs::create_dir_all(dir.join("t/a/b")).unwrap();
        std::fs::write(dir.join("t/a/b/f"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.join("t/a/link")).unwrap();
        fs::remove_dir_all(dir.join("t")).await.unwrap();
        assert!(!dir.join("t").exists());
        assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"precious", "the link's target survives");
    });
}

#[test]
fn rename_replaces_the_target() {
    both("rename", |_, dir| async move {
        std::fs::write(dir.join("a"), b"new").unwrap();
        std::fs::write(dir.join("b"), b"old").unwrap();
        fs::rename(dir.join("a"), dir.join("b")).await.unwrap();
        assert!(!dir.join("a").exists());
        assert_eq!(std::fs::read(dir.join("b")).unwrap(), b"new");
        assert_eq!(kind(&fs::rename(dir.join("a"), dir.join("c")).await.unwrap_err()), Some(ErrorKind::NotFound));
    });
}

#[test]
fn hard_link_shares_the_inode() {
    both("link", |_, dir| async move {
        std::fs::write(dir.join("a"), b"x").unwrap();
        fs::hard_link(dir.join("a"), dir.join("b")).await.unwrap();
        let (a, b) = (fs::metadata(dir.join("a")).await.unwrap(), fs::metadata(dir.join("b")).await.unwrap());
        assert_eq!(a.ino(), b.ino());
        assert_eq!(a.nlink(), 2);
        let again = fs::hard_link(dir.join("a"), dir.join("b")).await.unwrap_err();
        assert_eq!(kind(&again), Some(ErrorKind::AlreadyExists));
    });
}

#[test]
fn symlink_metadata_describes_the_link_and_metadata_follows_it() {
    both("symlink", |_, dir| async move {
        std::fs::write(dir.join("target"), b"12345").unwrap();
        fs::symlink("target", dir.join("link")).await.unwrap();
        assert_eq!(std::fs::read_link(dir.join("link")).unwrap(), std::path::Path::new("target"));
        let link = fs::symlink_metadata(dir.join("link")).await.unwrap();
        assert!(link.is_symlink() && !link.is_file());
        let followed = fs::metadata(dir.join("link")).await.unwrap();
        assert!(followed.is_file() && !followed.is_symlink());
        assert_eq!(followed.len(), 5);
    });
}

#[test]
fn metadata_matches_std() {
    both("stat", |_, dir| async move {
        let p = dir.join("f");
        std::fs::write(&p, vec![7u8; 4321]).unwrap();
        let ours = fs::metadata(&p).await.unwrap();
        let std_meta = std::fs::metadata(&p).unwrap();
        assert_eq!(ours.len(), std_meta.len());
        assert_eq!(ours.mode(), std_meta.mode());
        assert_eq!(
            (ours.uid(), ours.gid(), ours.ino(), ours.dev()),
            (std_meta.uid(), std_meta.gid(), std_meta.ino(), std_meta.dev())
        );
        assert_eq!(ours.modified(), std_meta.modified().unwrap());
        assert_eq!(ours.accessed(), std_meta.accessed().unwrap());
        assert_eq!(ours.permissions(), std_meta.permissions());
        assert!(fs::metadata(dir.path()).await.unwrap().is_dir());
        assert_eq!(kind(&fs::metadata(dir.join("nope")).await.unwrap_err()), Some(ErrorKind::NotFound));
    });
}

#[test]
fn canonicalize_resolves_dots_and_links() {
    both("realpath", |_, dir| async move {
        std::fs::create_dir(dir.join("real")).unwrap();
        std::os::unix::fs::symlink(dir.join("real"), dir.join("alias")).unwrap();
        let got = fs::canonicalize(dir.join("alias/../alias/./")).await.unwrap();
        assert_eq!(got, std::fs::canonicalize(dir.join("real")).unwrap());
    });
}

#[test]
fn set_permissions_changes_the_mode() {
    both("chmod", |_, dir| async move {
        let p = dir.join("script");
        std::fs::write(&p, b"#!/bin/sh\n").unwrap();
        fs::set_permissions(&p, std::fs::Permissions::from_mode(0o751)).await.unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o751);
        assert_eq!(fs::metadata(&p).await.unwrap().permissions().mode() & 0o7777, 0o751);
    });
}

#[test]
fn a_path_with_a_nul_byte_is_invalid_input() {
    both("nul", |_, _dir| async move {
        assert_eq!(kind(&fs::create_dir("bad\0name").await.unwrap_err()), Some(ErrorKind::InvalidInput));
        assert_eq!(kind(&fs::metadata("bad\0name").await.unwrap_err()), Some(ErrorKind::InvalidInput));
    });
}

#[test]
fn path_ops_use_the_ring_when_the_kernel_has_the_opcodes_and_workers_otherwise() {
    for via in [Via::Ring, Via::Fallback] {
        let dir = TempDir::new("ring-or-thread");
        let ops = run_with(via, async {
            let before = ring_ops();
            fs::create_dir(dir.join("a")).await.unwrap();
            fs::rename(dir.join("a"), dir.join("b")).await.unwrap();
            fs::symlink("b", dir.join("c")).await.unwrap();
            fs::remove_file(dir.join("c")).await.unwrap();
            fs::remove_dir(dir.join("b")).await.unwrap();
            ring_ops() - before
        });
        match via {
            Via::Ring => assert_eq!(ops, 5, "one ring op per call"),
            Via::Fallback => assert_eq!(ops, 0, "worker threads only"),
        }
        assert!(!dir.join("b").exists());
    }
}

#[test]
fn cancelled_path_ops_change_nothing() {
    both("cancelled", |_, dir| async move {
        std::fs::write(dir.join("keep"), b"x").unwrap();
        let scope = CancelScope::new();
        scope.cancel();
        let results = scope
            .run(async {
                Ok::<_, OpError>([
                    fs::create_dir(dir.join("new")).await,
                    fs::create_dir_all(dir.join("x/y/z")).await,
                    fs::remove_file(dir.join("keep")).await,
                    fs::rename(dir.join("keep"), dir.join("moved")).await,
                    fs::symlink("keep", dir.join("link")).await,
                    fs::hard_link(dir.join("keep"), dir.join("hard")).await,
                    fs::remove_dir_all(dir.path()).await,
                    fs::set_permissions(dir.join("keep"), std::fs::Permissions::from_mode(0o600)).await,
                ])
            })
            .await
            .unwrap()
            .expect("the block returned its results");
        for (i, r) in results.iter().enumerate() {
            assert!(matches!(r, Err(e) if e.is_cancelled()), "op {i}: {r:?}");
        }
        let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["keep"], "nothing was created, moved or removed");
        assert_ne!(std::fs::metadata(dir.join("keep")).unwrap().permissions().mode() & 0o777, 0o600);
    });
}

#[test]
fn every_fs_operation_yields_at_least_once() {
    both("yields", |_, dir| async move {
        std::fs::write(dir.join("f"), b"data").unwrap();
        let d = dir.path();
        yields("create_dir", fs::create_dir(d.join("a"))).await.unwrap();
        yields("create_dir_all on an existing dir", fs::create_dir_all(d.join("a"))).await.unwrap();
        yields("metadata", fs::metadata(d.join("f"))).await.unwrap();
        yields("symlink_metadata", fs::symlink_metadata(d.join("f"))).await.unwrap();
        yields("read", fs::read(d.join("f"))).await.unwrap();
        yields("write", fs::write(d.join("g"), "x")).await.unwrap();
        yields("rename", fs::rename(d.join("g"), d.join("h"))).await.unwrap();
        yields("hard_link", fs::hard_link(d.join("h"), d.join("i"))).await.unwrap();
        yields("symlink", fs::symlink("h", d.join("j"))).await.unwrap();
        yields("canonicalize", fs::canonicalize(d.join("j"))).await.unwrap();
        yields("set_permissions", fs::set_permissions(d.join("h"), std::fs::Permissions::from_mode(0o600)))
            .await
            .unwrap();
        yields("remove_file", fs::remove_file(d.join("i"))).await.unwrap();
        yields("remove_dir", fs::remove_dir(d.join("a"))).await.unwrap();
        let mut listing = yields("read_dir", fs::read_dir(d)).await.unwrap();
        yields("next_entry", listing.next_entry()).await.unwrap();
        yields("next_entry (read ahead)", listing.next_entry()).await.unwrap();
        let f = fs::OpenOptions::new().write(true).open(d.join("f")).await.unwrap();
        yields("set_len", f.set_len(2)).await.unwrap();
        yields("fallocate", f.fallocate(0, 4096)).await.unwrap();
        yields("sync_data", f.sync_data()).await.unwrap();
        yields("remove_dir_all", fs::remove_dir_all(d.join("gone").as_path())).await.unwrap_err();
    });
}
