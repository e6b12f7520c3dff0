//! Asking for a task-tree dump from another thread, and on `SIGUSR1`.
//!
//! A request is a waker pushed on the runtime's remote-wake queue (the same path as a cross-thread
//! wake, so an idle kernel blocked in `io_uring_enter` wakes for it): the kernel wakes it on its
//! own thread between ticks, where it builds the tree (I1) and hands it back through a mutex and
//! condition variable.
//!
//! `SIGUSR1` (when enabled on the builder): the handler only writes to a process-wide eventfd
//! (async-signal-safe). A helper thread, started once, reads it and sends a print-to-stderr
//! request to every runtime that enabled the dump. The eventfd lives for the whole process, so the
//! handler never writes to a descriptor that was closed and reused. A handler the program had
//! installed before is not replaced but chained: ours calls it after its own write (with the
//! same arguments; its `sa_mask` and `SA_RESETHAND`/`SA_NODEFER` flags are not reapplied).

use super::TaskTree;
use crate::kernel::context::{Remote, current_id};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Wake, Waker};
use std::time::Duration;

/// Why a dump could not be had.
///
/// # Examples
/// ```
/// use quartet_runtime::introspect::DumpError;
/// assert!(DumpError::Timeout.to_string().contains("did not answer"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// The runtime has shut down.
    #[error("the runtime has shut down")]
    ShutDown,
    /// The runtime did not answer in time (its thread is busy in a long poll: see the watchdog).
    #[error("the runtime did not answer within the timeout (a poll may be stuck)")]
    Timeout,
}

/// A handle for requesting task-tree dumps of one runtime from any thread.
///
/// # Examples
/// ```no_run
/// use std::time::Duration;
/// quartet_runtime::run(async {
///     let handle = quartet_runtime::introspect::dump_handle().unwrap();
///     std::thread::spawn(move || {
///         // e.g. an admin thread answering "what is the server doing?"
///         if let Ok(tree) = handle.request(Duration::from_secs(1)) {
///             eprintln!("{tree}");
///         }
///     });
///     quartet_runtime::sleep(Duration::from_millis(10)).await.unwrap();
/// }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct DumpHandle {
    core: u64,
    remote: crate::sync::Arc<Remote>,
}

/// A handle to the runtime on this thread, or `None` outside `run`.
///
/// # Examples
/// ```
/// assert!(quartet_runtime::introspect::dump_handle().is_none());
/// ```
pub fn dump_handle() -> Option<DumpHandle> {
    crate::kernel::context::with_core(|c| DumpHandle::new(c.id, c.remote.clone()))
}

struct Job {
    core: u64,
    print: bool,
    out: Mutex<Option<TaskTree>>,
    done: Condvar,
}

impl Wake for Job {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Only the kernel that was asked answers (I1); anywhere else the wake is ignored.
        if current_id() != self.core {
            return;
        }
        let Some(tree) = super::task_tree() else { return };
        if self.print {
            eprintln!("quartet: task tree (SIGUSR1)\n{tree}");
            return;
        }
        *self.out.lock().unwrap_or_else(|e| e.into_inner()) = Some(tree);
        self.done.notify_all();
    }
}

impl DumpHandle {
    pub(crate) fn new(core: u64, remote: crate::sync::Arc<Remote>) -> DumpHandle {
        DumpHandle { core, remote }
    }

    fn send(&self, print: bool) -> Result<Arc<Job>, DumpError> {
        let job = Arc::new(Job { core: self.core, print, out: Mutex::new(None), done: Condvar::new() });
        if self.remote.push(Waker::from(job.clone())) { Ok(job) } else { Err(DumpError::ShutDown) }
    }

    /// Asks the runtime for a snapshot and waits for it at most `timeout`.
    ///
    /// # Errors
    /// [`DumpError::ShutDown`] if the runtime is gone, [`DumpError::Timeout`] if it did not answer
    /// in time.
    ///
    /// # Panics
    /// Never; called on the runtime's own thread it would wait for itself, so it times out.
    pub fn request(&self, timeout: Duration) -> Result<TaskTree, DumpError> {
        let job = self.send(false)?;
        let guard = job.out.lock().unwrap_or_else(|e| e.into_inner());
        let (mut guard, _) =
            job.done.wait_timeout_while(guard, timeout, |t| t.is_none()).unwrap_or_else(|e| e.into_inner());
        guard.take().ok_or(DumpError::Timeout)
    }

    /// Asks the runtime to print a snapshot to stderr, without waiting.
    ///
    /// # Errors
    /// [`DumpError::ShutDown`] if the runtime is gone.
    pub fn print_to_stderr(&self) -> Result<(), DumpError> {
        self.send(true).map(drop)
    }
}

/// The runtimes that asked for `SIGUSR1` dumps.
static TARGETS: Mutex<Vec<DumpHandle>> = Mutex::new(Vec::new());
/// The process-wide eventfd the handler writes to (-1: not set up).
static SIGNAL_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Keeps a runtime in the `SIGUSR1` targets until dropped.
pub(crate) struct SignalDump {
    core: u64,
}

impl Drop for SignalDump {
    fn drop(&mut self) {
        TARGETS.lock().unwrap_or_else(|e| e.into_inner()).retain(|h| h.core != self.core);
    }
}

/// The `SIGUSR1` handler that was installed before ours, called after ours (0: none, or
/// `SIG_DFL`/`SIG_IGN`, which are not chained: the default action would end the process).
static PREVIOUS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Whether [`PREVIOUS`] was installed with `SA_SIGINFO` (three arguments) or not (one).
static PREVIOUS_SIGINFO: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_sigusr1(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let fd = SIGNAL_FD.load(std::sync::atomic::Ordering::Relaxed);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local to the process-wide eventfd, which is never
        // closed; `write` is async-signal-safe. errno is saved and restored around it.
        unsafe {
            let errno = *libc::__errno_location();
            libc::write(fd, (&one as *const u64).cast(), 8);
            *libc::__errno_location() = errno;
        }
    }
    let previous = PREVIOUS.load(std::sync::atomic::Ordering::Acquire);
    if previous != 0 {
        if PREVIOUS_SIGINFO.load(std::sync::atomic::Ordering::Acquire) {
            // SAFETY: `previous` is the `sa_sigaction` of a handler the process installed with
            // `SA_SIGINFO` (stored with that flag in `remember_previous`, before ours was
            // installed), so it has this signature; we pass on the kernel's own arguments.
            let f = unsafe {
                std::mem::transmute::<usize, extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)>(
                    previous,
                )
            };
            f(sig, info, ctx);
        } else {
            // SAFETY: as above, for a handler installed without `SA_SIGINFO`: one argument.
            let f = unsafe { std::mem::transmute::<usize, extern "C" fn(libc::c_int)>(previous) };
            f(sig);
        }
    }
}

/// Records the handler `old` so ours chains to it (a function only, not `SIG_DFL`/`SIG_IGN`).
fn remember_previous(old: &libc::sigaction) {
    let handler = old.sa_sigaction;
    let ours = on_sigusr1 as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize;
    let chain = handler != libc::SIG_DFL && handler != libc::SIG_IGN && handler != ours;
    // The flag first, then the pointer (release): a handler that sees the pointer sees its flag.
    PREVIOUS_SIGINFO.store(old.sa_flags & libc::SA_SIGINFO != 0, std::sync::atomic::Ordering::Release);
    PREVIOUS.store(if chain { handler } else { 0 }, std::sync::atomic::Ordering::Release);
}

/// Sets up the handler and helper thread (once per process) and adds `handle` to the targets.
pub(crate) fn enable_sigusr1(handle: DumpHandle) -> std::io::Result<SignalDump> {
    static SETUP: OnceLock<Result<(), String>> = OnceLock::new();
    let setup = SETUP.get_or_init(|| {
        // SAFETY: eventfd takes no pointers; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        SIGNAL_FD.store(fd, std::sync::atomic::Ordering::Relaxed);
        std::thread::Builder::new()
            .name("quartet-sigusr1".into())
            .spawn(move || {
                loop {
                    let mut buf = 0u64;
                    // SAFETY: reads 8 bytes into a live local from the eventfd owned by this process.
                    let n = unsafe { libc::read(fd, (&mut buf as *mut u64).cast(), 8) };
                    if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                        return;
                    }
                    let targets = TARGETS.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    for t in targets {
                        let _ = t.print_to_stderr();
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        // The previous handler is read and remembered first, so ours chains to it from the first
        // signal on; the install reports what it replaced, in case another thread changed it in
        // between. SA_RESTART keeps other threads' syscalls from failing.
        // SAFETY: zeroed sigactions are valid and live locals; the handler only does async-signal-
        // safe work (atomic loads, `write`, then the previous handler, made for a signal context).
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGUSR1, std::ptr::null(), &mut old) != 0 {
                return Err(std::io::Error::last_os_error().to_string());
            }
            remember_previous(&old);
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction =
                on_sigusr1 as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize;
            sa.sa_flags = libc::SA_RESTART | libc::SA_SIGINFO;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(libc::SIGUSR1, &sa, &mut old) != 0 {
                return Err(std::io::Error::last_os_error().to_string());
            }
            remember_previous(&old);
        }
        Ok(())
    });
    if let Err(e) = setup {
        return Err(std::io::Error::other(format!("SIGUSR1 dump unavailable: {e}")));
    }
    let core = handle.core;
    TARGETS.lock().unwrap_or_else(|e| e.into_inner()).push(handle);
    Ok(SignalDump { core })
}
