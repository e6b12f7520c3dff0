//! The observations `examples/compare_spawn` prints stay true: with detached spawn (tokio) an
//! unawaited child's error is never seen, a child outlives its parent, a timeout leaks the
//! children and a panic reaches only the panic hook; with nurseries each structured guarantee
//! holds. (One test: the scenarios install a process-wide panic hook.)

#[path = "../examples/compare_spawn/scenarios.rs"]
mod scenarios;

use scenarios::*;

#[test]
fn nurseries_keep_every_guarantee_that_detached_spawn_breaks() {
    install_panic_hook();
    let check = |what: &str, seen: Seen, held: bool| {
        assert_eq!(seen.guarantee_held, held, "{what}: {:#?}", seen.lines);
    };
    check("tokio: unawaited child's error", fail_tokio(), false);
    check("quartet: unawaited child's error", fail_quartet(), true);
    check("tokio: child outlives its parent", early_tokio(), false);
    check("quartet: body returns early", early_quartet(false), true);
    check("quartet: body cancels and returns early", early_quartet(true), true);
    check("tokio: timeout leaks the children", timeout_tokio(), false);
    check("quartet: deadline cancels every child", timeout_quartet(), true);
    check("tokio: panic only reaches the hook", panic_tokio(), false);
    check("quartet: panic resumed in the owner", panic_quartet(), true);
    let _ = std::panic::take_hook();
}
