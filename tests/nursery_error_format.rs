//! A `NurseryError` (and each `Failure`) prints readably with `{:?}`, which is what `main`
//! prints when it returns the error; `{:#?}` keeps the structured form.

use quartet::{BoxError, NurseryError, nursery, run};

fn failed_nursery() -> NurseryError {
    run(async {
        nursery(async |n| -> Result<(), BoxError> {
            n.spawn_named("db", async { Err::<(), _>(std::io::Error::other("connection refused")) })?;
            Ok(())
        })
        .await
    })
    .unwrap()
    .unwrap_err()
}

#[test]
fn debug_of_a_nursery_error_reads_like_its_display() {
    let err = failed_nursery();
    let debug = format!("{err:?}");
    assert_eq!(debug, err.to_string());
    assert!(debug.contains("'db'") && debug.contains("connection refused"), "{debug}");
    assert!(!debug.contains("Failure {"), "{debug}");
}

#[test]
fn debug_of_a_failure_reads_like_its_display() {
    let err = failed_nursery();
    let f = &err.failures()[0];
    assert_eq!(format!("{f:?}"), f.to_string());
}

#[test]
fn alternate_debug_keeps_the_fields() {
    let err = failed_nursery();
    let pretty = format!("{err:#?}");
    assert!(pretty.contains("failures") && pretty.contains("origin"), "{pretty}");
}

#[test]
fn boxed_nursery_error_from_main_prints_readably() {
    // `fn main() -> Result<(), BoxError>` prints `Error: {:?}` of the box, which forwards to the
    // error's own Debug.
    let boxed: BoxError = failed_nursery().into();
    let printed = format!("Error: {boxed:?}");
    assert!(printed.starts_with("Error: 1 task(s) failed: [1] 'db'"), "{printed}");
}
