//! What a group of kernels on several OS threads needs from the operating system: CPU affinity,
//! and a signal watch for the thread that waits for the group.
//!
//! `quartet::PerCore` (in `quartet-nursery`) runs one kernel per core, each on its own thread,
//! each pinned to one CPU. Nothing here touches a ring: these are the blocking, thread-level
//! pieces around the kernels, kept in the runtime so that all `unsafe` code stays in one crate.
//!
//! # Signals and threads
//! A process-directed signal (Ctrl-C's SIGINT, `kill`'s SIGTERM) is delivered to *one* thread
//! that does not block it, chosen by the kernel. [`SignalWatch::new`] blocks the signals on the
//! calling thread *before* that thread starts the kernels' threads, which inherit the mask, so no
//! thread of the group can take the default action (ending the process); the signals stay pending
//! on the process until the watch's signalfd reads them. The waiting thread then sleeps in
//! [`SignalWatch::wait`] on the signalfd and a [`Doorbell`] that the kernels ring as they finish.

use crate::signal::Signal;
use std::io;
use std::mem::{size_of, zeroed};

/// The CPUs the calling thread may run on (its `sched_getaffinity` set), in increasing order.
///
/// # Errors
/// The `sched_getaffinity` error.
///
/// # Examples
/// ```
/// let cpus = quartet_runtime::group::allowed_cpus()?;
/// assert!(!cpus.is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { zeroed() };
    // SAFETY: the pointer and size describe `set`, which lives across the call; pid 0 is this thread.
    let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `set` was filled by the kernel; CPU_ISSET only reads it (the index is below CPU_SETSIZE).
    Ok((0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect())
}

/// Pins the calling thread to `cpu` (`sched_setaffinity` with a one-CPU set).
///
/// # Errors
/// `InvalidInput` if `cpu` is not below `CPU_SETSIZE`; otherwise the `sched_setaffinity` error
/// (`EINVAL` if the CPU is offline or outside the process's cpuset).
///
/// # Examples
/// ```
/// let first = quartet_runtime::group::allowed_cpus()?[0];
/// std::thread::spawn(move || quartet_runtime::group::pin_current_thread(first)).join().unwrap()?;
/// assert!(quartet_runtime::group::pin_current_thread(1 << 20).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("CPU {cpu} is beyond CPU_SETSIZE")));
    }
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { zeroed() };
    // SAFETY: `cpu` < CPU_SETSIZE (checked above), so CPU_SET writes inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: the pointer and size describe `set`; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A counter other threads increment and one thread waits on (an eventfd).
///
/// # Examples
/// ```
/// let bell = std::sync::Arc::new(quartet_runtime::group::Doorbell::new()?);
/// let b = bell.clone();
/// std::thread::spawn(move || b.ring()).join().unwrap();
/// assert_eq!(bell.take(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Doorbell {
    fd: libc::c_int,
}

impl Doorbell {
    /// A new doorbell that has not rung.
    ///
    /// # Errors
    /// The `eventfd` error.
    pub fn new() -> io::Result<Doorbell> {
        // SAFETY: eventfd takes no pointers; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Doorbell { fd })
    }

    /// Adds one ring. Never blocks.
    pub fn ring(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to the eventfd this value owns; EFD_NONBLOCK
        // means it never blocks (a saturated counter still leaves the fd readable).
        unsafe { libc::write(self.fd, (&one as *const u64).cast(), 8) };
    }

    /// Takes the rings so far (0 if none). Never blocks.
    pub fn take(&self) -> u64 {
        let mut n: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from the eventfd this value owns (non-blocking).
        let r = unsafe { libc::read(self.fd, (&mut n as *mut u64).cast(), 8) };
        if r == 8 { n } else { 0 }
    }
}

impl Drop for Doorbell {
    fn drop(&mut self) {
        // SAFETY: the fd is owned by this value and closed once.
        unsafe { libc::close(self.fd) };
    }
}

/// Signals blocked on the calling thread (and on every thread it starts afterwards) and read
/// through a non-blocking signalfd, for a thread that waits with [`SignalWatch::wait`] rather
/// than on a ring. Dropping it unblocks the signals it blocked on its thread.
///
/// # Examples
/// ```
/// use quartet_runtime::group::{Doorbell, SignalWatch};
/// use quartet_runtime::signal::Signal;
/// let watch = SignalWatch::new(&[Signal::User2])?;
/// let bell = Doorbell::new()?;
/// bell.ring();
/// assert_eq!(watch.wait(&bell)?, None); // the doorbell rang first
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct SignalWatch {
    fd: libc::c_int,
    added: Option<libc::sigset_t>,
    /// The mask is per thread: the watch must be unblocked (dropped) on the thread that made it.
    _thread_bound: std::marker::PhantomData<*const ()>,
}

impl SignalWatch {
    /// Blocks `signals` on this thread and opens a signalfd for them.
    ///
    /// # Errors
    /// The `pthread_sigmask` or `signalfd` error.
    pub fn new(signals: &[Signal]) -> io::Result<SignalWatch> {
        // SAFETY: sigset_t is plain data; sigemptyset initialises each set before use.
        let (mut set, mut prev, mut added): (libc::sigset_t, libc::sigset_t, libc::sigset_t) =
            unsafe { (zeroed(), zeroed(), zeroed()) };
        // SAFETY: the three sets are live and initialised by sigemptyset before any other use.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigemptyset(&mut added);
            for s in signals {
                libc::sigaddset(&mut set, s.number());
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut prev);
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            for s in signals {
                if libc::sigismember(&prev, s.number()) == 0 {
                    libc::sigaddset(&mut added, s.number());
                }
            }
        }
        let mut watch = SignalWatch { fd: -1, added: Some(added), _thread_bound: std::marker::PhantomData };
        // SAFETY: `set` is initialised; -1 asks for a new fd. On failure `watch` drops and
        // unblocks what was blocked above.
        watch.fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
        if watch.fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(watch)
    }

    /// Sleeps until one of the signals arrives (`Some`, consumed) or `bell` rings (`None`; its
    /// rings are left for the caller to [`take`](Doorbell::take)). Restarts on `EINTR`.
    ///
    /// # Errors
    /// The `poll` or `read` error.
    pub fn wait(&self, bell: &Doorbell) -> io::Result<Option<Signal>> {
        loop {
            let mut fds = [
                libc::pollfd { fd: self.fd, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: bell.fd, events: libc::POLLIN, revents: 0 },
            ];
            // SAFETY: `fds` is a live array of two pollfds; the length passed is its length.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if fds[0].revents & libc::POLLIN != 0 {
                // SAFETY: signalfd_siginfo is plain data; all-zero is valid.
                let mut info: libc::signalfd_siginfo = unsafe { zeroed() };
                let len = size_of::<libc::signalfd_siginfo>();
                // SAFETY: reads at most `len` bytes into `info`, which is `len` bytes long.
                let n = unsafe { libc::read(self.fd, (&mut info as *mut libc::signalfd_siginfo).cast(), len) };
                if n == len as isize {
                    if let Some(s) = Signal::from_number(info.ssi_signo) {
                        return Ok(Some(s));
                    }
                }
                continue;
            }
            if fds[1].revents & libc::POLLIN != 0 {
                return Ok(None);
            }
        }
    }

    /// Unblocks the signals this watch blocked on the calling thread now (the default action
    /// applies to them again there), rather than at drop. Call it on the thread that created it.
    pub fn unblock(&mut self) {
        if let Some(added) = self.added.take() {
            // SAFETY: `added` is an initialised sigset_t; restoring the mask takes no other pointer.
            unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &added, std::ptr::null_mut()) };
        }
    }
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        if self.fd >= 0 {
            // SAFETY: the fd is owned by this value and closed once.
            unsafe { libc::close(self.fd) };
        }
        self.unblock();
    }
}
