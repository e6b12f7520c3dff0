//! Ring setup: pick the best setup flags the kernel accepts and check what quartet needs (H11, H12).
//!
//! Order of preference: `SINGLE_ISSUER | DEFER_TASKRUN` (6.1: completions are processed only when
//! this thread enters the ring, no IPIs), then `COOP_TASKRUN | TASKRUN_FLAG` (5.19), then no flags.
//! `EINVAL` means "this kernel does not know the flag": try the next set. Any other error is a
//! reason io_uring cannot be used at all, and is mapped to a typed [`Unavailable`] that names the
//! remedy. quartet requires `IORING_FEAT_NODROP` (no lost completions, H7) and `EXT_ARG` (one
//! timed wait per park without a timeout SQE, H13), and the opcodes listed in [`REQUIRED_OPCODES`].
//!
//! Every other opcode is optional: the probe result is kept as an [`Opcodes`] set, and an
//! operation whose opcode is missing (`FTRUNCATE` before 6.9, `WAITID` before 6.7, the path
//! opcodes under a restrictive seccomp filter...) runs its plain syscall on a worker thread
//! instead. A missing optional opcode never makes startup fail.

use crate::error::Unavailable;
use io_uring::{IoUring, Probe, opcode};
use std::io;

/// Which setup flags to ask for.
///
/// # Examples
/// ```
/// use quartet_runtime::{Builder, SetupFlags};
/// // Insist on the fastest mode (Linux 6.1+), failing with a clear error elsewhere.
/// match Builder::new().setup_flags(SetupFlags::DeferTaskrun).run(async {}) {
///     Ok(()) => {}
///     Err(e) => eprintln!("{e}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SetupFlags {
    /// The best the kernel offers (the default).
    #[default]
    Auto,
    /// `SINGLE_ISSUER | DEFER_TASKRUN` or fail.
    DeferTaskrun,
    /// `COOP_TASKRUN | TASKRUN_FLAG` or fail.
    CoopTaskrun,
    /// No setup flags.
    Plain,
}

/// The flags the ring was built with.
///
/// # Examples
/// ```
/// let mode = quartet_runtime::run(async { quartet_runtime::stats().unwrap().mode }).unwrap();
/// println!("the ring runs in {mode:?} mode");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `SINGLE_ISSUER | DEFER_TASKRUN`.
    DeferTaskrun,
    /// `COOP_TASKRUN | TASKRUN_FLAG`.
    CoopTaskrun,
    /// No setup flags.
    Plain,
}

/// Opcodes quartet issues, by name for the error message.
pub(crate) const REQUIRED_OPCODES: &[(u8, &str)] = &[
    (opcode::Nop::CODE, "NOP"),
    (opcode::Read::CODE, "READ"),
    (opcode::Write::CODE, "WRITE"),
    (opcode::Fsync::CODE, "FSYNC"),
    (opcode::Accept::CODE, "ACCEPT"),
    (opcode::Connect::CODE, "CONNECT"),
    (opcode::Send::CODE, "SEND"),
    (opcode::Recv::CODE, "RECV"),
    (opcode::OpenAt::CODE, "OPENAT"),
    (opcode::Close::CODE, "CLOSE"),
    (opcode::Statx::CODE, "STATX"),
    (opcode::Shutdown::CODE, "SHUTDOWN"),
    (opcode::PollAdd::CODE, "POLL_ADD"),
    (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
];

/// The opcodes the kernel's ring supports, from `IORING_REGISTER_PROBE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Opcodes {
    bits: [u64; 4],
    /// False when the builder asked for the worker-thread fallbacks of every optional opcode.
    optional: bool,
}

impl Opcodes {
    fn from_probe(probe: &Probe) -> Opcodes {
        let mut bits = [0u64; 4];
        for code in 0..=u8::MAX {
            if probe.is_supported(code) {
                bits[usize::from(code / 64)] |= 1 << (code % 64);
            }
        }
        Opcodes { bits, optional: true }
    }

    /// Whether the ring may be used for the optional opcode `code`.
    pub fn has(&self, code: u8) -> bool {
        self.optional && self.bits[usize::from(code / 64)] & (1 << (code % 64)) != 0
    }

    /// Whether receives may carry `IORING_RECVSEND_POLL_FIRST`: it came with Linux 5.19, as did
    /// `IORING_OP_SOCKET`, which the probe can see (an older kernel does not know the flag). Off
    /// with the optional opcodes.
    pub fn recv_poll_first(&self) -> bool {
        self.has(opcode::Socket::CODE)
    }

    /// Turns the optional opcodes off (`false`) or back on.
    pub fn set_optional(&mut self, on: bool) {
        self.optional = on;
    }
}

fn build(entries: u32, cq: u32, mode: Mode) -> io::Result<IoUring> {
    let mut b = IoUring::builder();
    b.setup_cqsize(cq).setup_clamp();
    match mode {
        Mode::DeferTaskrun => {
            b.setup_single_issuer().setup_defer_taskrun();
        }
        Mode::CoopTaskrun => {
            b.setup_coop_taskrun().setup_taskrun_flag();
        }
        Mode::Plain => {}
    }
    b.build(entries)
}

/// Builds the ring, or explains why io_uring cannot be used.
pub(crate) fn setup(entries: u32, flags: SetupFlags) -> Result<(IoUring, Mode, Opcodes), Unavailable> {
    let modes: &[Mode] = match flags {
        SetupFlags::Auto => &[Mode::DeferTaskrun, Mode::CoopTaskrun, Mode::Plain],
        SetupFlags::DeferTaskrun => &[Mode::DeferTaskrun],
        SetupFlags::CoopTaskrun => &[Mode::CoopTaskrun],
        SetupFlags::Plain => &[Mode::Plain],
    };
    let cq = entries.saturating_mul(4);
    let mut last = None;
    for &mode in modes {
        match build(entries, cq, mode) {
            Ok(ring) => {
                let opcodes = check(&ring)?;
                return Ok((ring, mode, opcodes));
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(classify(e)),
        }
    }
    Err(Unavailable::Other(last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))))
}

fn check(ring: &IoUring) -> Result<Opcodes, Unavailable> {
    let p = ring.params();
    if !p.is_feature_nodrop() {
        return Err(Unavailable::MissingFeature("IORING_FEAT_NODROP"));
    }
    if !p.is_feature_ext_arg() {
        return Err(Unavailable::MissingFeature("IORING_FEAT_EXT_ARG"));
    }
    let mut probe = Probe::new();
    ring.submitter().register_probe(&mut probe).map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => Unavailable::RegisterForbidden,
        _ => classify(e),
    })?;
    for &(code, name) in REQUIRED_OPCODES {
        if !probe.is_supported(code) {
            return Err(Unavailable::MissingOpcode(name));
        }
    }
    Ok(Opcodes::from_probe(&probe))
}

/// Maps a setup error to its cause.
pub(crate) fn classify(e: io::Error) -> Unavailable {
    match e.raw_os_error() {
        Some(libc::ENOSYS) => Unavailable::NotSupported,
        Some(libc::EPERM) | Some(libc::EACCES) => match io_uring_disabled() {
            Some(value @ 1..=2) => Unavailable::DisabledBySysctl { value },
            _ => Unavailable::Forbidden,
        },
        Some(libc::ENOMEM) => Unavailable::MemLock { limit_kib: memlock_kib() },
        _ => Unavailable::Other(e),
    }
}

fn io_uring_disabled() -> Option<u8> {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").ok()?.trim().parse().ok()
}

fn memlock_kib() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) };
    if rc != 0 { 0 } else { lim.rlim_cur / 1024 }
}
