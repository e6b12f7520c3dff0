//! `QUARTET_SLOW_POLL_MS` turns the slow-poll detector on without code changes; an explicit
//! builder setting wins, and a bad value is ignored rather than stopping the program.
//! (One test in its own binary: it changes the process environment.)

use quartet::Builder;
use quartet::monitor::{DEFAULT_SLOW_POLL_THRESHOLD, ENV_SLOW_POLL_MS, slow_poll_threshold};
use std::time::Duration;

#[test]
fn env_var_sets_threshold_unless_builder_overrides() {
    // SAFETY: this binary has a single test and no other thread of it reads or writes the
    // environment while this runs (the runtime reads it on this thread, in `run`).
    unsafe { std::env::set_var(ENV_SLOW_POLL_MS, "7") };
    assert_eq!(Builder::new().run(async { slow_poll_threshold() }).unwrap(), Some(Duration::from_millis(7)));
    let explicit = Builder::new().slow_poll_threshold(None).run(async { slow_poll_threshold() }).unwrap();
    assert_eq!(explicit, None);

    // SAFETY: as above.
    unsafe { std::env::set_var(ENV_SLOW_POLL_MS, "off") };
    assert_eq!(Builder::new().run(async { slow_poll_threshold() }).unwrap(), None);

    // A bad value is ignored (the default applies).
    // SAFETY: as above.
    unsafe { std::env::set_var(ENV_SLOW_POLL_MS, "soon") };
    assert_eq!(Builder::new().run(async { slow_poll_threshold() }).unwrap(), DEFAULT_SLOW_POLL_THRESHOLD);

    // SAFETY: as above.
    unsafe { std::env::remove_var(ENV_SLOW_POLL_MS) };
    assert_eq!(Builder::new().run(async { slow_poll_threshold() }).unwrap(), DEFAULT_SLOW_POLL_THRESHOLD);
}
