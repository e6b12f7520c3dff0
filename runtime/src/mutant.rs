//! Planted bugs for `scripts/mutants.sh`: each loom-checked protocol has one known bug that can
//! be switched on at run time, and the script checks that the protocol's model catches it.
//!
//! Why a run-time switch and not a `--cfg`: a cfg per mutant meant one rebuild of the workspace
//! crates per mutant, which was most of CI's loom-mutant stage. Here the loom build is made once
//! and the environment variable `QUARTET_MUTANT=<name>` picks the bug when the model runs.
//!
//! Outside `cfg(loom)` [`planted`] is a `const fn` that returns `false`, so release and test
//! builds carry no trace of the mutants: every `if planted(..)` branch folds away.

/// Every mutant the code knows, so that a misspelt `QUARTET_MUTANT` fails loudly instead of
/// running an unmutated model that "catches" nothing. Keep in step with `scripts/mutants.sh`.
#[cfg(loom)]
const KNOWN: &[&str] = &[
    "remote_drain_reset",
    "remote_close_drops",
    "waker_remote_no_push",
    "oneshot_split_check",
    "limiter_release_no_hand_off",
    "event_skip_recheck",
    "acquire_drop_keeps_unit",
    "recv_drop_loses_value",
    "cancel_skip_remote_walk",
    "cancel_walk_skips_leaves",
    "watchdog_reports_twice",
    "mailbox_split_recv",
    "mailbox_close_forgets",
    "tracker_split_finish",
    "cancel_local_skips_remote",
    "ring_close_ignores_senders",
    "msg_ring_error_drops_wake",
    "outbox_drop_forgets",
    "awake_check_before_clear",
];

/// Whether the planted bug `name` is switched on (`QUARTET_MUTANT=name`, loom builds only).
///
/// # Panics
/// If `QUARTET_MUTANT` names no known mutant, or `name` is not in the known list.
#[cfg(loom)]
pub fn planted(name: &str) -> bool {
    // std's OnceLock, not the loom shim: the variable is read once per process, outside any
    // model, and reading it is not part of the protocol being checked.
    static CHOSEN: ::std::sync::OnceLock<Option<String>> = ::std::sync::OnceLock::new();
    assert!(KNOWN.contains(&name), "unknown mutant {name:?} checked in the code");
    let chosen = CHOSEN.get_or_init(|| {
        let chosen = ::std::env::var("QUARTET_MUTANT").ok().filter(|n| !n.is_empty());
        if let Some(n) = &chosen {
            assert!(KNOWN.contains(&n.as_str()), "QUARTET_MUTANT={n:?} names no known mutant");
        }
        chosen
    });
    chosen.as_deref() == Some(name)
}

/// Whether the planted bug `name` is switched on: never, outside loom builds.
#[cfg(not(loom))]
#[inline(always)]
pub const fn planted(_name: &str) -> bool {
    false
}
