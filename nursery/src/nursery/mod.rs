//! Nurseries: the only way to run tasks concurrently (semantics §1, §2).
//!
//! Design (why children may borrow, soundly): a child is a future stored *inside* its nursery and
//! polled only from the nursery future's own `poll`. Nothing else (no kernel run queue, no waker)
//! can poll it; a waker only records "slot i is ready" in the nursery's [`ReadyQueue`] and wakes
//! the nursery. So if the nursery future is leaked with `mem::forget`, its children are never
//! polled again and never dropped: they leak with it, and can never touch the borrowed data after
//! it is freed. If the nursery future is dropped, it drops its children first. The nursery's
//! lifetime `'env` is invariant, so a child can borrow what outlives the nursery call, but not
//! the body's own locals.
//!
//! The module is split by concern: this file holds the handle and its spawning API, `slots.rs`
//! the state the others share (slots, free list, failures), `cell.rs` a child's one allocation,
//! `start_call.rs` the start handshake, `run.rs` the future that polls the body and the children,
//! `outcome.rs` what happens when one of them finishes.
//!
//! # Invariants
//! - **N1** The body and the children are polled inside the nursery's activation (its node in the
//!   cancel-status tree is the current status), so children see the nursery's scopes, never their
//!   spawner's, and everything they park hangs under the nursery's node: cancelling the nursery
//!   (explicitly, by a failure, by an outer scope or by its deadline) reaches every blocked
//!   operation of every child through the walk, with no re-polling of the children.
//! - **N2** Children are polled only from the nursery future's poll (see above), in FIFO rounds
//!   from the `ReadyQueue`, within the tick's budget.
//! - **N3** The nursery future returns `Pending` at least once before it completes (exit is a
//!   schedule point), but exit itself never produces a `Cancelled`.
//! - **N4** A child's `Err` or panic cancels the nursery's scope; everything that failed is
//!   reported when all have finished, a panic is resumed with its payload.

mod cell;
mod outcome;
mod run;
mod slots;
mod start_call;

use crate::child_output::ChildOutput;
use crate::error::{BoxError, Failure, NurseryError, SpawnError};
use crate::join::JoinHandle;
use crate::scope::{CancelHandle, CancelScope};
use crate::start::StartSink;
pub(crate) use cell::JoinSide;
use cell::TaskCell;
use quartet_runtime::hooks::ReadyQueue;
use quartet_runtime::hooks::{Activation, ScopeState};
use quartet_runtime::hooks::{LiveTasks, SchedulerRecord, TaskInfo};
use quartet_runtime::{OpError, Reason};
use run::Run;
use slots::{BODY, Child, Inner, Slot, State};
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;

/// What a child's `JoinHandle` yields.
type ValueOf<F> = <<F as Future>::Output as ChildOutput>::Value;

/// A handle to a running nursery: spawn children, start them, cancel the nursery.
///
/// Cloning the handle is cheap; a clone moved into a child lets it spawn siblings. Children
/// inherit the nursery's cancel scopes, not the spawner's.
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// # quartet_runtime::run(async {
/// use quartet_runtime::sleep;
/// use std::time::Duration;
///
/// // A struct that keeps a nursery handle: two lifetimes, the borrow of the handle ('a) and
/// // what the children may borrow ('env).
/// struct Server<'a, 'env> {
///     nursery: &'a Nursery<'env>,
///     greeting: &'env str,
/// }
///
/// impl Server<'_, '_> {
///     fn accept(&self, who: u32) -> Result<(), SpawnError> {
///         let greeting = self.greeting;
///         self.nursery.spawn_named(format!("conn {who}"), async move {
///             sleep(Duration::from_millis(1)).await?;
///             println!("{greeting}, {who}");
///             Ok::<_, BoxError>(())
///         })?;
///         Ok(())
///     }
/// }
///
/// let greeting = String::from("hello");
/// nursery(async |n| -> Result<(), BoxError> {
///     let server = Server { nursery: n, greeting: &greeting };
///     for who in 0..3 {
///         server.accept(who)?;
///     }
///     assert_eq!(n.live_children(), 3);
///     Ok(())
/// })
/// .await?;
/// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
/// ```
pub struct Nursery<'env> {
    inner: Rc<Inner<'env>>,
    _invariant: PhantomData<fn(&'env ()) -> &'env ()>,
}

impl Clone for Nursery<'_> {
    fn clone(&self) -> Self {
        Nursery { inner: self.inner.clone(), _invariant: PhantomData }
    }
}

impl fmt::Debug for Nursery<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.borrow();
        f.debug_struct("Nursery").field("live", &st.live).field("closed", &st.closed).finish()
    }
}

/// Opens a nursery, runs `body` in it, and returns once the body and every child have finished.
///
/// The body gets a [`Nursery`] handle. A child's `Err` or panic cancels the nursery (body and
/// siblings); once everything has finished, failures come back as a [`NurseryError`] listing each
/// one with its origin, and a panic is resumed here with its original payload. Cancellations are
/// never reported as failures.
///
/// Stopped from inside ([`Nursery::cancel`], its cancel handle), a nursery exits normally, as in
/// Trio: a body whose value is `()` gives `Ok(())` whether or not it had returned; a body with a
/// value to return that was cancelled first gives an error with
/// [`is_own_cancel`](NurseryError::is_own_cancel). (That is why the body's value is `'static`: the
/// nursery must be able to tell `()` apart.)
///
/// # Examples
/// ```no_run
/// use quartet_nursery::{SpawnError, nursery};
/// use quartet_runtime::{Cancelled, run, sleep};
/// use std::time::Duration;
/// run(async {
///     let names = vec!["a", "b", "c"];
///     nursery(async |n| {
///         for name in &names {
///             // children may borrow `names`: it outlives the nursery
///             n.spawn(async move {
///                 sleep(Duration::from_millis(10)).await?;
///                 println!("{name} done");
///                 Ok::<_, Cancelled>(())
///             })?;
///         }
///         Ok::<_, SpawnError>(())
///     })
///     .await
/// }).unwrap().unwrap();
/// ```
///
/// A child cannot borrow the body's own locals, which die before the children do:
/// ```compile_fail,E0597
/// use quartet_nursery::{SpawnError, nursery};
/// use quartet_runtime::{Cancelled, run};
/// run(async {
///     nursery(async |n| {
///         let local = 5;
///         let borrowed = &local; // error: `local` does not live long enough
///         n.spawn(async move { assert_eq!(*borrowed, 5); Ok::<_, Cancelled>(()) })?;
///         Ok::<_, SpawnError>(())
///     }).await
/// }).unwrap().unwrap();
/// ```
///
/// Nor can a child hand its own locals to a sibling through the nursery handle:
/// ```compile_fail,E0597
/// use quartet_nursery::{SpawnError, nursery};
/// use quartet_runtime::{Cancelled, run};
/// run(async {
///     nursery(async |n| {
///         let handle = n.clone();
///         n.spawn(async move {
///             let local = 5;
///             let borrowed = &local; // error: `local` does not live long enough
///             handle.spawn(async move { assert_eq!(*borrowed, 5); Ok::<_, Cancelled>(()) })?;
///             Ok::<_, SpawnError>(())
///         })?;
///         Ok::<_, SpawnError>(())
///     }).await
/// }).unwrap().unwrap();
/// ```
///
/// And borrowed data cannot be freed while the nursery future that borrows it is alive (leaking
/// that future with `mem::forget` ends the borrow; its children then never run again):
/// ```compile_fail,E0505
/// use quartet_nursery::{SpawnError, nursery};
/// use quartet_runtime::{Cancelled, run};
/// run(async {
///     let data = vec![1, 2, 3];
///     let fut = nursery(async |n| {
///         n.spawn(async { assert_eq!(data.len(), 3); Ok::<_, Cancelled>(()) })?;
///         Ok::<_, SpawnError>(())
///     });
///     drop(data); // error: cannot move out of `data` because it is borrowed
///     fut.await
/// }).unwrap().unwrap();
/// ```
pub fn nursery<'env, F, T, E>(body: F) -> impl std::future::Future<Output = Result<T, NurseryError>>
where
    F: AsyncFnOnce(&Nursery<'env>) -> Result<T, E>,
    T: 'static,
    E: Into<BoxError>,
{
    quartet_runtime::fused::once(async move {
        let n = Nursery::new();
        if n.inner.ready.is_none() {
            return Err(NurseryError::failed(vec![Failure::new("nursery".into(), Box::new(OpError::NoRuntime))]));
        }
        let fut = body(&n);
        Run::new(&n.inner, Activation::new(n.inner.scope.clone()), fut).await
    })
}

impl<'env> Nursery<'env> {
    fn new() -> Nursery<'env> {
        let mut state = State {
            slots: Vec::new(),
            busy: Vec::new(),
            starts: HashMap::new(),
            body_waker: None,
            free: None,
            live: 0,
            closed: false,
            failures: Vec::new(),
            panic: None,
            child_cancelled: None,
        };
        // Slot 0 is the body; its waker is created lazily by `Run`.
        state.slots.push(Slot::body());
        state.busy.push(false);
        // (The body's waker lives in `State::body_waker`.)
        let inner = Rc::new(Inner {
            record: OnceCell::new(),
            scope: ScopeState::new(),
            ready: ReadyQueue::new(),
            state: RefCell::new(state),
            owner: quartet_runtime::task::current_task().map(Arc::new),
        });
        if let Some(ready) = &inner.ready {
            let inner_ptr: *const Inner<'env> = Rc::as_ptr(&inner);
            let tasks: *const (dyn LiveTasks + 'env) = inner_ptr;
            // `tasks` points into the `Rc` allocation that also owns the record, as its first
            // field: the record is dropped (leaving the registry) first when `Inner` is dropped,
            // while everything `for_each_task` reads is still intact.
            // SAFETY: as above; the `Rc` never moves its value, a leaked nursery leaks (so keeps
            // valid) the allocation, and `for_each_task` reads only `TaskInfo`s (never a future).
            let record = unsafe { SchedulerRecord::register(tasks, ready, &inner.scope) };
            let _ = inner.record.set(record);
        }
        Nursery { inner, _invariant: PhantomData }
    }

    /// Spawns a child. The child returns `()` or any `Result<T, E>` with `E: Into<BoxError>`
    /// ([`ChildOutput`]); its `Ok` value goes to the returned handle; its `Err` or panic cancels
    /// the nursery and is reported by it.
    ///
    /// # Errors
    /// [`SpawnError`] if the nursery has finished.
    #[track_caller]
    ///
    /// # Examples
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let total = std::cell::Cell::new(0);
    /// nursery(async |n| -> Result<(), BoxError> {
    ///     for i in 1..=3 {
    ///         let total = &total; // children may borrow what outlives the nursery
    ///         n.spawn(async move { total.set(total.get() + i) })?;
    ///     }
    ///     Ok(())
    /// })
    /// .await?;
    /// assert_eq!(total.get(), 6);
    /// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
    /// ```
    #[inline]
    pub fn spawn<F>(&self, fut: F) -> Result<JoinHandle<ValueOf<F>>, SpawnError>
    where
        F: Future + 'env,
        F::Output: ChildOutput,
        ValueOf<F>: 'env,
    {
        self.spawn_with(None, Location::caller(), fut)
    }

    /// Spawns a named child; the name appears in failure reports and diagnostics.
    #[track_caller]
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let err = nursery(async |n| -> Result<(), BoxError> {
    ///     n.spawn_named("db", async { Err::<(), _>(std::io::Error::other("connection refused")) })?;
    ///     Ok(())
    /// })
    /// .await
    /// .unwrap_err();
    /// assert!(err.to_string().contains("'db'"));
    /// # }).unwrap();
    /// ```
    pub fn spawn_named<F>(&self, name: impl Into<String>, fut: F) -> Result<JoinHandle<ValueOf<F>>, SpawnError>
    where
        F: Future + 'env,
        F::Output: ChildOutput,
        ValueOf<F>: 'env,
    {
        self.spawn_with(Some(name.into()), Location::caller(), fut)
    }

    #[inline]
    fn spawn_with<F>(
        &self,
        name: Option<String>,
        loc: &'static Location<'static>,
        fut: F,
    ) -> Result<JoinHandle<ValueOf<F>>, SpawnError>
    where
        F: Future + 'env,
        F::Output: ChildOutput,
        ValueOf<F>: 'env,
    {
        let cell = Rc::new(TaskCell::new(self.child_info(name, loc), fut));
        let join: Rc<dyn JoinSide<ValueOf<F>> + 'env> = cell.clone();
        self.insert(Child { task: cell }, None)?;
        // SAFETY: the nursery's `Child` owns the other `Rc` and releases the future before
        // dropping it (C2 in `cell.rs`), and nothing else owns the cell.
        Ok(unsafe { JoinHandle::new(join) })
    }

    /// Who a new child is: its name or spawn location, under the task that opened this nursery.
    fn child_info(&self, name: Option<String>, loc: &'static Location<'static>) -> TaskInfo {
        TaskInfo::new(name, loc).with_shared_parent(self.inner.owner.clone())
    }

    fn insert(&self, child: Child<'env>, start: Option<Rc<dyn StartSink + 'env>>) -> Result<(), SpawnError> {
        let task = child.task.clone();
        let index = {
            let mut st = self.inner.state.borrow_mut();
            if st.closed {
                drop(st);
                drop(child); // never polled: its future is dropped, the handle sees `Dropped`
                drop(start);
                return Err(SpawnError);
            }
            let index = st.take_free_slot();
            st.slots[index] = Slot::Child(child);
            if let Some(start) = start {
                st.starts.insert(index as u32, start);
            }
            st.live += 1;
            index
        };
        if let Some(record) = self.inner.record.get() {
            record.spawned(task.info(), index);
        }
        if let Some(r) = &self.inner.ready {
            r.push(index);
        }
        Ok(())
    }

    /// Cancels the nursery: its body and every child (reason: explicit).
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// nursery(async |n| -> Result<(), BoxError> {
    ///     n.spawn(quartet_runtime::sleep(std::time::Duration::from_secs(3600)))?;
    ///     n.cancel(); // the child and the body are cancelled; the nursery exits normally
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
    /// ```
    pub fn cancel(&self) {
        self.inner.scope.cancel(Reason::Explicit)
    }

    /// Asks the nursery's body and children to finish within `grace`, then cancels it (see
    /// [`CancelScope::cancel_gracefully`]).
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// use std::time::Duration;
    /// nursery(async |n| -> Result<(), BoxError> {
    ///     n.spawn(async {
    ///         // idle work gives up on a graceful request; busy work has `grace` to finish
    ///         move_on_shutdown(quartet_runtime::sleep(Duration::from_secs(3600))).await?;
    ///         Ok::<_, BoxError>(())
    ///     })?;
    ///     n.cancel_gracefully(Duration::from_millis(100));
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
    /// ```
    pub fn cancel_gracefully(&self, grace: std::time::Duration) {
        self.inner.scope.cancel_gracefully(grace)
    }

    /// A `Send + Sync` handle that cancels this nursery from anywhere.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// nursery(async |n| -> Result<(), BoxError> {
    ///     let stop = n.cancel_handle(); // Send + Sync: a thread or a sibling may stop the nursery
    ///     n.spawn(async move {
    ///         quartet_runtime::checkpoint().await?;
    ///         stop.cancel();
    ///         Ok::<_, BoxError>(())
    ///     })?;
    ///     quartet_runtime::sleep(std::time::Duration::from_secs(3600)).await?;
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
    /// ```
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelScope::from_state(self.inner.scope.clone()).handle()
    }

    /// The nursery's own cancel scope (for its deadline, shield and state).
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// use std::time::Duration;
    /// let r = nursery(async |n| -> Result<(), BoxError> {
    ///     // A deadline for the whole nursery: body and children.
    ///     n.cancel_scope().set_deadline(Some(quartet_runtime::Instant::now() + Duration::from_millis(5)));
    ///     n.spawn(quartet_runtime::sleep(Duration::from_secs(3600)))?;
    ///     Ok(())
    /// })
    /// .await;
    /// assert!(r.is_ok()); // its own deadline: a normal exit
    /// # }).unwrap();
    /// ```
    pub fn cancel_scope(&self) -> CancelScope {
        CancelScope::from_state(self.inner.scope.clone())
    }

    /// Children that have not finished.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// nursery(async |n| -> Result<(), BoxError> {
    ///     assert_eq!(n.live_children(), 0);
    ///     n.spawn(async {})?;
    ///     assert_eq!(n.live_children(), 1);
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
    /// ```
    pub fn live_children(&self) -> usize {
        self.inner.state.borrow().live
    }

    /// True once the nursery has finished; spawning then fails.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let mut kept = None;
    /// nursery(async |n| -> Result<(), BoxError> {
    ///     assert!(!n.is_closed());
    ///     kept = Some(n.clone());
    ///     Ok(())
    /// })
    /// .await?;
    /// assert!(kept.unwrap().is_closed());
    /// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.state.borrow().closed
    }
}
