//! [`Command`]: what to run, with which arguments, environment and stdio.

use super::child::Child;
use std::ffi::OsStr;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;

/// A process to start, like `std::process::Command`; [`spawn`](Command::spawn) gives a
/// [`Child`] whose piped stdio are quartet [`PipeReader`](super::PipeReader)s and
/// [`PipeWriter`](super::PipeWriter)s.
///
/// The child starts with an empty signal mask: signals blocked in the spawning thread (as a
/// [`Signals`](crate::signal::Signals) does) would otherwise stay blocked in the child, which
/// could then not be stopped with SIGTERM or Ctrl-C. std's `posix_spawn` path keeps the mask, so
/// when the spawning thread has signals blocked, `spawn` resets it in the child (a `pre_exec`
/// hook, which makes std fork instead).
///
/// # Examples
/// ```no_run
/// use quartet_runtime::process::Command;
/// use std::process::Stdio;
/// # quartet_runtime::run(async {
/// let mut child = Command::new("sh").args(["-c", "echo $GREETING"]).env("GREETING", "hi")
///     .stdout(Stdio::piped()).spawn()?;
/// let (n, out) = child.stdout.take().unwrap().read_to_end(Vec::new()).await;
/// n?;
/// assert!(child.wait().await?.success());
/// assert_eq!(out, b"hi\n");
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct Command {
    std: std::process::Command,
    stdin_set: bool,
    /// The hook that empties the child's signal mask is installed (once: hooks accumulate).
    resets_mask: bool,
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` if it has no slash) with no arguments,
    /// the parent's environment and working directory, and inherited stdio. The other builder
    /// methods mirror `std::process::Command`'s.
    ///
    /// # Examples
    /// ```no_run
    /// use quartet_runtime::process::Command;
    /// use std::process::Stdio;
    /// let mut cmd = Command::new("grep");
    /// cmd.args(["-c", "root"]).arg("/etc/passwd").env_clear().env("LC_ALL", "C").current_dir("/")
    ///     .stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    /// assert_eq!(cmd.get_program(), "grep");
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command { std: std::process::Command::new(program), stdin_set: false, resets_mask: false }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets several environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts from an empty environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Configures stdin: `Stdio::piped()` makes [`Child::stdin`] a [`PipeWriter`](super::PipeWriter).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// Configures stdout: `Stdio::piped()` makes [`Child::stdout`] a [`PipeReader`](super::PipeReader).
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// Configures stderr: `Stdio::piped()` makes [`Child::stderr`] a [`PipeReader`](super::PipeReader).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// The program's name, as given.
    pub fn get_program(&self) -> &OsStr {
        self.std.get_program()
    }

    /// The underlying `std::process::Command`, for settings not mirrored here (`uid`, `pre_exec`,
    /// `process_group`...).
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    pub(crate) fn stdin_was_set(&self) -> bool {
        self.stdin_set
    }

    /// Starts the process. Synchronous (fork/exec take microseconds) and not a checkpoint.
    ///
    /// # Errors
    /// The spawn error (`NotFound` for a missing program, `PermissionDenied`...), or the
    /// `pidfd_open` error (Linux < 5.3), in which case the child is killed and reaped first.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let mut child = quartet_runtime::process::Command::new("true").spawn()?;
    /// assert!(child.wait().await?.success());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        if !self.resets_mask && signals_blocked() {
            self.resets_mask = true;
            // SAFETY: the hook runs between fork and exec, where only async-signal-safe calls
            // are allowed: it calls sigemptyset and sigprocmask on a local set, nothing else.
            unsafe {
                self.std.pre_exec(|| {
                    let mut empty: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut empty);
                    if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                })
            };
        }
        Child::spawn(self.std.spawn()?)
    }
}

/// True if the calling thread has any signal blocked.
fn signals_blocked() -> bool {
    // SAFETY: sigset_t is plain data; pthread_sigmask only writes the current mask into `cur`.
    unsafe {
        let mut cur: libc::sigset_t = std::mem::zeroed();
        if libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur) != 0 {
            return true; // unknown: reset to be safe
        }
        // 64 signals on Linux; sigismember returns -1 for a number it does not know.
        (1..=64).any(|s| libc::sigismember(&cur, s) == 1)
    }
}

impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command { std, stdin_set: true, resets_mask: false }
    }
}
