//! Small Linux helpers: CPU pinning, CPU-time and memory readings from `/proc`, fd limits.
//!
//! Every reading here is of a real kernel counter; nothing is estimated. CPU time of another
//! process is the sum of `sum_exec_runtime` over its threads (`/proc/PID/task/*/schedstat`,
//! nanoseconds), which is what `utime + stime` add up to, at nanosecond rather than tick
//! resolution; `/proc/PID/stat` ticks are the fallback when schedstat is missing.

use std::io;
use std::time::Duration;

/// Pins the calling thread (and threads it creates later) to one CPU.
pub fn pin_to_core(core: usize) -> io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `core` is checked against the set's capacity (CPU_SETSIZE) before CPU_SET.
    unsafe {
        if core >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "core out of range"));
        }
        libc::CPU_SET(core, &mut set);
    }
    // SAFETY: `set` is a live, initialised cpu_set_t of the size passed.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Number of CPUs this process may run on.
pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Total CPU time (user + system) consumed so far by every thread of `pid`.
pub fn process_cpu(pid: u32) -> io::Result<Duration> {
    match schedstat_sum(pid) {
        Ok(d) => Ok(d),
        Err(_) => stat_ticks(pid),
    }
}

fn schedstat_sum(pid: u32) -> io::Result<Duration> {
    let mut total: u64 = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = entry?.path().join("schedstat");
        // A thread may exit between readdir and read: skip it.
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        let ns = text.split_whitespace().next().and_then(|v| v.parse::<u64>().ok());
        total += ns.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad schedstat"))?;
    }
    Ok(Duration::from_nanos(total))
}

fn stat_ticks(pid: u32) -> io::Result<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the `(comm)` part; utime and stime are fields 14 and 15 overall.
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let parse = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let ticks = parse(11) + parse(12);
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// CPU time consumed by the calling thread.
pub fn thread_cpu() -> Duration {
    // SAFETY: a zeroed timespec is valid; clock_gettime writes into it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A field of `/proc/self/status` in bytes (e.g. `VmRSS`, `VmHWM`).
pub fn status_bytes(field: &str) -> io::Result<u64> {
    let text = std::fs::read_to_string("/proc/self/status")?;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().map_err(|_| bad(field))?;
            return Ok(kb * 1024);
        }
    }
    Err(bad(field))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("cannot read {what}"))
}

/// Raises the open-file soft limit to the hard limit; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    // SAFETY: a zeroed rlimit is valid; getrlimit writes into it.
    let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `r` is a live rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return 1024;
    }
    // Ask for enough for the 10,000-connection rows (both ends live in this process); a
    // privileged process may raise the hard limit too, otherwise settle for the hard limit.
    let want: libc::rlim_t = 65_536;
    if r.rlim_max < want {
        let raised = libc::rlimit { rlim_cur: want, rlim_max: want };
        // SAFETY: `raised` is a live, initialised rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return want;
        }
    }
    r.rlim_cur = r.rlim_max;
    // SAFETY: `r` is a live, initialised rlimit.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) };
    r.rlim_cur
}

/// Kernel release (`uname -r`) and machine description lines for the report.
pub fn machine() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_string()))
        .unwrap_or_else(|| "unknown".into());
    out.push(("CPU".into(), format!("{cpu}, {} cores online", online_cpus())));
    let mem = read("/proc/meminfo").lines().next().unwrap_or("").split_whitespace().nth(1).unwrap_or("0").to_string();
    let mem_gib = mem.parse::<f64>().unwrap_or(0.0) / 1024.0 / 1024.0;
    out.push(("Memory".into(), format!("{mem_gib:.1} GiB")));
    out.push(("Kernel".into(), format!("Linux {}", read("/proc/sys/kernel/osrelease").trim())));
    let rustc = std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    out.push(("Compiler".into(), rustc));
    let load = read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    out.push(("Load average at start".into(), load));
    out
}
