//! `serve_tcp` / `serve_listeners`: accept loops in a nursery, one child per connection, after
//! Trio's `_highlevel_serve_listeners.py`.
//!
//! - **Resource exhaustion** (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM` from `accept`) is reported
//!   and the loop sleeps 100 ms before accepting again, instead of dying or spinning (H9).
//!   Transient per-connection errors (`ECONNABORTED`, `EPROTO`, `EPERM`) are skipped.
//! - **Failing handlers.** By default ([`HandlerFailure::Log`]) a handler's error or panic is
//!   reported and the server keeps serving: one bad connection does not take down the others,
//!   which is what users coming from tokio expect. [`HandlerFailure::Propagate`] is Trio's
//!   behaviour: the first failure cancels the server and every connection, and is returned (a
//!   panic is resumed in the caller).
//! - **Startup**: [`Serve::started`] takes a [`TaskStatus`] from `Nursery::start` and reports the
//!   bound addresses once every listener is listening.
//! - **Shutdown**: cancelling the enclosing scope stops the accept loops and cancels every
//!   connection's handler; the call then returns the cancellation.

use quartet_nursery::{BoxError, NurseryError, TaskStatus, nursery};
use quartet_runtime::net::{ListenOptions, TcpListener, TcpStream};
use quartet_runtime::{Cancelled, OpError, is_cancellation, sleep};
use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long an accept loop sleeps after running out of fds or memory (Trio's value).
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What a connection handler's error or panic does to the server.
///
/// # Examples
/// ```no_run
/// use quartet::net::{HandlerFailure, Serve, TcpStream};
/// # quartet::run(async {
/// // Trio's behaviour: the first failing connection stops the whole server.
/// Serve::new()
///     .handler_failure(HandlerFailure::Propagate)
///     .tcp(8080, async |s: TcpStream| s.send_all(b"hi\n".to_vec()).await.0)
///     .await
/// # }).unwrap().ok();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HandlerFailure {
    /// Report it (to the [`Serve::report`] hook, stderr by default) and keep serving.
    #[default]
    Log,
    /// Cancel the server and every connection, and return the failure (Trio's behaviour).
    Propagate,
}

/// Something the server reports instead of failing.
///
/// # Examples
/// ```no_run
/// use quartet::net::{Serve, ServeEvent, TcpStream};
/// # quartet::run(async {
/// Serve::new()
///     .report(|e: &ServeEvent<'_>| match e {
///         ServeEvent::AcceptBackoff { .. } => eprintln!("out of fds: {e}"),
///         other => eprintln!("{other}"),
///     })
///     .tcp(8080, async |s: TcpStream| s.send_all(b"hi\n".to_vec()).await.0)
///     .await
/// # }).unwrap().ok();
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeEvent<'a> {
    /// `accept` ran out of a resource; the loop sleeps for the backoff, then retries.
    AcceptBackoff {
        /// The listener's address.
        listener: SocketAddr,
        /// The error (`EMFILE`, `ENFILE`, `ENOBUFS` or `ENOMEM`).
        error: &'a io::Error,
        /// How long the loop sleeps.
        backoff: Duration,
    },
    /// A handler returned an error (in [`HandlerFailure::Log`] mode).
    HandlerFailed {
        /// The connection's peer.
        peer: SocketAddr,
        /// The handler's error.
        error: &'a (dyn StdError + Send + Sync + 'static),
    },
    /// A handler panicked (in [`HandlerFailure::Log`] mode).
    HandlerPanicked {
        /// The connection's peer.
        peer: SocketAddr,
        /// The panic message, if it was a string.
        message: &'a str,
    },
}

impl fmt::Display for ServeEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeEvent::AcceptBackoff { listener, error, backoff } => {
                write!(f, "quartet serve: accept on {listener} failed ({error}); retrying in {backoff:?}")
            }
            ServeEvent::HandlerFailed { peer, error } => write!(f, "quartet serve: handler for {peer} failed: {error}"),
            ServeEvent::HandlerPanicked { peer, message } => {
                write!(f, "quartet serve: handler for {peer} panicked: {message}")
            }
        }
    }
}

/// Why a server stopped.
///
/// # Examples
/// ```no_run
/// use quartet::net::{ServeError, TcpStream, serve_tcp};
/// # quartet::run(async {
/// match serve_tcp(8080, async |s: TcpStream| s.send_all(b"hi\n".to_vec()).await.0).await {
///     Err(ServeError::Bind(e)) => eprintln!("port 8080: {e}"),
///     Err(ServeError::Cancelled(_)) => println!("stopped"),
///     other => println!("{other:?}"),
/// }
/// # }).unwrap();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A listener could not be created.
    #[error("could not listen: {0}")]
    Bind(#[source] io::Error),
    /// An accept loop hit a fatal error, or (with [`HandlerFailure::Propagate`]) a handler
    /// failed; every failure is listed.
    #[error("server failed: {0}")]
    Failed(#[source] NurseryError),
    /// The enclosing scope was cancelled: the usual way to stop a server.
    /// (The `Cancelled` is this error's `source()`, so cancel scopes recognise it.)
    #[error("{0}")]
    Cancelled(#[from] Cancelled),
}

impl quartet_runtime::fused::PolledAgain for ServeError {
    /// `Cancelled` with `Reason::PolledAfterCompletion` (misuse, not a cancellation).
    fn polled_again() -> Self {
        ServeError::Cancelled(<Cancelled as quartet_runtime::fused::PolledAgain>::polled_again())
    }
}

type Reporter<'h> = Box<dyn Fn(&ServeEvent<'_>) + 'h>;

/// Server settings. [`serve_tcp`] and [`serve_listeners`] use the defaults.
///
/// # Examples
/// Start a server in a nursery, learn its port, connect, then stop it:
/// ```no_run
/// use quartet::net::{Serve, TcpStream};
/// # quartet::run(async {
/// quartet::nursery(async |n| {
///     let addrs = n
///         .start(|status| {
///             Serve::new().started(status).tcp(0, async |stream: TcpStream| {
///                 let (r, buf) = stream.recv(Vec::with_capacity(1024)).await;
///                 r?;
///                 stream.send_all(buf).await.0
///             })
///         })
///         .await?;
///     let client = TcpStream::connect(addrs[0]).await?;
///     n.cancel(); // graceful shutdown: stops accepting, cancels connections
///     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// })
/// .await
/// # .ok(); }).unwrap();
/// ```
pub struct Serve<'h> {
    failure: HandlerFailure,
    backoff: Duration,
    report: Option<Reporter<'h>>,
    status: Option<TaskStatus<Vec<SocketAddr>>>,
}

impl fmt::Debug for Serve<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve").field("failure", &self.failure).field("backoff", &self.backoff).finish_non_exhaustive()
    }
}

impl Default for Serve<'_> {
    fn default() -> Self {
        Serve { failure: HandlerFailure::Log, backoff: ACCEPT_BACKOFF, report: None, status: None }
    }
}

impl<'h> Serve<'h> {
    /// The defaults: log handler failures, 100 ms accept backoff, report to stderr.
    pub fn new() -> Serve<'h> {
        Serve::default()
    }

    /// What a failing or panicking handler does (default [`HandlerFailure::Log`]).
    pub fn handler_failure(mut self, mode: HandlerFailure) -> Self {
        self.failure = mode;
        self
    }

    /// How long an accept loop sleeps after `EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM` (default 100 ms).
    pub fn accept_backoff(mut self, d: Duration) -> Self {
        self.backoff = d;
        self
    }

    /// Where reports go instead of stderr (a logger, a metrics counter, a test).
    pub fn report(mut self, f: impl Fn(&ServeEvent<'_>) + 'h) -> Self {
        self.report = Some(Box::new(f));
        self
    }

    /// Reports the bound addresses through a `Nursery::start` status once listening.
    pub fn started(mut self, status: TaskStatus<Vec<SocketAddr>>) -> Self {
        self.status = Some(status);
        self
    }

    /// Listens on `port` on every interface (one dual-stack IPv6 socket, or IPv4 where the host
    /// has no IPv6; IPv4 peers then appear as `::ffff:a.b.c.d`) and serves it. Port 0 picks one.
    ///
    /// # Cancellation
    /// Runs until cancelled: cancelling stops accepting and cancels every connection's handler,
    /// waits for them to finish, and returns [`ServeError::Cancelled`].
    pub fn tcp<H, E>(self, port: u16, handler: H) -> impl std::future::Future<Output = Result<(), ServeError>>
    where
        H: AsyncFn(TcpStream) -> Result<(), E>,
        E: Into<BoxError>,
    {
        quartet_runtime::fused::once(async move {
            let dual = ListenOptions::default().v6_only(false);
            let listener = TcpListener::bind_with(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)), dual)
                .or_else(|_| TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))))
                .map_err(ServeError::Bind)?;
            self.listeners(vec![listener], handler).await
        })
    }

    /// Serves connections from `listeners`: an accept loop per listener, a child per connection.
    /// With no listeners there is nothing to serve and it returns `Ok(())` at once.
    ///
    /// # Cancellation
    /// As for [`tcp`](Self::tcp).
    pub fn listeners<H, E>(
        self,
        listeners: Vec<TcpListener>,
        handler: H,
    ) -> impl std::future::Future<Output = Result<(), ServeError>>
    where
        H: AsyncFn(TcpStream) -> Result<(), E>,
        E: Into<BoxError>,
    {
        quartet_runtime::fused::once(async move {
            let addrs = listeners.iter().map(TcpListener::local_addr).collect::<io::Result<Vec<_>>>();
            let addrs = addrs.map_err(ServeError::Bind)?;
            let Serve { failure, backoff, report, status } = self;
            let report = |e: &ServeEvent<'_>| match &report {
                Some(f) => f(e),
                None => eprintln!("{e}"),
            };
            let (handler, report) = (&handler, &report);
            let listeners = &listeners;
            let out = nursery(async |n| {
                for (listener, &addr) in listeners.iter().zip(&addrs) {
                    let n2 = n.clone();
                    n.spawn_named(format!("accept loop {addr}"), async move {
                        loop {
                            let (stream, peer) = match listener.accept().await {
                                Ok(c) => c,
                                Err(OpError::Io(e)) if exhausted(&e) => {
                                    report(&ServeEvent::AcceptBackoff { listener: addr, error: &e, backoff });
                                    sleep(backoff).await?;
                                    continue;
                                }
                                Err(OpError::Io(e)) if transient(&e) => continue,
                                Err(e) => return Err::<(), BoxError>(BoxError::from(e)),
                            };
                            n2.spawn(connection(handler, stream, peer, failure, report))?;
                        }
                    })?;
                }
                if let Some(st) = status {
                    st.started(addrs.clone());
                }
                Ok::<_, BoxError>(())
            })
            .await;
            match out {
                Ok(()) => Ok(()),
                Err(e) if e.is_cancelled() => match e.cancelled() {
                    Some(c) => Err(ServeError::Cancelled(c.clone())),
                    None => Err(ServeError::Failed(e)),
                },
                Err(e) => Err(ServeError::Failed(e)),
            }
        })
    }
}

/// Runs one connection's handler under the failure policy.
async fn connection<H, E>(
    handler: &H,
    stream: TcpStream,
    peer: SocketAddr,
    failure: HandlerFailure,
    report: &impl Fn(&ServeEvent<'_>),
) -> Result<(), BoxError>
where
    H: AsyncFn(TcpStream) -> Result<(), E>,
    E: Into<BoxError>,
{
    if failure == HandlerFailure::Propagate {
        return handler(stream).await.map_err(Into::into);
    }
    match CatchUnwind(Box::pin(handler(stream))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            let e: BoxError = e.into();
            if is_cancellation(&*e) {
                return Err(e); // the server is shutting down: not a handler failure
            }
            report(&ServeEvent::HandlerFailed { peer, error: &*e });
            Ok(())
        }
        Err(panic) => {
            report(&ServeEvent::HandlerPanicked { peer, message: panic_message(&*panic) });
            Ok(())
        }
    }
}

fn panic_message(p: &(dyn Any + Send)) -> &str {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string panic>")
}

/// Errors after which accepting again at once would fail again (H9).
fn exhausted(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}

/// Errors that concern only the one connection being accepted.
fn transient(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EPROTO | libc::EPERM))
}

/// Catches a panic inside a future's poll and returns it as a value.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The handler's state is dropped right after a panic and never polled again, so a broken
        // invariant inside it cannot be observed: asserting unwind safety is sound here.
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}

/// Serves `handler` on `port` on every interface with the default settings ([`Serve`]): a
/// failing or panicking handler is logged to stderr and the server keeps serving.
///
/// # Cancellation
/// Runs until cancelled; cancelling stops accepting, cancels every connection, waits for them,
/// and returns [`ServeError::Cancelled`].
///
/// # Examples
/// ```no_run
/// use quartet::net::{TcpStream, serve_tcp};
/// # quartet::run(async {
/// serve_tcp(8080, async |stream: TcpStream| {
///     stream.send_all(b"hello\n".to_vec()).await.0
/// })
/// .await
/// # }).unwrap().ok();
/// ```
pub fn serve_tcp<H, E>(port: u16, handler: H) -> impl std::future::Future<Output = Result<(), ServeError>>
where
    H: AsyncFn(TcpStream) -> Result<(), E>,
    E: Into<BoxError>,
{
    quartet_runtime::fused::once(async move { Serve::new().tcp(port, handler).await })
}

/// Serves `handler` on already bound listeners with the default settings ([`Serve`]).
///
/// # Cancellation
/// As for [`serve_tcp`].
///
/// # Examples
/// ```no_run
/// use quartet::net::{TcpListener, TcpStream, serve_listeners};
/// # quartet::run(async {
/// let listener = TcpListener::bind("127.0.0.1:8080".parse().unwrap()).unwrap();
/// serve_listeners(vec![listener], async |stream: TcpStream| stream.send_all(b"hi\n".to_vec()).await.0).await
/// # }).unwrap().ok();
/// ```
pub fn serve_listeners<H, E>(
    listeners: Vec<TcpListener>,
    handler: H,
) -> impl std::future::Future<Output = Result<(), ServeError>>
where
    H: AsyncFn(TcpStream) -> Result<(), E>,
    E: Into<BoxError>,
{
    quartet_runtime::fused::once(async move { Serve::new().listeners(listeners, handler).await })
}
