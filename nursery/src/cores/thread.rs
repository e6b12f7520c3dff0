//! One core's thread: pin it, run a runtime whose root is the body inside the group's scope,
//! and turn how it ended into an [`Exit`].
//!
//! A body that fails or panics cancels the group *from inside its runtime*, as soon as it ends,
//! not after its core's shutdown drain: the other cores start unwinding at once. A core that
//! cannot start (pinning, ring setup) cancels the group too. Every thread rings the group's
//! doorbell as it ends, also when it unwinds, so the calling thread's signal watch knows when all
//! cores are done.

use super::spawn::{BodyDone, serve_mailbox};
use super::{Core, CoresError, catch_unwind};
use crate::BoxError;
use crate::nursery::nursery;
use crate::scope::CancelScope;
use quartet_runtime::group::{Doorbell, pin_current_thread};
use quartet_runtime::hooks::ScopeState;
use quartet_runtime::{Builder, Cancelled, Reason, is_cancellation};
use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind as catch_unwind_sync};
use std::sync::Arc;
use std::thread::{Scope, ScopedJoinHandle};

/// How one core ended.
pub(super) enum Exit<T> {
    /// The body returned `Ok`.
    Done(T),
    /// The body returned an error that is not the group's cancellation.
    Failed(BoxError),
    /// The body ended with the group's cancellation.
    Cancelled(Cancelled),
    /// The core could not start (or its ring failed).
    Setup(CoresError),
    /// The body (or the runtime) panicked; the payload.
    Panicked(Box<dyn Any + Send + 'static>),
}

/// Rings the doorbell when the thread ends, however it ends.
struct RingOnDrop<'a>(&'a Doorbell);

impl Drop for RingOnDrop<'_> {
    fn drop(&mut self) {
        self.0.ring();
    }
}

/// Starts core `core.index()`'s thread in `s`.
pub(super) fn spawn_core<'scope, 'env, F, Fut, T, E>(
    s: &'scope Scope<'scope, 'env>,
    core: Core,
    builder: Builder,
    group: Arc<ScopeState>,
    body: &'env F,
    bell: &'env Doorbell,
) -> std::io::Result<ScopedJoinHandle<'scope, Exit<T>>>
where
    F: Fn(Core) -> Fut + Sync,
    Fut: Future<Output = Result<T, E>>,
    T: Send + 'scope,
    E: Into<BoxError>,
{
    let name = format!("quartet-core-{}", core.index);
    std::thread::Builder::new().name(name).spawn_scoped(s, move || {
        let _ring = RingOnDrop(bell);
        let index = core.index;
        let exit = run_core(core, builder, group.clone(), body);
        match &exit {
            Exit::Done(_) | Exit::Cancelled(_) => {}
            Exit::Failed(_) => group.cancel(Reason::SiblingFailed(format!("core {index} failed"))),
            Exit::Setup(_) => group.cancel(Reason::SiblingFailed(format!("core {index} could not start"))),
            Exit::Panicked(_) => group.cancel(Reason::SiblingFailed(format!("core {index} panicked"))),
        }
        exit
    })
}

fn run_core<F, Fut, T, E>(core: Core, builder: Builder, group: Arc<ScopeState>, body: &F) -> Exit<T>
where
    F: Fn(Core) -> Fut + Sync,
    Fut: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    let index = core.index;
    let shared = core.shared.clone();
    // However this core ends, the group learns that its body will not run any more.
    let mut body_done = BodyDone::new(&shared);
    if let Some(cpu) = core.cpu {
        if let Err(source) = pin_current_thread(cpu) {
            close_mailbox(&shared, index);
            return Exit::Setup(CoresError::Pin { core: index, cpu, source });
        }
    }
    let state = group.clone();
    let mailbox = &shared.mailboxes[index];
    let root = async {
        let scope = CancelScope::from_state(state.clone());
        let out = RefCell::new(None);
        // The host nursery: the body, and the mailbox task that runs the children other cores
        // spawn here (`spawn_on`) until every body of the group has ended.
        let _ = scope
            .run(nursery(async |host| {
                host.spawn_named("mailbox", serve_mailbox(mailbox, host.clone()))?;
                let r = catch_unwind(async { body(core).await.map_err(Into::into) }).await;
                // Cancel the other cores at once, not after this core's shutdown.
                match &r {
                    Ok(Err(e)) if !is_cancellation(&**e) => {
                        state.cancel(Reason::SiblingFailed(format!("core {index} failed")))
                    }
                    Err(_) => state.cancel(Reason::SiblingFailed(format!("core {index} panicked"))),
                    _ => {}
                }
                body_done.finish();
                *out.borrow_mut() = Some(r);
                Ok::<(), BoxError>(())
            }))
            .await;
        let cancelled = || Exit::Cancelled(Cancelled::new(state.reason().unwrap_or(Reason::Explicit)));
        match out.into_inner() {
            Some(Ok(Ok(v))) => Exit::Done(v),
            Some(Ok(Err(e))) if is_cancellation(&*e) => cancelled(),
            Some(Ok(Err(e))) => Exit::Failed(e),
            Some(Err(payload)) => Exit::Panicked(payload),
            None => cancelled(),
        }
    };
    let exit = match catch_unwind_sync(AssertUnwindSafe(|| builder.run(root))) {
        Ok(Ok(exit)) => exit,
        Ok(Err(source)) => Exit::Setup(CoresError::Runtime { core: index, source }),
        Err(payload) => Exit::Panicked(payload),
    };
    close_mailbox(&shared, index);
    exit
}

/// Nothing serves core `index`'s mailbox any more (its runtime ended, or never started): refuse
/// later jobs and drop the queued ones, whose children then finish as dropped, so a `CoreNursery`
/// on another core that spawned them does not wait for them forever.
pub(super) fn close_mailbox(shared: &super::spawn::Group, index: usize) {
    shared.mailboxes[index].close();
}
