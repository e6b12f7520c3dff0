//! The networking examples run to completion: `examples/udp_echo.rs` (server, client, reported
//! truncation) and `examples/unix_socket.rs` (abstract address, fd passing, socket pair).
#[allow(dead_code)]
#[path = "../examples/udp_echo.rs"]
mod udp_echo;

#[allow(dead_code)]
#[path = "../examples/unix_socket.rs"]
mod unix_socket;

use crate::nursery_support;

#[test]
fn udp_echo_example_demo_completes() {
    nursery_support::run(udp_echo::demo()).unwrap();
}

#[test]
fn unix_socket_example_demo_completes() {
    nursery_support::run(unix_socket::demo()).unwrap();
}
