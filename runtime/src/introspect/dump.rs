//! The task-tree snapshot (semantics §7.1): built on the kernel thread from the cancel-status tree
//! (scopes and parked waits) and the task registry (nursery children), then owned data that can be
//! sent to another thread and printed.
//!
//! How the pieces are put together: every node of the cancel tree records the task whose poll
//! attached it, and every parked leaf the task that parked it (both read from the task marker that
//! nurseries set around each child poll, H4). A nursery's children hang under the nursery's node
//! (found by its scope); under each task come the scopes it entered and the waits it parked, in
//! the nursery's node or in those scopes. Anything the walk does not reach (a `start`ed task
//! still running under its caller's scope) is listed at the end, so nothing parked is hidden.

use super::WaitKind;
use crate::cancel::{LeafSnap, NodeSnap};
use crate::error::Reason;
use crate::task::TaskInfo;
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

/// What a task is doing at the moment of the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskState {
    /// Being polled (the snapshot was taken from inside it, or inside a task it runs in).
    Running,
    /// Woken and queued; it will be polled in this or the next tick.
    Ready,
    /// Waiting on at least one parked operation (listed under it).
    Parked,
    /// Waiting on something that did not park (a foreign future, or nothing at all).
    Idle,
}

/// A cancel scope (one activation) as the snapshot saw it.
#[derive(Debug, Clone)]
pub struct ScopeInfo {
    /// The scope's deadline.
    pub deadline: Option<Instant>,
    /// Whether it shields the code inside from outer cancellation.
    pub shield: bool,
    /// Whether `cancel` was called on it (or its deadline passed).
    pub cancel_requested: bool,
    /// Why it was cancelled, if it was.
    pub reason: Option<Reason>,
    /// Why code inside is cancelled (by this scope or an outer one), if it is.
    pub effective: Option<Reason>,
    /// Whether graceful cancellation reaches code inside.
    pub graceful: bool,
}

/// A parked wait.
#[derive(Debug, Clone)]
pub struct WaitInfo {
    /// What it waits on.
    pub what: WaitKind,
    /// For how long (from the tick in which it parked).
    pub waiting_for: Option<Duration>,
    /// Set when a cancellation was delivered to it and its task has not seen it yet.
    pub cancel_delivered: Option<Reason>,
}

/// One row of the tree.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Item {
    /// The root future passed to `run`.
    Root,
    /// A nursery (its own cancel scope).
    Nursery(ScopeInfo),
    /// A cancel scope.
    Scope(ScopeInfo),
    /// A task.
    Task(TaskInfo, TaskState),
    /// A parked wait of the task above it.
    Wait(WaitInfo),
    /// The heading of things the tree walk did not reach.
    Elsewhere,
}

/// A row and its depth in the tree.
#[derive(Debug, Clone)]
pub struct Row {
    /// Indentation level (0: the root).
    pub depth: usize,
    /// What the row shows.
    pub item: Item,
}

/// A snapshot of one runtime's tasks, scopes and parked waits (see [`task_tree`](super::task_tree)).
///
/// # Examples
/// ```no_run
/// quartet_runtime::run(async {
///     let tree = quartet_runtime::introspect::task_tree().unwrap();
///     println!("{tree}"); // an indented tree
///     assert!(tree.rows().iter().any(|r| matches!(r.item, quartet_runtime::introspect::Item::Root)));
/// }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct TaskTree {
    rows: Vec<Row>,
}

impl TaskTree {
    /// The rows, in display order (depth-first).
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The waits and scopes listed under the first task named `name` (its subtree, excluding
    /// nested tasks' rows), or `None` if no task has that name.
    pub fn task_rows(&self, name: &str) -> Option<&[Row]> {
        let start = self.rows.iter().position(|r| matches!(&r.item, Item::Task(t, _) if t.name() == Some(name)))?;
        let depth = self.rows[start].depth;
        let end =
            self.rows[start + 1..].iter().position(|r| r.depth <= depth).map_or(self.rows.len(), |e| start + 1 + e);
        Some(&self.rows[start..end])
    }
}

struct Builder<'a> {
    nodes: &'a [NodeSnap],
    leaves: &'a [LeafSnap],
    tasks: &'a [(TaskInfo, Option<u64>, TaskState)],
    children: HashMap<u64, Vec<usize>>,
    leaves_on: HashMap<u64, Vec<usize>>,
    tasks_in: HashMap<u64, Vec<usize>>,
    nursery_nodes: std::collections::HashSet<u64>,
    seen_nodes: Vec<bool>,
    seen_leaves: Vec<bool>,
    seen_tasks: Vec<bool>,
    index_of: HashMap<u64, usize>,
    now: Instant,
    rows: Vec<Row>,
}

/// Builds the rows from the tree's snapshot and the registry's tasks (`(info, nursery node, state)`).
pub(crate) fn build(nodes: &[NodeSnap], leaves: &[LeafSnap], tasks: &[(TaskInfo, Option<u64>, TaskState)]) -> TaskTree {
    let mut b = Builder {
        nodes,
        leaves,
        tasks,
        children: HashMap::new(),
        leaves_on: HashMap::new(),
        tasks_in: HashMap::new(),
        nursery_nodes: tasks.iter().filter_map(|t| t.1).collect(),
        seen_nodes: vec![false; nodes.len()],
        seen_leaves: vec![false; leaves.len()],
        seen_tasks: vec![false; tasks.len()],
        index_of: nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect(),
        now: Instant::now(),
        rows: Vec::new(),
    };
    for (i, n) in nodes.iter().enumerate() {
        if let Some(p) = n.parent {
            b.children.entry(p).or_default().push(i);
        }
    }
    for (i, l) in leaves.iter().enumerate() {
        if let Some(n) = l.node {
            b.leaves_on.entry(n).or_default().push(i);
        }
    }
    for (i, t) in tasks.iter().enumerate() {
        if let Some(n) = t.1 {
            b.tasks_in.entry(n).or_default().push(i);
        }
    }
    if let Some(root) = nodes.iter().position(|n| n.parent.is_none()) {
        b.node(root, 0, 0);
    }
    b.rest();
    TaskTree { rows: b.rows }
}

impl Builder<'_> {
    fn scope(n: &NodeSnap) -> ScopeInfo {
        let s = n.state.as_ref();
        ScopeInfo {
            deadline: s.and_then(|s| s.deadline()),
            shield: s.is_some_and(|s| s.shield()),
            cancel_requested: s.is_some_and(|s| s.cancel_called()),
            reason: s.and_then(|s| s.reason()),
            effective: n.effective.clone(),
            graceful: n.graceful,
        }
    }

    /// Node `i`, seen from task `task` (0: the root future), at `depth`.
    fn node(&mut self, i: usize, task: u64, depth: usize) {
        if std::mem::replace(&mut self.seen_nodes[i], true) {
            return;
        }
        let n = &self.nodes[i];
        let item = if n.parent.is_none() {
            Item::Root
        } else if self.nursery_nodes.contains(&n.id) {
            Item::Nursery(Self::scope(n))
        } else {
            Item::Scope(Self::scope(n))
        };
        self.rows.push(Row { depth, item });
        self.contents(n.id, task, depth + 1);
        for t in self.tasks_in.get(&n.id).cloned().unwrap_or_default() {
            self.task(t, depth + 1);
        }
    }

    /// What task `task` has under node `id`: its scopes there, then its waits there.
    fn contents(&mut self, id: u64, task: u64, depth: usize) {
        for c in self.children.get(&id).cloned().unwrap_or_default() {
            if self.nodes[c].task == task {
                self.node(c, task, depth);
            }
        }
        for l in self.leaves_on.get(&id).cloned().unwrap_or_default() {
            if self.leaves[l].task == task {
                self.wait(l, depth);
            }
        }
    }

    fn task(&mut self, t: usize, depth: usize) {
        if std::mem::replace(&mut self.seen_tasks[t], true) {
            return;
        }
        let (info, nursery, state) = &self.tasks[t];
        self.rows.push(Row { depth, item: Item::Task(info.clone(), *state) });
        let id = info.id();
        if let Some(n) = nursery {
            self.contents(*n, id, depth + 1);
        }
        // Waits whose cancellation was delivered are unlinked from their node: list them here.
        for l in 0..self.leaves.len() {
            if self.leaves[l].node.is_none() && self.leaves[l].task == id {
                self.wait(l, depth + 1);
            }
        }
    }

    fn wait(&mut self, l: usize, depth: usize) {
        if std::mem::replace(&mut self.seen_leaves[l], true) {
            return;
        }
        let leaf = &self.leaves[l];
        let mut what = leaf.what.clone();
        if let WaitKind::Op(op) = &what {
            if let (None, Some(fd)) = (op.peer(), op.fd()) {
                if matches!(op.opcode(), "Recv" | "Send" | "RecvMsg" | "SendMsg") {
                    if let Ok(peer) = crate::net::peer_addr(fd) {
                        what = WaitKind::Op(op.clone().with_peer(peer));
                    }
                }
            }
        }
        let info = WaitInfo {
            what,
            waiting_for: leaf.since.map(|s| self.now.saturating_duration_since(s)),
            cancel_delivered: leaf.aborted.clone(),
        };
        self.rows.push(Row { depth, item: Item::Wait(info) });
    }

    /// Everything not reached from the root, under one heading.
    fn rest(&mut self) {
        let heading = self.rows.len();
        for t in 0..self.tasks.len() {
            if !self.seen_tasks[t] {
                self.task(t, 1);
            }
        }
        for i in 0..self.nodes.len() {
            if !self.seen_nodes[i] {
                let task = self.nodes[i].task;
                // Start from the topmost unseen ancestor so the subtree stays together.
                let mut top = i;
                while let Some(p) = self.nodes[top].parent.and_then(|p| self.index_of.get(&p).copied()) {
                    if self.seen_nodes[p] {
                        break;
                    }
                    top = p;
                }
                self.node(top, task, 1);
            }
        }
        for l in 0..self.leaves.len() {
            if !self.seen_leaves[l] {
                self.wait(l, 1);
            }
        }
        if self.rows.len() > heading {
            self.rows.insert(heading, Row { depth: 0, item: Item::Elsewhere });
        }
    }
}

fn fmt_scope(f: &mut fmt::Formatter<'_>, s: &ScopeInfo, now: Instant) -> fmt::Result {
    if let Some(d) = s.deadline {
        if d > now {
            write!(f, " deadline in {:.3?}", d - now)?;
        } else {
            write!(f, " deadline passed {:.3?} ago", now - d)?;
        }
    }
    if s.shield {
        f.write_str(" shielded")?;
    }
    if s.cancel_requested {
        match &s.reason {
            Some(r) => write!(f, " cancel requested ({r})")?,
            None => f.write_str(" cancel requested")?,
        }
    } else if let Some(r) = &s.effective {
        write!(f, " cancelled from outside ({r})")?;
    }
    if s.graceful && !s.cancel_requested {
        f.write_str(" shutdown requested")?;
    }
    Ok(())
}

impl fmt::Display for TaskTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = Instant::now();
        for row in &self.rows {
            for _ in 0..row.depth {
                f.write_str("  ")?;
            }
            match &row.item {
                Item::Root => f.write_str("root future")?,
                Item::Elsewhere => f.write_str("not reached from the root (e.g. a task not yet started):")?,
                Item::Nursery(s) => {
                    f.write_str("nursery")?;
                    fmt_scope(f, s, now)?;
                }
                Item::Scope(s) => {
                    f.write_str("cancel scope")?;
                    fmt_scope(f, s, now)?;
                }
                Item::Task(t, state) => {
                    match t.name() {
                        Some(n) => write!(f, "task '{n}' (spawned at {})", t.location())?,
                        None => write!(f, "task spawned at {}", t.location())?,
                    }
                    let state = match state {
                        TaskState::Running => "running",
                        TaskState::Ready => "ready",
                        TaskState::Parked => "parked",
                        TaskState::Idle => "idle (no parked wait)",
                    };
                    write!(f, " [{state}]")?;
                }
                Item::Wait(w) => {
                    write!(f, "waits on {}", w.what)?;
                    if let Some(d) = w.waiting_for {
                        write!(f, " for {d:.3?}")?;
                    }
                    if let Some(r) = &w.cancel_delivered {
                        write!(f, " (cancel delivered: {r})")?;
                    }
                }
            }
            f.write_str("\n")?;
        }
        Ok(())
    }
}
