//! Detached spawn (tokio's `spawn`, standing in for asyncio's `create_task`) against quartet's
//! nurseries, in four scenarios. Every line printed is what the program observed while it ran:
//! timestamps, results and counters, not canned text.
//!
//! 1. A child fails while nobody awaits it: is the error seen, and when?
//! 2. The parent returns early: does the child keep running after its parent is gone?
//! 3. A timeout wraps a parent that started children: are the children stopped, or do they leak?
//! 4. A child panics: does the owner learn of it?
//!
//! Run: `cargo run --release --example compare_spawn`

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

/// Panic messages seen by the process-wide panic hook (which then stays quiet).
static PANICS: Mutex<Vec<(String, Instant)>> = Mutex::new(Vec::new());

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

fn report(title: &str, lines: Vec<String>) {
    println!("  {title}");
    for l in lines {
        println!("    - {l}");
    }
}

// 1. A child fails while nobody awaits it.

fn fail_tokio() -> Vec<String> {
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
        vec![
            format!("the child returned Err(\"boom\") at {} ms", failed.first().map_or(0, |t| ms(t0, t))),
            format!("the parent returned {:?} at {} ms", r.as_ref().map_err(|e| e.to_string()), ms(t0, done)),
            format!("error seen by the parent: {}", r.is_err()),
        ]
    })
}

fn fail_quartet() -> Vec<String> {
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
        lines
    });
    out.unwrap_or_else(|e| vec![format!("quartet could not start: {e}")])
}

// 2. The parent returns early.

fn early_tokio() -> Vec<String> {
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
        vec![
            format!("the parent returned at {} ms", ms(t0, gone)),
            format!(
                "the child ticked {n} more time(s) after its parent was gone{}",
                last.map_or(String::new(), |t| format!(", the last at {} ms", ms(t0, t)))
            ),
        ]
    })
}

fn early_quartet(cancel: bool) -> Vec<String> {
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
        lines
    });
    out.unwrap_or_else(|e| vec![format!("quartet could not start: {e}")])
}

// 3. A timeout wraps a parent that started children.

fn timeout_tokio() -> Vec<String> {
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
        vec![
            format!("the timeout returned {:?} at {} ms", r.map_err(|e| e.to_string()), ms(t0, fired)),
            format!(
                "{who} of 3 children kept running: {n} tick(s) after the timeout{}",
                last.map_or(String::new(), |t| format!(", the last at {} ms", ms(t0, t)))
            ),
        ]
    })
}

fn timeout_quartet() -> Vec<String> {
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
        vec![
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
        ]
    });
    out.unwrap_or_else(|e| vec![format!("quartet could not start: {e}")])
}

// 4. A child panics.

fn panic_tokio() -> Vec<String> {
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
        lines
    })
}

fn panic_quartet() -> Vec<String> {
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
    lines.push(match out {
        Err(p) => format!(
            "the owner's call re-raised the child's panic ({:?}) at {} ms; the owner learned of it: true",
            panic_message(&*p),
            ms(t0, done)
        ),
        Ok(r) => format!("the owner's call returned {:?}; the owner learned of it: false", r.map(|r| r.is_err())),
    });
    lines
}

fn main() {
    std::panic::set_hook(Box::new(|info| {
        let msg = panic_message(info.payload());
        PANICS.lock().unwrap().push((msg, Instant::now()));
    }));
    println!("1) A child fails while nobody awaits it: is the error seen, and when?");
    report("tokio::spawn (detached):", fail_tokio());
    report("quartet nursery:", fail_quartet());
    println!("\n2) The parent returns early: does the child keep running after its parent is gone?");
    report("tokio::spawn (detached):", early_tokio());
    report("quartet nursery, body returns early:", early_quartet(false));
    report("quartet nursery, body cancels and returns early:", early_quartet(true));
    println!("\n3) A timeout wraps a parent that started children: stopped, or leaked?");
    report("tokio::time::timeout around a parent that spawned 3 children:", timeout_tokio());
    report("quartet::move_on_after around a nursery with 3 children:", timeout_quartet());
    println!("\n4) A child panics: does the owner learn of it?");
    report("tokio::spawn (detached):", panic_tokio());
    report("quartet nursery:", panic_quartet());
}
