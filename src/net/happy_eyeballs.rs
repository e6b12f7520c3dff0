//! `open_tcp_stream`: connect to a host name with Happy Eyeballs (RFC 8305), after Trio's
//! `_highlevel_open_tcp_stream.py`.
//!
//! The resolved addresses are interleaved by family (IPv6, IPv4, IPv6, ... starting with the
//! family the resolver put first) and tried in that order, each attempt a child of a nursery.
//! A new attempt starts when the previous one failed or when the stagger delay (250 ms by
//! default) passed, whichever comes first. The first attempt to connect wins: it cancels the
//! nursery, so the other attempts' connects are cancelled and their sockets closed; a loser that
//! connected in the same instant is closed too. If none connects, every attempt's error is
//! reported.

use quartet_nursery::{BoxError, Event, nursery};
use quartet_runtime::net::{TcpStream, lookup_host};
use quartet_runtime::{Cancelled, OpError};
use std::cell::RefCell;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

/// The RFC 8305 "Connection Attempt Delay" Trio and most clients use.
pub const DEFAULT_STAGGER: Duration = Duration::from_millis(250);

/// Why [`open_tcp_stream`] did not connect.
///
/// # Examples
/// ```no_run
/// use quartet::net::{ConnectError, open_tcp_stream};
/// # quartet::run(async {
/// match open_tcp_stream("example.invalid", 80).await {
///     Ok(stream) => println!("connected to {}", stream.peer_addr()?),
///     Err(ConnectError::AllFailed(errors)) => {
///         for (addr, e) in errors {
///             eprintln!("{addr}: {e}");
///         }
///     }
///     Err(e) => eprintln!("{e}"),
/// }
/// # Ok::<(), std::io::Error>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The name did not resolve.
    #[error("could not resolve {host:?}: {source}")]
    Lookup {
        /// The host name.
        host: String,
        /// The resolver's error.
        source: OpError,
    },
    /// The resolver (or the caller) gave no addresses.
    #[error("no addresses to connect to")]
    NoAddresses,
    /// Every attempt failed: each address with its error, in the order they were tried.
    #[error("all {} connection attempts failed: {}", .0.len(), list(.0))]
    AllFailed(Vec<(SocketAddr, OpError)>),
    /// The caller's scope was cancelled before any attempt connected.
    /// (The `Cancelled` is this error's `source()`, so cancel scopes recognise it.)
    #[error("{0}")]
    Cancelled(#[from] Cancelled),
}

impl quartet_runtime::fused::PolledAgain for ConnectError {
    /// `Cancelled` with `Reason::PolledAfterCompletion` (misuse, not a cancellation).
    fn polled_again() -> Self {
        ConnectError::Cancelled(<Cancelled as quartet_runtime::fused::PolledAgain>::polled_again())
    }
}

fn list(errors: &[(SocketAddr, OpError)]) -> String {
    errors.iter().map(|(a, e)| format!("{a}: {e}")).collect::<Vec<_>>().join("; ")
}

/// What happened to one connection attempt (see [`OpenTcp::connect_addrs_traced`]).
///
/// # Examples
/// ```no_run
/// use quartet::net::{OpenTcp, Outcome};
/// # quartet::run(async {
/// let addrs = ["[::1]:80".parse().unwrap(), "127.0.0.1:80".parse().unwrap()];
/// let (result, attempts) = OpenTcp::new().connect_addrs_traced(&addrs).await;
/// for a in &attempts {
///     println!("{a}"); // e.g. "[::1]:80 at +0ns: Failed"
/// }
/// assert_eq!(result.is_ok(), attempts.iter().any(|a| a.outcome == Outcome::Won));
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Still running when the trace was taken (never the case once `connect` returned).
    Running,
    /// Connected first: this is the returned stream.
    Won,
    /// Connected after another attempt had won; closed.
    Lost,
    /// Failed; the error is in [`ConnectError::AllFailed`] if nobody won.
    Failed,
    /// Cancelled because another attempt won (or the caller was cancelled); its socket was closed.
    Cancelled,
}

/// One connection attempt: where, when it started (since the call began), and how it ended.
/// See [`Outcome`] for an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// The address tried.
    pub addr: SocketAddr,
    /// When the attempt started, relative to the start of the call.
    pub started: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

/// Happy Eyeballs settings. [`open_tcp_stream`] uses the defaults.
///
/// # Examples
/// ```no_run
/// use quartet::net::OpenTcp;
/// use std::time::Duration;
/// # quartet::run(async {
/// let stream = OpenTcp::new().stagger(Duration::from_millis(100)).connect("localhost", 8080).await?;
/// # Ok::<(), quartet::net::ConnectError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenTcp {
    stagger: Duration,
}

impl Default for OpenTcp {
    fn default() -> Self {
        OpenTcp { stagger: DEFAULT_STAGGER }
    }
}

impl OpenTcp {
    /// The defaults: a [`DEFAULT_STAGGER`] of 250 ms.
    pub fn new() -> OpenTcp {
        OpenTcp::default()
    }

    /// How long to wait for an attempt before starting the next one in parallel.
    pub fn stagger(mut self, delay: Duration) -> OpenTcp {
        self.stagger = delay;
        self
    }

    /// Resolves `host` and connects to one of its addresses, interleaved by family.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns [`ConnectError::Cancelled`], no connection is left open: the
    /// lookup was abandoned or every attempt was cancelled and its socket closed. An attempt that
    /// had already connected when the cancel arrived is returned instead (the next checkpoint
    /// raises the cancellation).
    pub fn connect(&self, host: &str, port: u16) -> impl std::future::Future<Output = Result<TcpStream, ConnectError>> {
        quartet_runtime::fused::once(async move {
            let addrs = match lookup_host(host, port).await {
                Ok(a) => a,
                Err(OpError::Cancelled(c)) => return Err(ConnectError::Cancelled(c)),
                Err(source) => return Err(ConnectError::Lookup { host: host.to_owned(), source }),
            };
            self.connect_addrs(&interleave_families(addrs)).await
        })
    }

    /// Connects to one of `addrs`, tried in the given order (no reordering).
    ///
    /// # Cancellation
    /// As for [`connect`](Self::connect).
    pub fn connect_addrs(
        &self,
        addrs: &[SocketAddr],
    ) -> impl std::future::Future<Output = Result<TcpStream, ConnectError>> {
        quartet_runtime::fused::once(async move { self.connect_addrs_traced(addrs).await.0 })
    }

    /// [`connect_addrs`](Self::connect_addrs), also returning every attempt in the order started,
    /// with its start time and outcome (for diagnostics and tests).
    ///
    /// # Cancellation
    /// As for [`connect`](Self::connect).
    pub fn connect_addrs_traced(
        &self,
        addrs: &[SocketAddr],
    ) -> impl std::future::Future<Output = (Result<TcpStream, ConnectError>, Vec<Attempt>)> {
        quartet_runtime::fused::once_pending(async move {
            let trace = RefCell::new(Vec::with_capacity(addrs.len()));
            let r = self.race(addrs, &trace).await;
            (r, trace.into_inner())
        })
    }

    async fn race(&self, addrs: &[SocketAddr], trace: &RefCell<Vec<Attempt>>) -> Result<TcpStream, ConnectError> {
        // A checkpoint even when there is nothing to try.
        quartet_runtime::checkpoint().await?;
        if addrs.is_empty() {
            return Err(ConnectError::NoAddresses);
        }
        let t0 = quartet_runtime::now();
        let winner: RefCell<Option<TcpStream>> = RefCell::new(None);
        let errors: RefCell<Vec<(SocketAddr, OpError)>> = RefCell::new(Vec::new());
        let (winner_ref, errors_ref) = (&winner, &errors);
        let outcome = nursery(async |n| {
            for (i, &addr) in addrs.iter().enumerate() {
                let failed = Rc::new(Event::new());
                let (failed2, n2) = (failed.clone(), n.clone());
                trace.borrow_mut().push(Attempt {
                    addr,
                    started: quartet_runtime::now() - t0,
                    outcome: Outcome::Running,
                });
                let set = move |o: Outcome| trace.borrow_mut()[i].outcome = o;
                n.spawn(async move {
                    match TcpStream::connect(addr).await {
                        Ok(stream) if winner_ref.borrow().is_none() => {
                            *winner_ref.borrow_mut() = Some(stream);
                            set(Outcome::Won);
                            n2.cancel();
                        }
                        // Connected in the same instant as the winner: dropping closes it.
                        Ok(_late) => set(Outcome::Lost),
                        Err(OpError::Cancelled(c)) => {
                            set(Outcome::Cancelled);
                            return Err(c);
                        }
                        Err(e) => {
                            set(Outcome::Failed);
                            errors_ref.borrow_mut().push((addr, e));
                            failed2.set();
                        }
                    }
                    Ok(())
                })?;
                if i + 1 < addrs.len() {
                    quartet_nursery::move_on_after(self.stagger, failed.wait()).await?;
                }
            }
            Ok::<_, BoxError>(())
        })
        .await;
        if let Some(stream) = winner.into_inner() {
            return Ok(stream);
        }
        match outcome {
            Err(e) if e.is_cancelled() => match e.cancelled() {
                Some(c) => Err(ConnectError::Cancelled(c.clone())),
                None => Err(ConnectError::AllFailed(sorted(errors.into_inner(), addrs))),
            },
            // Attempts fail only by recording an error (above), so the nursery itself cannot
            // report anything else; whatever it says, the recorded errors are the answer.
            _ => Err(ConnectError::AllFailed(sorted(errors.into_inner(), addrs))),
        }
    }
}

/// Errors in the order the attempts started, not the order they failed.
fn sorted(mut errors: Vec<(SocketAddr, OpError)>, addrs: &[SocketAddr]) -> Vec<(SocketAddr, OpError)> {
    errors.sort_by_key(|(a, _)| addrs.iter().position(|x| x == a));
    errors
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at +{:?}: {:?}", self.addr, self.started, self.outcome)
    }
}

/// Connects to `host:port` with Happy Eyeballs and the default settings ([`OpenTcp`]).
///
/// # Errors
/// [`ConnectError`]: the lookup failed, no addresses, every attempt failed (all errors listed),
/// or cancelled.
///
/// # Cancellation
/// A checkpoint. If it returns [`ConnectError::Cancelled`], no connection is left open; an
/// attempt that had already connected when the cancel arrived is returned instead.
///
/// # Examples
/// ```no_run
/// # quartet::run(async {
/// let stream = quartet::net::open_tcp_stream("localhost", 8080).await?;
/// stream.send_all(b"GET / HTTP/1.0\r\n\r\n".to_vec()).await.0?;
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
pub fn open_tcp_stream(host: &str, port: u16) -> impl std::future::Future<Output = Result<TcpStream, ConnectError>> {
    quartet_runtime::fused::once(async move { OpenTcp::new().connect(host, port).await })
}

/// Orders addresses for Happy Eyeballs (RFC 8305 §4): alternate families, starting with the
/// family of the first address, keeping the resolver's order within each family.
///
/// # Examples
/// ```
/// use quartet::net::interleave_families;
/// let a: Vec<std::net::SocketAddr> =
///     ["[::1]:1", "[::2]:1", "127.0.0.1:1", "127.0.0.2:1"].iter().map(|s| s.parse().unwrap()).collect();
/// let order: Vec<String> = interleave_families(a).iter().map(|a| a.to_string()).collect();
/// assert_eq!(order, ["[::1]:1", "127.0.0.1:1", "[::2]:1", "127.0.0.2:1"]);
/// ```
pub fn interleave_families(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first) = addrs.first().copied() else { return addrs };
    let (mut same, mut other): (Vec<_>, Vec<_>) = addrs.into_iter().partition(|a| a.is_ipv4() == first.is_ipv4());
    let mut out = Vec::with_capacity(same.len() + other.len());
    let (mut a, mut b) = (same.drain(..), other.drain(..));
    loop {
        match (a.next(), b.next()) {
            (None, None) => break,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
    out
}
