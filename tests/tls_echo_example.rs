//! The TLS example (`examples/tls_echo.rs`): a rustls server and a verifying client, both on
//! quartet through `Compat`, exchange data over loopback with a certificate made at run time.
#[allow(dead_code)]
#[path = "../examples/tls_echo.rs"]
mod tls_echo;

use crate::nursery_support;

#[test]
fn tls_client_verifies_the_generated_certificate_and_gets_its_echo() {
    let message: Vec<u8> = (0..20_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let echo = nursery_support::run(tls_echo::demo(&message)).unwrap();
    assert!(echo == message, "the echo differs from what was sent");
}
