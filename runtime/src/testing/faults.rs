//! Fault injection at the completion boundary, done *before submission*.
//!
//! quartet's rule is "`Cancelled` means nothing happened; a completed op reports its result". An
//! injector that replaced the result of an op the kernel performed would break it: a `recv` that
//! really received bytes and then reports `ECONNRESET` loses data a real peer sent, a `send`
//! reported as `EPIPE` may still reach the peer, an `accept` turned into `EMFILE` leaks (or
//! silently drops) a connection. So faults are decided when an op is about to be submitted:
//! - an injected **error** completes the op at once with that errno and the op is never
//!   submitted: the program sees the error exactly as if the kernel had refused the op, and
//!   nothing happened in the kernel (no bytes moved, no connection accepted);
//! - an injected **short transfer** lowers the length of a `read`/`write`/`send`/`recv` SQE, so
//!   the kernel really moves fewer bytes, and the op reports exactly what happened.
//!
//! The injector lives in the runtime's testing state; `Op::poll` asks it only when one is set
//! (one branch per op otherwise).

use super::rng;
use io_uring::{opcode, squeue};

/// The kinds of operation a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpKind {
    /// `accept` (TCP and Unix listeners).
    Accept,
    /// `connect`.
    Connect,
    /// `recv` and `recvmsg`.
    Recv,
    /// `send` and `sendmsg`.
    Send,
    /// `read` (files, pipes, and socket reads through `read`).
    Read,
    /// `write`.
    Write,
    /// `openat`.
    Open,
    /// Any ring op except closes and cancels.
    Any,
}

impl OpKind {
    fn matches(self, code: u8) -> bool {
        match self {
            OpKind::Any => code != opcode::Close::CODE,
            OpKind::Accept => code == opcode::Accept::CODE,
            OpKind::Connect => code == opcode::Connect::CODE,
            OpKind::Recv => code == opcode::Recv::CODE || code == opcode::RecvMsg::CODE,
            OpKind::Send => code == opcode::Send::CODE || code == opcode::SendMsg::CODE,
            OpKind::Read => code == opcode::Read::CODE,
            OpKind::Write => code == opcode::Write::CODE,
            OpKind::Open => code == opcode::OpenAt::CODE,
        }
    }
}

/// What happens to a chosen op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Complete at once with this errno (e.g. `libc::ECONNRESET`, `EPIPE`, `EIO`, `ENOSPC`,
    /// `EMFILE`, `ENOBUFS`); the op is never submitted.
    Error(i32),
    /// Transfer at most this many bytes (`read`, `write`, `send`, `recv` only; other kinds are
    /// left alone). 0 is taken as 1: a zero-length transfer would look like end of stream.
    Short(u32),
}

/// When a rule fires.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum When {
    /// At the `n`th matching op (counting from 1), once.
    Nth(u64),
    /// At the first `n` matching ops.
    FirstN(u64),
    /// Each matching op with this probability (0.0..=1.0), drawn from the runtime's seed.
    Probability(f64),
    /// Every matching op.
    Always,
}

#[derive(Debug, Clone)]
struct Rule {
    kind: OpKind,
    fault: Fault,
    when: When,
}

/// Which faults to inject: a list of rules, checked in order; the first that fires wins.
///
/// # Examples
/// ```
/// use quartet_runtime::{Builder, OpError, testing::{FaultPlan, Fault, OpKind, When}};
/// let plan = FaultPlan::new().inject(OpKind::Any, Fault::Error(libc::EIO), When::Nth(2));
/// let r = Builder::new().fault_plan(plan).run(async {
///     quartet_runtime::nop().await.unwrap();   // the first op runs
///     quartet_runtime::nop().await             // the second fails, unsubmitted
/// }).unwrap();
/// assert!(matches!(r, Err(OpError::Io(e)) if e.raw_os_error() == Some(libc::EIO)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    rules: Vec<Rule>,
}

impl FaultPlan {
    /// An empty plan (injects nothing).
    ///
    /// ```
    /// let p = quartet_runtime::testing::FaultPlan::new();
    /// # let _ = p;
    /// ```
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Adds a rule: ops of `kind` get `fault` `when` it says.
    ///
    /// ```
    /// use quartet_runtime::testing::{FaultPlan, Fault, OpKind, When};
    /// let flaky = FaultPlan::new()
    ///     .inject(OpKind::Recv, Fault::Error(libc::ECONNRESET), When::Probability(0.1))
    ///     .inject(OpKind::Send, Fault::Short(1), When::Always);
    /// # let _ = flaky;
    /// ```
    pub fn inject(mut self, kind: OpKind, fault: Fault, when: When) -> FaultPlan {
        self.rules.push(Rule { kind, fault, when });
        self
    }
}

/// The plan with its counters and random stream, in a runtime's testing state.
pub(crate) struct Injector {
    rules: Vec<(Rule, u64)>,
    rng: u64,
}

/// What to do with an op about to be submitted.
pub(crate) enum Decision {
    Submit,
    Fail(i32),
}

impl Injector {
    pub fn new(plan: FaultPlan, seed: u64) -> Injector {
        Injector { rules: plan.rules.into_iter().map(|r| (r, 0)).collect(), rng: seed ^ 0xfa17_5eed }
    }

    /// Decides the fate of `entry`, possibly shortening it.
    pub fn before_submit(&mut self, entry: &mut squeue::Entry) -> Decision {
        let code = entry.get_opcode() as u8;
        for (rule, seen) in &mut self.rules {
            if !rule.kind.matches(code) {
                continue;
            }
            *seen += 1;
            let fire = match rule.when {
                When::Nth(n) => *seen == n,
                When::FirstN(n) => *seen <= n,
                When::Always => true,
                When::Probability(p) => unit(&mut self.rng) < p,
            };
            if !fire {
                continue;
            }
            match rule.fault {
                Fault::Error(errno) => return Decision::Fail(errno.max(1)),
                Fault::Short(max) => {
                    if shorten(entry, code, max.max(1)) {
                        return Decision::Submit;
                    }
                }
            }
        }
        Decision::Submit
    }
}

/// The op path's hook, for when a plan is set (`Op::poll` checks that the testing state has an
/// injector first: one branch and nothing else in the normal case). Returns the entry to submit (maybe
/// shortened), or the errno to complete the op with, unsubmitted. Out of line and by value, so
/// the op path never takes the entry's address.
#[cold]
#[inline(never)]
pub(crate) fn inject(faults: &std::cell::RefCell<Injector>, mut entry: squeue::Entry) -> Result<squeue::Entry, i32> {
    match faults.borrow_mut().before_submit(&mut entry) {
        Decision::Submit => Ok(entry),
        Decision::Fail(errno) => Err(errno),
    }
}

/// A uniform float in `0.0..1.0` (53 random bits).
fn unit(state: &mut u64) -> f64 {
    (rng::next(state) >> 11) as f64 / (1u64 << 53) as f64
}

/// Lowers the byte count of a read/write/send/recv SQE to `max`. False for other opcodes.
fn shorten(entry: &mut squeue::Entry, code: u8, max: u32) -> bool {
    let byte_count = [opcode::Read::CODE, opcode::Write::CODE, opcode::Send::CODE, opcode::Recv::CODE];
    if !byte_count.contains(&code) {
        return false;
    }
    /// `len` of `struct io_uring_sqe` (the byte count for these four opcodes).
    const LEN_OFFSET: usize = 24;
    // Lowering the length only shrinks the memory the kernel may touch, so the op data's pointers
    // stay valid for it.
    // SAFETY: `squeue::Entry` is `#[repr(C)]` around `struct io_uring_sqe`, 64 bytes of plain integers
    // and unions of integers (size checked by `transmute`): every bit pattern is valid both ways.
    let mut raw: [u8; 64] = unsafe { std::mem::transmute::<squeue::Entry, [u8; 64]>(entry.clone()) };
    let len = u32::from_ne_bytes(raw[LEN_OFFSET..LEN_OFFSET + 4].try_into().expect("4 bytes"));
    if len > max {
        raw[LEN_OFFSET..LEN_OFFSET + 4].copy_from_slice(&max.to_ne_bytes());
        // SAFETY: as above; `raw` came from a valid entry and only its length changed.
        *entry = unsafe { std::mem::transmute::<[u8; 64], squeue::Entry>(raw) };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_fires_once_and_short_lowers_the_length() {
        let plan = FaultPlan::new().inject(OpKind::Write, Fault::Error(libc::ENOSPC), When::Nth(2));
        let mut inj = Injector::new(plan, 1);
        let mut w = opcode::Write::new(io_uring::types::Fd(1), std::ptr::null(), 100).build();
        assert!(matches!(inj.before_submit(&mut w), Decision::Submit));
        assert!(matches!(inj.before_submit(&mut w), Decision::Fail(libc::ENOSPC)));
        assert!(matches!(inj.before_submit(&mut w), Decision::Submit));

        let mut inj = Injector::new(FaultPlan::new().inject(OpKind::Write, Fault::Short(7), When::Always), 1);
        assert!(matches!(inj.before_submit(&mut w), Decision::Submit));
        // SAFETY: as in `shorten`: a 64-byte POD entry read as bytes.
        let raw: [u8; 64] = unsafe { std::mem::transmute::<squeue::Entry, [u8; 64]>(w.clone()) };
        assert_eq!(u32::from_ne_bytes(raw[24..28].try_into().unwrap()), 7);
        assert_eq!(w.get_opcode(), u32::from(opcode::Write::CODE));
    }
}
