//! Scope bodies may return every error type users return: `BoxError`, `Box<dyn Error>`,
//! `anyhow::Error`, `io::Error`, `OpError`, `Cancelled` and their own. For each, the scope
//! catches the cancellation it owns, passes a real error on unchanged, and `fail_after` reports
//! its timeout in a form that can be matched directly.

use crate::nursery_support;

use nursery_support::run;
use quartet::{BoxError, CancelScope, Cancelled, OpError, Reason, TooSlow, fail_after, move_on_after, shield, sleep};
use std::fmt;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);
const SHORT: Duration = Duration::from_millis(5);

/// A user's own error type, wrapping a cancellation as its `source()`.
#[derive(Debug)]
enum AppError {
    Cancelled(Cancelled),
    TimedOut,
    Bad,
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AppError::Cancelled(c) => Some(c),
            _ => None,
        }
    }
}

impl From<Cancelled> for AppError {
    fn from(c: Cancelled) -> Self {
        AppError::Cancelled(c)
    }
}

impl From<TooSlow> for AppError {
    fn from(_: TooSlow) -> Self {
        AppError::TimedOut
    }
}

#[test]
fn box_error_body_is_caught_by_its_own_deadline_and_real_errors_pass() {
    let caught = run(move_on_after(SHORT, async {
        sleep(LONG).await?;
        let n: u8 = "7".parse()?; // a second error type: the body needs BoxError
        Ok::<_, BoxError>(n)
    }));
    assert!(matches!(caught, Ok(None)), "{caught:?}");
    let passed = run(move_on_after(LONG, async { Err::<(), BoxError>("real".into()) }));
    assert_eq!(passed.unwrap_err().to_string(), "real");
}

#[test]
fn non_send_box_dyn_error_body_works() {
    let caught = run(move_on_after(SHORT, async {
        sleep(LONG).await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    }));
    assert!(matches!(caught, Ok(None)), "{caught:?}");
}

#[test]
fn anyhow_body_is_caught_and_fail_after_reports_too_slow() {
    let caught = run(move_on_after(SHORT, async {
        sleep(LONG).await?;
        Ok::<(), anyhow::Error>(())
    }));
    assert!(matches!(caught, Ok(None)), "{caught:?}");
    let timed_out = run(fail_after(SHORT, async {
        sleep(LONG).await?;
        Ok::<(), anyhow::Error>(())
    }));
    assert!(timed_out.unwrap_err().is::<TooSlow>());
    let passed = run(move_on_after(LONG, async { Err::<(), _>(anyhow::anyhow!("real")) }));
    assert_eq!(passed.unwrap_err().to_string(), "real");
}

#[test]
fn box_error_fail_after_reports_too_slow() {
    let r = run(fail_after(SHORT, async {
        sleep(LONG).await?;
        Ok::<(), BoxError>(())
    }));
    assert!(r.unwrap_err().is::<TooSlow>());
}

#[test]
fn io_and_op_error_bodies_work_in_every_scope_kind() {
    let io = run(move_on_after(SHORT, async {
        sleep(LONG).await?;
        Ok::<(), std::io::Error>(())
    }));
    assert!(matches!(io, Ok(None)), "{io:?}");
    let op = run(fail_after(SHORT, async {
        sleep(LONG).await?;
        Ok::<(), OpError>(())
    }));
    assert!(matches!(op, Err(OpError::TooSlow(TooSlow))), "{op:?}");
    let shielded = run(shield(async { Ok::<_, OpError>(3) }));
    assert_eq!(shielded.unwrap(), Some(3));
}

#[test]
fn cancelled_body_fail_after_around_a_bare_sleep() {
    let r = run(fail_after(SHORT, sleep(LONG)));
    assert_eq!(r.unwrap_err().reason(), &Reason::TooSlow);
    let caught = run(move_on_after(SHORT, sleep(LONG)));
    assert_eq!(caught, Ok(None));
}

#[test]
fn user_error_type_wrapping_cancelled_is_caught_and_others_pass() {
    let scope = CancelScope::new();
    let caught = run(scope.run(async {
        scope.cancel();
        sleep(LONG).await?;
        Ok::<(), AppError>(())
    }));
    assert!(matches!(caught, Ok(None)) && scope.cancelled_caught(), "{caught:?}");
    let timed_out = run(fail_after(SHORT, async {
        sleep(LONG).await?;
        Ok::<(), AppError>(())
    }));
    assert!(matches!(timed_out, Err(AppError::TimedOut)), "{timed_out:?}");
    let passed = run(move_on_after(LONG, async { Err::<(), _>(AppError::Bad) }));
    assert!(matches!(passed, Err(AppError::Bad)));
}
