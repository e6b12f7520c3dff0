//! One test binary for I/O traits and adapters, TCP/UDP, files, and the examples that serve over loopback.
//!
//! Each module is a test file of its own (its path says which); they share one binary so the
//! suite links a handful of binaries instead of a hundred (see `Cargo.toml`, `autotests`).
//! Tests that change process-wide state (signals, rlimits, the environment, panic hooks) or
//! count the process's fds or threads keep a binary of their own.

mod fs_support;
mod hazard_support;
mod nursery_support;

#[path = "chat_example.rs"]
mod chat_example;
#[path = "fs_files.rs"]
mod fs_files;
#[path = "fs_paths.rs"]
mod fs_paths;
#[path = "http_hyper_example.rs"]
mod http_hyper_example;
#[path = "io_buffered.rs"]
mod io_buffered;
#[path = "io_compat.rs"]
mod io_compat;
#[path = "io_hyper_runtime.rs"]
mod io_hyper_runtime;
#[path = "net_examples.rs"]
mod net_examples;
#[path = "net_open_tcp_stream.rs"]
mod net_open_tcp_stream;
#[path = "net_recv_poll_first.rs"]
mod net_recv_poll_first;
#[path = "op_data_moves.rs"]
mod op_data_moves;
#[path = "serve_tcp.rs"]
mod serve_tcp;
#[path = "tcp_incoming_and_adoption.rs"]
mod tcp_incoming_and_adoption;
#[path = "tls_echo_example.rs"]
mod tls_echo_example;
#[path = "udp_datagrams.rs"]
mod udp_datagrams;
