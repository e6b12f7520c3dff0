//! The four scenarios of `compare_spawn`, each run with detached spawn (tokio) and with quartet's
//! nurseries. Every function returns what it observed while it ran (timestamps, results,
//! counters; not canned text) and whether the structured guarantee held, so that
//! `tests/compare_spawn.rs` keeps the comparison users read true.
#![allow(dead_code)] // the example and the test each use a part

use std::error::Error;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type BoxError = Box<dyn Error + Send + Sync>;

const TICK: Duration = Duration::from_millis(10);

/// Milliseconds since `t0`, for printing.
fn ms(t0: Instant, at: Instant) -> u128 {
    at.duration_since(t0).as_millis()
}

/// Instants at which children did something, shared with them.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<(usize, Instant)>>>);

impl Log {
    fn note(&self, who: usize) {
        self.0.lock().unwrap().push((who, Instant::now()));
    }
    fn after(&self, t: Instant) -> (usize, usize, Option<Instant>) {
        let v = self.0.lock().unwrap();
        let late: Vec<&(usize, Instant)> = v.iter().filter(|(_, at)| *at > t).collect();
        let mut who: Vec<usize> = late.iter().map(|(w, _)| *w).collect();
        who.sort_unstable();
        who.dedup();
        (late.len(), who.len(), late.iter().map(|(_, at)| *at).max())
    }
    fn first(&self) -> Option<Instant> {
        self.0.lock().unwrap().first().map(|(_, at)| *at)
    }
}

/// What one scenario observed: the lines to print, and whether the structured guarantee held
/// (the error reached the parent; no child ran after its parent was gone; the timeout stopped
/// every child; the owner learned of the panic).
pub struct Seen {
    pub lines: Vec<String>,
    pub guarantee_held: bool,
}

/// Panic messages seen by the process-wide panic hook (which then stays quiet).
static PANICS: Mutex<Vec<(String, Instant)>> = Mutex::new(Vec::new());

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// Prints one scenario's observations under a title.
pub fn report(title: &str, seen: Seen) {
    println!("  {title}");
    for l in seen.lines {
        println!("    - {l}");
    }
}

/// Records panics in [`PANICS`] instead of printing them (process-wide).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = panic_message(info.payload());
        PANICS.lock().unwrap().push((msg, Instant::now()));
    }));
}

// 1. A child fails while nobody awaits it.

pub fn fail_tokio() -> Seen {
    tokio_rt().block_on(async {
        let t0 = Instant::now();
        let failed = Log::default();
        let parent = async {
            let f = failed.clone();
            let handle = tokio::spawn(async move {
                tokio::time::sleep(TICK).await;
                f.note(0);
                Err::<(), BoxError>("boom".into())
            });
            drop(handle); // nobody awaits the child
            tokio::time::sleep(10 * TICK).await;
            Ok::<(), BoxError>(())
        };
        let r = parent.await;
        let done = Instant::now();
        Seen {
            lines: vec![
                format!("the child returned Err(\"boom\") at {} ms", failed.first().map_or(0, |t| ms(t0, t))),
                format!("the parent returned {:?} at {} ms", r.as_ref().map_err(|e| e.to_string()), ms(t0, done)),
                format!("error seen by the parent: {}", r.is_err()),
            ],
            guarantee_held: r.is_err(),
        }
    })
}

pub fn fail_quartet() -> Seen {
    let out = quartet::run(async {
        let t0 = Instant::now();
        let failed = Log::default();
        let body_cancelled = Log::default();
        let r = quartet::nursery(async |n| {
            let f = failed.clone();
            n.spawn(async move {
                quartet::sleep(TICK).await?;
                f.note(0);
                Err::<(), BoxError>("boom".into())
            })?;
            // The body does not await the child either.
            let slept = quartet::sleep(10 * TICK).await;
            if slept.is_err() {
                body_cancelled.note(0);
            }
            slept?;
            Ok::<(), BoxError>(())
        })
        .await;
        let done = Instant::now();
        let mut lines =
            vec![format!("the child returned Err(\"boom\") at {} ms", failed.first().map_or(0, |t| ms(t0, t)))];
        if let Some(t) = body_cancelled.first() {
            lines.push(format!("the body's sleep was cancelled at {} ms", ms(t0, t)));
        }
        lines.push(format!(
            "the nursery returned {} at {} ms",
            match &r {
                Ok(()) => "Ok(())".to_string(),
                Err(e) => format!("Err({e})"),
            },
            ms(t0, done)
        ));
        lines.push(format!("error seen by the parent: {}", r.is_err()));
        Seen { lines, guarantee_held: r.is_err() }
    });
    out.unwrap_or_else(could_not_start)
}

// 2. The parent returns early.

pub fn early_tokio() -> Seen {
    tokio_rt().block_on(async {
        let t0 = Instant::now();
        let ticks = Log::default();
        let parent = async {
            let t = ticks.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    tokio::time::sleep(TICK).await;
                    t.note(0);
                }
            });
            tokio::time::sleep(TICK * 5 / 2).await; // returns early
        };
        parent.await;
        let gone = Instant::now();
        tokio::time::sleep(15 * TICK).await; // watch what happens after
        let (n, _, last) = ticks.after(gone);
        Seen {
            lines: vec![
                format!("the parent returned at {} ms", ms(t0, gone)),
                format!(
                    "the child ticked {n} more time(s) after its parent was gone{}",
                    last.map_or(String::new(), |t| format!(", the last at {} ms", ms(t0, t)))
                ),
            ],
            guarantee_held: n == 0,
        }
    })
}

pub fn early_quartet(cancel: bool) -> Seen {
    let out = quartet::run(async {
        let t0 = Instant::now();
        let ticks = Log::default();
        let stopped = Log::default();
        let body_done = Log::default();
        let r = quartet::nursery(async |n| {
            let (t, s) = (ticks.clone(), stopped.clone());
            n.spawn(async move {
                for _ in 0..10 {
                    if quartet::sleep(TICK).await.is_err() {
                        s.note(0);
                        break;
                    }
                    t.note(0);
                }
                Ok::<(), BoxError>(())
            })?;
            quartet::sleep(TICK * 5 / 2).await?;
            if cancel {
                n.cancel();
            }
            body_done.note(0);
            Ok::<(), BoxError>(()) // the body returns early
        })
        .await;
        let gone = Instant::now();
        let _ = quartet::sleep(15 * TICK).await;
        let (n, _, last) = ticks.after(gone);
        let mut lines = vec![format!(
            "the body {} at {} ms; the nursery (the parent) returned {:?} at {} ms",
            if cancel { "called cancel() and returned" } else { "returned" },
            body_done.first().map_or(0, |t| ms(t0, t)),
            r.as_ref().map_err(|e| e.to_string()),
            ms(t0, gone)
        )];
        match (stopped.first(), ticks.0.lock().unwrap().last()) {
            (Some(s), _) => lines.push(format!("the child was cancelled at {} ms", ms(t0, s))),
            (None, Some((_, t))) => lines.push(format!("the child finished its last tick at {} ms", ms(t0, *t))),
            _ => {}
        }
        lines.push(format!(
            "the child ticked {n} time(s) after its parent was gone{}",
            last.map_or(String::new(), |t| format!(", the last at {} ms", ms(t0, t)))
        ));
        Seen { lines, guarantee_held: n == 0 }
    });
    out.unwrap_or_else(could_not_start)
}

// 3. A timeout wraps a parent that started children.

pub fn timeout_tokio() -> Seen {
    tokio_rt().block_on(async {
        let t0 = Instant::now();
        let ticks = Log::default();
        let parent = async {
            let mut hs = Vec::new();
            for who in 0..3 {
                let t = ticks.clone();
                hs.push(tokio::spawn(async move {
                    for _ in 0..20 {
                        tokio::time::sleep(TICK).await;
                        t.note(who);
                    }
                }));
            }
            for h in hs {
                let _ = h.await;
            }
        };
        let r = tokio::time::timeout(3 * TICK, parent).await;
        let fired = Instant::now();
        tokio::time::sleep(10 * TICK).await;
        let (n, who, last) = ticks.after(fired);
        Seen {
            lines: vec![
                format!("the timeout returned {:?} at {} ms", r.map_err(|e| e.to_string()), ms(t0, fired)),
                format!(
                    "{who} of 3 children kept running: {n} tick(s) after the timeout{}",
                    last.map_or(String::new(), |t| format!(", the last at {} ms", ms(t0, t)))
                ),
            ],
            guarantee_held: who == 0,
        }
    })
}

pub fn timeout_quartet() -> Seen {
    let out = quartet::run(async {
        let t0 = Instant::now();
        let ticks = Log::default();
        let stopped = Log::default();
        let r = quartet::move_on_after(
            3 * TICK,
            quartet::nursery(async |n| {
                for who in 0..3 {
                    let (t, s) = (ticks.clone(), stopped.clone());
                    n.spawn(async move {
                        for _ in 0..20 {
                            if quartet::sleep(TICK).await.is_err() {
                                s.note(who);
                                break;
                            }
                            t.note(who);
                        }
                        Ok::<(), BoxError>(())
                    })?;
                }
                Ok::<(), BoxError>(())
            }),
        )
        .await;
        let fired = Instant::now();
        let _ = quartet::sleep(10 * TICK).await;
        let (n, who, _) = ticks.after(fired);
        let (_, stopped_n, last_stop) = stopped.after(t0);
        let lines = vec![
            format!(
                "move_on_after returned {} at {} ms",
                match &r {
                    Ok(None) => "Ok(None) (the deadline cancelled it)".to_string(),
                    Ok(Some(())) => "Ok(Some(()))".to_string(),
                    Err(e) => format!("Err({e})"),
                },
                ms(t0, fired)
            ),
            format!(
                "{stopped_n} of 3 children were cancelled, the last at {} ms, before the call returned",
                last_stop.map_or(0, |t| ms(t0, t))
            ),
            format!("{who} of 3 children ran after the timeout: {n} tick(s)"),
        ];
        Seen { lines, guarantee_held: who == 0 && stopped_n == 3 }
    });
    out.unwrap_or_else(could_not_start)
}

// 4. A child panics.

pub fn panic_tokio() -> Seen {
    PANICS.lock().unwrap().clear();
    tokio_rt().block_on(async {
        let t0 = Instant::now();
        let parent = async {
            tokio::spawn(async {
                tokio::time::sleep(TICK).await;
                panic!("kaboom");
            });
            tokio::time::sleep(5 * TICK).await;
            Ok::<(), BoxError>(())
        };
        let r = parent.await;
        let done = Instant::now();
        let seen = PANICS.lock().unwrap().clone();
        let mut lines: Vec<String> = seen
            .iter()
            .map(|(m, at)| format!("the child panicked ({m:?}) at {} ms; only the panic hook saw it", ms(t0, *at)))
            .collect();
        lines.push(format!(
            "the parent returned {:?} at {} ms; the owner learned of the panic: {}",
            r.as_ref().map_err(|e| e.to_string()),
            ms(t0, done),
            r.is_err()
        ));
        Seen { lines, guarantee_held: r.is_err() }
    })
}

pub fn panic_quartet() -> Seen {
    PANICS.lock().unwrap().clear();
    let t0 = Instant::now();
    let body_cancelled = Log::default();
    let out = catch_unwind(AssertUnwindSafe(|| {
        quartet::run(async {
            quartet::nursery(async |n| {
                n.spawn(async {
                    quartet::sleep(TICK).await?;
                    panic!("kaboom");
                    #[allow(unreachable_code)]
                    Ok::<(), BoxError>(())
                })?;
                let slept = quartet::sleep(5 * TICK).await;
                if slept.is_err() {
                    body_cancelled.note(0);
                }
                slept?;
                Ok::<(), BoxError>(())
            })
            .await
        })
    }));
    let done = Instant::now();
    let mut lines: Vec<String> = PANICS
        .lock()
        .unwrap()
        .iter()
        .map(|(m, at)| format!("the child panicked ({m:?}) at {} ms", ms(t0, *at)))
        .collect();
    if let Some(t) = body_cancelled.first() {
        lines.push(format!("the body (its sibling) was cancelled at {} ms", ms(t0, t)));
    }
    let learned = out.is_err();
    lines.push(match out {
        Err(p) => format!(
            "the owner's call re-raised the child's panic ({:?}) at {} ms; the owner learned of it: true",
            panic_message(&*p),
            ms(t0, done)
        ),
        Ok(r) => format!("the owner's call returned {:?}; the owner learned of it: false", r.map(|r| r.is_err())),
    });
    Seen { lines, guarantee_held: learned }
}

fn could_not_start(e: quartet::Error) -> Seen {
    Seen { lines: vec![format!("quartet could not start: {e}")], guarantee_held: false }
}
