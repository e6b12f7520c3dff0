//! H11: when io_uring cannot be used, `run` fails with a typed error whose message names the cause
//! and the remedy, never a panic. Tested for real: the test re-executes itself as a child process
//! that installs a seccomp filter refusing the io_uring syscalls with a chosen errno (as Docker's
//! default profile does), calls `quartet::run`, and prints the error; the parent checks the text.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::process::Command;

const CHILD_ENV: &str = "QUARTET_HAZARD_SECCOMP";
const MARK: &str = "QUARTET-ERROR: ";
/// `AUDIT_ARCH_X86_64` from <linux/audit.h>: `EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
const NR_IO_URING_SETUP: u32 = 425;
const NR_IO_URING_REGISTER: u32 = 427;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt, jf, k }
}

/// Makes syscall `nr` fail with `errno` for this thread and its future children, for good.
fn refuse_syscall(nr: u32, errno: i32) {
    let mut prog = [
        // seccomp_data.arch is at offset 4, .nr at offset 0.
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 4),
        jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, AUDIT_ARCH_X86_64, 0, 3),
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
        jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, nr, 0, 1),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ERRNO | (errno as u32 & 0xffff)),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ];
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_mut_ptr() };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "PR_SET_NO_NEW_PRIVS: {}", std::io::Error::last_os_error());
    // SAFETY: `fprog` points to a valid filter program that outlives the call (the kernel copies it).
    let rc = unsafe { libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &fprog as *const libc::sock_fprog) };
    assert_eq!(rc, 0, "PR_SET_SECCOMP: {}", std::io::Error::last_os_error());
}

/// In the child: refuse the syscall, start a runtime, print what a user would see.
fn child(spec: &str) {
    let (nr, errno) = match spec {
        "setup-ENOSYS" => (NR_IO_URING_SETUP, libc::ENOSYS),
        "setup-EPERM" => (NR_IO_URING_SETUP, libc::EPERM),
        "setup-ENOMEM" => (NR_IO_URING_SETUP, libc::ENOMEM),
        "register-EPERM" => (NR_IO_URING_REGISTER, libc::EPERM),
        other => panic!("unknown child spec {other}"),
    };
    refuse_syscall(nr, errno);
    match quartet::run(async { 42 }) {
        Ok(v) => println!("{MARK}none: run returned {v}"),
        Err(e) => println!("{MARK}{e}"),
    }
}

/// In the parent: run `test` again as a child with `spec`, return the error text it printed.
fn error_text_in_child(test: &str, spec: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, spec)
        .output()
        .expect("spawn the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    stdout
        .lines()
        .find_map(|l| l.find(MARK).map(|i| l[i + MARK.len()..].to_string()))
        .unwrap_or_else(|| panic!("the child printed no error line:\n{stdout}"))
}

/// Runs the child side if this process is the child; returns true then.
fn is_child() -> bool {
    match std::env::var(CHILD_ENV) {
        Ok(spec) => {
            child(&spec);
            true
        }
        Err(_) => false,
    }
}

fn assert_mentions(text: &str, words: &[&str]) {
    for w in words {
        assert!(text.contains(w), "the message does not mention {w:?}: {text}");
    }
}

#[test]
fn io_uring_setup_enosys_says_the_kernel_lacks_io_uring() {
    if is_child() {
        return;
    }
    let text = error_text_in_child("io_uring_setup_enosys_says_the_kernel_lacks_io_uring", "setup-ENOSYS");
    assert_mentions(&text, &["io_uring", "ENOSYS", "remedy", "CONFIG_IO_URING"]);
}

#[test]
fn io_uring_setup_eperm_from_seccomp_names_the_filter_and_the_syscalls_to_allow() {
    if is_child() {
        return;
    }
    let text = error_text_in_child(
        "io_uring_setup_eperm_from_seccomp_names_the_filter_and_the_syscalls_to_allow",
        "setup-EPERM",
    );
    let sysctl = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").unwrap_or_default();
    if sysctl.trim() == "0" || sysctl.is_empty() {
        // The sysctl allows io_uring, so the refusal can only come from a filter.
        assert_mentions(&text, &["EPERM", "seccomp", "remedy", "io_uring_setup", "io_uring_enter"]);
    } else {
        assert_mentions(&text, &["EPERM", "kernel.io_uring_disabled", "remedy"]);
    }
}

#[test]
fn io_uring_setup_enomem_names_the_memlock_limit() {
    if is_child() {
        return;
    }
    let text = error_text_in_child("io_uring_setup_enomem_names_the_memlock_limit", "setup-ENOMEM");
    assert_mentions(&text, &["ENOMEM", "ulimit -l", "remedy"]);
}

/// Setup works but the opcode probe (`io_uring_register`) is refused: still a typed error that
/// names the syscalls to allow, not a panic and not a runtime that fails later.
#[test]
fn io_uring_register_refused_fails_at_startup_with_a_remedy() {
    if is_child() {
        return;
    }
    let text = error_text_in_child("io_uring_register_refused_fails_at_startup_with_a_remedy", "register-EPERM");
    assert_mentions(&text, &["EPERM", "remedy", "io_uring_register"]);
}
