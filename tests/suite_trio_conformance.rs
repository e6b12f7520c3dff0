//! One test binary for tests ported from Trio's own test suite, plus hostile use of the public API.
//!
//! Each module is a test file of its own (its path says which); they share one binary so the
//! suite links a handful of binaries instead of a hundred (see `Cargo.toml`, `autotests`).
//! Tests that change process-wide state (signals, rlimits, the environment, panic hooks) or
//! count the process's fds or threads keep a binary of their own.

#[path = "trio_conformance_channels.rs"]
mod trio_conformance_channels;
#[path = "trio_conformance_durations.rs"]
mod trio_conformance_durations;
#[path = "trio_conformance_hostile.rs"]
mod trio_conformance_hostile;
#[path = "trio_conformance_hostile2.rs"]
mod trio_conformance_hostile2;
#[path = "trio_conformance_nursery.rs"]
mod trio_conformance_nursery;
#[path = "trio_conformance_polled_again.rs"]
mod trio_conformance_polled_again;
#[path = "trio_conformance_ports.rs"]
mod trio_conformance_ports;
#[path = "trio_conformance_ports2.rs"]
mod trio_conformance_ports2;
#[path = "trio_conformance_probes.rs"]
mod trio_conformance_probes;
#[path = "trio_conformance_probes2.rs"]
mod trio_conformance_probes2;
#[path = "trio_conformance_probes3.rs"]
mod trio_conformance_probes3;
#[path = "trio_conformance_scopes.rs"]
mod trio_conformance_scopes;
#[path = "trio_conformance_timeouts.rs"]
mod trio_conformance_timeouts;
