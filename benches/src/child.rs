//! Runs each measurement in a fresh child process (the bench binary re-executed with a
//! subcommand), so that no run inherits another's heap, threads or page-cache effects, and
//! memory can be read from the child's own `/proc/self/status`.
//!
//! Protocol: the child prints one line `RESULT key=value key=value ...` on stdout; anything
//! else it prints is ignored. A child that fails prints its reason on stderr and exits non-zero.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Named figures of one run.
pub type Metrics = BTreeMap<String, f64>;

/// Key/value parameters passed to a child as `key=value` arguments.
#[derive(Debug, Clone, Default)]
pub struct Params(pub BTreeMap<String, String>);

impl Params {
    /// Parses `key=value` arguments.
    pub fn parse(args: &[String]) -> Result<Params, String> {
        let mut m = BTreeMap::new();
        for a in args {
            let (k, v) = a.split_once('=').ok_or_else(|| format!("bad parameter {a:?}"))?;
            m.insert(k.to_string(), v.to_string());
        }
        Ok(Params(m))
    }

    /// Adds a parameter.
    pub fn with(mut self, k: &str, v: impl ToString) -> Params {
        self.0.insert(k.to_string(), v.to_string());
        self
    }

    /// A parameter as text.
    pub fn str(&self, k: &str) -> Result<&str, String> {
        self.0.get(k).map(String::as_str).ok_or_else(|| format!("missing parameter {k}"))
    }

    /// A numeric parameter.
    pub fn num(&self, k: &str) -> Result<u64, String> {
        self.str(k)?.parse().map_err(|e| format!("parameter {k}: {e}"))
    }

    /// A parameter in milliseconds.
    pub fn ms(&self, k: &str) -> Result<Duration, String> {
        self.num(k).map(Duration::from_millis)
    }

    fn args(&self) -> Vec<String> {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

/// Prints the result line of a child.
pub fn emit(m: &Metrics) {
    let line: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("RESULT {}", line.join(" "));
}

/// The bench binary itself.
pub fn exe() -> Result<std::path::PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))
}

/// Runs `once <bench> <peer> params...` in a child and returns its metrics.
pub fn once(bench: &str, peer: &str, p: &Params, limit: Duration) -> Result<Metrics, String> {
    let child = Command::new(exe()?)
        .arg("once")
        .arg(bench)
        .arg(peer)
        .args(p.args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    collect(child, limit)
}

fn collect(mut child: Child, limit: Duration) -> Result<Metrics, String> {
    let end = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    if !status.success() {
        let reason = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim();
        return Err(format!("{status}: {reason}"));
    }
    let line = out.lines().find_map(|l| l.strip_prefix("RESULT ")).ok_or("no RESULT line")?;
    let mut m = Metrics::new();
    for kv in line.split_whitespace() {
        let (k, v) = kv.split_once('=').ok_or("bad RESULT")?;
        m.insert(k.to_string(), v.parse().map_err(|_| format!("bad value {kv}"))?);
    }
    Ok(m)
}

/// A running echo server process; killed when dropped.
pub struct Server {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Server {
    /// Starts `serve <peer>` pinned to `core` and waits for its `PORT` line.
    pub fn start(peer: &str, core: usize) -> Result<Server, String> {
        let mut child = Command::new(exe()?)
            .args(["serve", peer, &core.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let port = line.trim().strip_prefix("PORT ").and_then(|p| p.parse().ok());
        match port {
            Some(port) => Ok(Server { child, port }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                Err(err.lines().last().unwrap_or("server did not start").trim().to_string())
            }
        }
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
