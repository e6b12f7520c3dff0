//! hyper 1.x on quartet (feature `hyper`): `rt::Read`/`rt::Write` for [`Compat`], a
//! [`HyperTimer`] on quartet's timers, and a [`NurseryExecutor`] that makes every task hyper
//! spawns (HTTP/2 streams, upgrades) a child of a nursery the program supplies.
//!
//! Why the executor needs no `Send`: hyper puts no `Send` bound on the futures it hands to
//! `Executor::execute`; it only needs the executor to be `Clone` (the bounds in `hyper::rt::bounds`
//! are `E: Executor<H2Stream<..>> + Clone`). A `Send` bound comes only from executors such as
//! tokio's, which may run the future on another thread. quartet's nursery handle is `!Send` and so
//! is this executor, which means a hyper connection that holds it is `!Send` too: the compiler
//! keeps it on the runtime's thread, where `execute` calls `Nursery::spawn` directly. Every
//! spawned stream is then a child of that nursery: it is cancelled with it, and the nursery does
//! not return until the stream has finished. No channel or thread hop is needed.
//!
//! Some APIs built on hyper do want a `Send + Sync + 'static` executor for `Send` futures
//! (hyper-util's pooled client, for one). For them, [`send_executor`] returns a [`SendExecutor`]
//! that may be cloned and called from any thread: it only pushes the boxed future into a quartet
//! channel. The other end, a [`SendExecutorTask`] that the program runs as a child of its nursery,
//! receives each future and spawns it there. Both ways, the futures end up as nursery children.
//!
//! The timer's `Sleep` is `Send + Sync` as hyper requires. quartet's [`Sleep`](quartet_runtime::Sleep)
//! is neither (its timer wheel entry lives inside it and the wheel points to it), so hyper's sleep
//! is a [`Timer`](quartet_runtime::Timer) (a registration named by a key, in the runtime's pool)
//! plus a [`Park`](quartet_runtime::cancel::Park) on the cancel-status tree: the same behaviour.

use crate::compat::Compat;
use hyper::rt::{self, ReadBufCursor};
use quartet_nursery::channel::{Receiver, RecvError, Sender, unbounded_channel};
use quartet_nursery::{Nursery, SpawnError};
use quartet_runtime::Cancelled;
use quartet_runtime::cancel::Park;
use quartet_runtime::io::{OwnedRead, OwnedWrite};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

impl<S: OwnedRead + OwnedWrite + 'static> rt::Read for Compat<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, mut buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        let room = buf.remaining();
        self.get_mut().poll_read_with(cx, room, |bytes| buf.put_slice(bytes)).map_ok(drop)
    }
}

impl<S: OwnedRead + OwnedWrite + 'static> rt::Write for Compat<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_from(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_drain(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_shutdown(cx)
    }
}

/// hyper's `rt::Timer` on quartet's timer wheel (header read timeouts, keep-alive pings).
///
/// A sleep inside a cancelled scope ends at once: hyper then sees its timeout fire and closes the
/// connection, which is what a cancelled server wants.
///
/// # Examples
/// ```no_run
/// let mut http = hyper::server::conn::http1::Builder::new();
/// http.timer(quartet_io::hyper::HyperTimer);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct HyperTimer;

impl rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(HyperSleep::new(quartet_runtime::now().checked_add(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(HyperSleep::new(Some(deadline)))
    }

    /// quartet's clock, so hyper's timeouts follow the testing toolkit's mock clock too (hyper
    /// computes its deadlines from this and passes them to `sleep_until`).
    fn now(&self) -> Instant {
        quartet_runtime::now()
    }
}

/// A `Send + Sync` sleep: a [`Timer`](quartet_runtime::Timer) and a cancel [`Park`]. Ends at its
/// deadline, or at once if the scope is cancelled, or outside a runtime (as a quartet `Sleep`
/// would, with `Cancelled`; hyper only sees that its timeout fired).
struct HyperSleep {
    /// `None`: too far to represent (never fires).
    deadline: Option<Instant>,
    timer: quartet_runtime::Timer,
    park: Park,
    polled: bool,
}

impl HyperSleep {
    fn new(deadline: Option<Instant>) -> HyperSleep {
        HyperSleep { deadline, timer: quartet_runtime::Timer::new(), park: Park::new(), polled: false }
    }
}

impl Future for HyperSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if !std::mem::replace(&mut this.polled, true) && quartet_runtime::stats().is_none() {
            return Poll::Ready(()); // no runtime: nothing would ever wake it
        }
        if this.park.park(cx).is_err() {
            this.park.unpark();
            this.timer.disarm();
            return Poll::Ready(());
        }
        let Some(deadline) = this.deadline else { return Poll::Pending };
        match this.timer.poll_at(deadline, cx) {
            Poll::Ready(()) => {
                this.park.unpark();
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl rt::Sleep for HyperSleep {}

/// hyper's `rt::Executor`: each future hyper spawns becomes a child of the nursery, so HTTP/2
/// streams stay structured (cancelled with the nursery, waited for by it). See the
/// [module docs](self) for why no `Send` is needed.
///
/// If the nursery has already finished, `execute` drops the future (hyper's `execute` cannot
/// report an error); create the executor inside the nursery that outlives the connections.
///
/// # Examples
/// ```no_run
/// use quartet_io::hyper::{HyperTimer, NurseryExecutor};
/// # async fn f() -> Result<(), quartet_nursery::NurseryError> {
/// quartet_nursery::nursery(async |n| {
///     let mut h2 = hyper::server::conn::http2::Builder::new(NurseryExecutor::new(n));
///     h2.timer(HyperTimer);
///     // h2.serve_connection(Compat::new(stream), service) in a child of `n`
///     Ok::<_, quartet_nursery::SpawnError>(())
/// })
/// .await
/// # }
/// ```
#[derive(Clone)]
pub struct NurseryExecutor<'env> {
    nursery: Nursery<'env>,
}

impl<'env> NurseryExecutor<'env> {
    /// An executor that spawns into `nursery`.
    pub fn new(nursery: &Nursery<'env>) -> NurseryExecutor<'env> {
        NurseryExecutor { nursery: nursery.clone() }
    }
}

impl fmt::Debug for NurseryExecutor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NurseryExecutor").field("nursery", &self.nursery).finish()
    }
}

impl<'env, F> rt::Executor<F> for NurseryExecutor<'env>
where
    F: Future + 'env,
    F::Output: 'env,
{
    #[track_caller]
    fn execute(&self, fut: F) {
        let task = async move {
            fut.await;
            Ok::<(), Infallible>(())
        };
        // Err only if the nursery has finished: nothing can run the future then.
        let _ = self.nursery.spawn_named("hyper task", task);
    }
}

type SendFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A hyper `rt::Executor` that is `Send + Sync + 'static`, for APIs that require one. Futures go
/// through a channel to the [`SendExecutorTask`] made with it, which spawns them into a nursery.
/// If that task has ended, `execute` drops the future.
///
/// # Examples
/// ```no_run
/// # async fn f() -> Result<(), quartet_nursery::NurseryError> {
/// use hyper::rt::Executor;
/// let (exec, task) = quartet_io::hyper::send_executor();
/// quartet_nursery::nursery(async |n| {
///     n.spawn(task.run(n.clone()))?;
///     std::thread::spawn(move || exec.execute(async { println!("runs as a nursery child") }));
///     Ok::<_, quartet_nursery::SpawnError>(())
/// })
/// .await
/// # }
/// ```
#[derive(Clone)]
pub struct SendExecutor {
    tx: Sender<SendFuture>,
}

impl fmt::Debug for SendExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendExecutor").finish_non_exhaustive()
    }
}

impl<F> rt::Executor<F> for SendExecutor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        // Unbounded: never full. Err only if the task has ended; the future is then dropped.
        let _ = self.tx.try_send(Box::pin(fut));
    }
}

/// The receiving end of a [`SendExecutor`]: run it as a child of the nursery that should own the
/// executed futures.
#[derive(Debug)]
pub struct SendExecutorTask {
    rx: Receiver<SendFuture>,
}

/// A `Send + Sync` executor and the task that spawns what it is given (see [`SendExecutor`]).
pub fn send_executor() -> (SendExecutor, SendExecutorTask) {
    let (tx, rx) = unbounded_channel();
    (SendExecutor { tx }, SendExecutorTask { rx })
}

/// Why a [`SendExecutorTask`] stopped before every executor handle was gone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorTaskError {
    /// The task's scope was cancelled.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    /// The nursery has finished, so nothing more can be spawned into it.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
}

impl quartet_runtime::fused::PolledAgain for ExecutorTaskError {
    /// `Cancelled` with `Reason::PolledAfterCompletion` (misuse, not a cancellation).
    fn polled_again() -> Self {
        ExecutorTaskError::Cancelled(<Cancelled as quartet_runtime::fused::PolledAgain>::polled_again())
    }
}

impl SendExecutorTask {
    /// Spawns every future the executor is given into `nursery` (pass a clone of the handle),
    /// until every [`SendExecutor`]
    /// clone is dropped (then `Ok`).
    ///
    /// # Cancellation
    /// Returns `Cancelled` when its scope is cancelled; futures already spawned are children of
    /// `nursery` and are cancelled with it, not by this task.
    pub fn run(self, nursery: Nursery<'_>) -> impl std::future::Future<Output = Result<(), ExecutorTaskError>> {
        quartet_runtime::fused::once(async move {
            loop {
                match self.rx.recv().await {
                    Ok(Some(fut)) => {
                        nursery.spawn_named("hyper task", async move {
                            fut.await;
                            Ok::<(), Infallible>(())
                        })?;
                    }
                    // Every executor handle is gone (or this end was closed): nothing more will come.
                    Ok(None) | Err(RecvError::Closed) => return Ok(()),
                    Err(RecvError::Cancelled(c)) => return Err(c.into()),
                    Err(_) => return Ok(()),
                }
            }
        })
    }
}
