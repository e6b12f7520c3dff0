//! The plans of the network rows: echo throughput and CPU (100 and 1,000 connections), echo on
//! two cores, one-connection latency (with and without busy-polling) and HTTP keep-alive. Split
//! from `suite.rs`, which keeps the micro-benchmarks and the runner.

use super::*;

pub(super) fn net_plans(cfg: &Config) -> Vec<Plan> {
    let mut v = Vec::new();
    for &size in &cfg.echo_sizes {
        let id = format!("echo-tput-{size}");
        let p = Params::default()
            .with("size", size)
            .with("conns", cfg.echo_conns)
            .with("warmup_ms", cfg.echo_warmup.as_millis())
            .with("window_ms", cfg.echo_secs.as_millis());
        let t = format!("TCP echo, {} conns, {}", cfg.echo_conns, size_label(size));
        v.push(Plan {
            id: id.clone(),
            peers: vec![
                "quartet",
                "quartet-instr",
                "quartet-pooled",
                "raw",
                "tokio-ct",
                "tokio-mt",
                "monoio",
                "compio",
            ],
            run: Box::new(move |peer| echo::run(peer, "echo-tput", &p)),
            rows: vec![
                row(
                    &format!("{id}-cpu"),
                    format!("{t}: server CPU per message"),
                    "cpu_ns_per_msg",
                    "ns",
                    false,
                    vec![
                        le(Vs::Peer("raw"), 1.03),
                        le(Vs::Best(IO_URING_PEERS), 1.0),
                        info(Vs::Peer("tokio-ct")),
                        info(Vs::Peer("quartet-pooled")),
                        // quartet / quartet with a no-op instrument: below 1 is the hooks' cost.
                        info(Vs::Peer("quartet-instr")),
                    ],
                ),
                row(
                    &format!("{id}-msgs"),
                    format!("{t}: throughput"),
                    "msgs_per_s",
                    "msgs/s",
                    true,
                    vec![ge(Vs::Peer("tokio-ct"), 1.2), info(Vs::Peer("raw"))],
                ),
            ],
        });
    }
    {
        // Many connections, small messages: where a 64 KiB buffer pinned per connection and the
        // per-op overhead show. Peers: quartet with pooled receives (`quartet-pooled`), and the
        // raw loop tuned with multishot recv, provided buffers and fixed files (`raw-tuned`).
        let conns = cfg.echo_conns_many;
        let id = format!("echo-tput-64-{conns}c");
        let p = Params::default()
            .with("size", 64)
            .with("conns", conns)
            .with("warmup_ms", cfg.echo_warmup.as_millis())
            .with("window_ms", cfg.echo_secs.as_millis());
        let t = format!("TCP echo, {conns} conns, 64 B");
        v.push(Plan {
            id: id.clone(),
            peers: vec!["quartet", "quartet-pooled", "raw", "raw-tuned", "tokio-ct"],
            run: Box::new(move |peer| echo::run(peer, "echo-tput", &p)),
            rows: vec![
                row(
                    &format!("{id}-cpu"),
                    format!("{t}: server CPU per message"),
                    "cpu_ns_per_msg",
                    "ns",
                    false,
                    vec![
                        le(Vs::Peer("raw-tuned"), 1.05),
                        le(Vs::Peer("tokio-ct"), 0.9),
                        info(Vs::Peer("quartet-pooled")),
                        info(Vs::Peer("raw")),
                    ],
                ),
                row(
                    &format!("{id}-msgs"),
                    format!("{t}: throughput"),
                    "msgs_per_s",
                    "msgs/s",
                    true,
                    vec![info(Vs::Peer("tokio-ct")), info(Vs::Peer("raw-tuned"))],
                ),
            ],
        });
    }
    for &size in &cfg.echo_sizes {
        // Two cores (issue 16): the server on both cores, the client sharing them.
        let id = format!("echo-2c-{size}");
        let p = Params::default()
            .with("size", size)
            .with("conns", cfg.echo_conns)
            .with("warmup_ms", cfg.echo_warmup.as_millis())
            .with("window_ms", cfg.echo_secs.as_millis());
        let t = format!("TCP echo on 2 cores, {} conns, {}", cfg.echo_conns, size_label(size));
        v.push(Plan {
            id: id.clone(),
            // The report's numerator is the peer named "quartet": here the two-core server;
            // "quartet-1c" is the usual one-core server (pinned to core 0).
            peers: vec!["quartet", "quartet-1c", "tokio-mt-2", "monoio-2"],
            run: Box::new(move |peer| {
                let server = match peer {
                    "quartet" => "quartet-2c",
                    "quartet-1c" => "quartet",
                    other => other,
                };
                echo::run(server, "echo-tput", &p)
            }),
            rows: vec![
                row(
                    &format!("{id}-cpu"),
                    format!("{t}: server CPU per message (vs quartet on 1 core)"),
                    "cpu_ns_per_msg",
                    "ns",
                    false,
                    vec![le(Vs::Peer("quartet-1c"), 1.05), info(Vs::Peer("tokio-mt-2")), info(Vs::Peer("monoio-2"))],
                ),
                row(
                    &format!("{id}-msgs"),
                    format!("{t}: throughput"),
                    "msgs_per_s",
                    "msgs/s",
                    true,
                    vec![ge(Vs::Peer("tokio-mt-2"), 1.0), info(Vs::Peer("quartet-1c")), info(Vs::Peer("monoio-2"))],
                ),
            ],
        });
    }
    for &size in &cfg.echo_sizes {
        let id = format!("echo-lat-{size}");
        let p = Params::default().with("size", size).with("rtts", cfg.lat_rtts);
        let t = format!("TCP echo, 1 conn, {}", size_label(size));
        v.push(Plan {
            id: id.clone(),
            peers: vec!["quartet", "quartet-busy-poll", "raw", "tokio-ct", "monoio", "compio"],
            run: Box::new(move |peer| echo::run(peer, "echo-lat", &p)),
            rows: vec![
                row(
                    &format!("{id}-p50"),
                    format!("{t}: p50 latency"),
                    "p50_us",
                    "µs",
                    false,
                    vec![le(Vs::Peer("tokio-ct"), 1.0), info(Vs::Peer("raw"))],
                ),
                row(
                    &format!("{id}-p99"),
                    format!("{t}: p99 latency"),
                    "p99_us",
                    "µs",
                    false,
                    vec![le(Vs::Peer("tokio-ct"), 1.0), info(Vs::Peer("raw"))],
                ),
                // The same server with `Builder::busy_poll` (issue 10: p50 <= 0.9x tokio).
                Row {
                    numerator: "quartet-busy-poll",
                    ..row(
                        &format!("{id}-bp-p50"),
                        format!("{t}: p50 latency, quartet with busy_poll({BUSY_POLL_US} µs)"),
                        "p50_us",
                        "µs",
                        false,
                        vec![le(Vs::Peer("tokio-ct"), 0.9), info(Vs::Peer("quartet")), info(Vs::Peer("raw"))],
                    )
                },
                Row {
                    numerator: "quartet-busy-poll",
                    ..row(
                        &format!("{id}-bp-p99"),
                        format!("{t}: p99 latency, quartet with busy_poll({BUSY_POLL_US} µs)"),
                        "p99_us",
                        "µs",
                        false,
                        vec![info(Vs::Peer("tokio-ct")), info(Vs::Peer("quartet")), info(Vs::Peer("raw"))],
                    )
                },
            ],
        });
    }
    for (kind, what, target) in [
        ("hyper", "hyper 1.x HTTP/1.1 (quartet: through quartet::io::Compat)", 1.0),
        ("native", "hand-written loop with httparse (quartet: BufReader + owned-buffer writes)", 0.9),
    ] {
        let id = format!("http-{kind}");
        // Only the native loop has a `PooledReceiver` variant (hyper reads through `Compat`).
        let pooled_peer = kind == "native";
        let p = Params::default()
            .with("conns", cfg.http_conns)
            .with("warmup_ms", cfg.http_warmup.as_millis())
            .with("window_ms", cfg.http_secs.as_millis());
        let t = format!("HTTP keep-alive \"Hello, world!\", wrk {} conns, {what}", cfg.http_conns);
        v.push(Plan {
            id: id.clone(),
            peers: if pooled_peer {
                vec!["quartet", "quartet-pooled", "tokio-ct"]
            } else {
                vec!["quartet", "tokio-ct"]
            },
            run: Box::new(move |peer| http::run(&format!("{kind}-{peer}"), &p)),
            rows: vec![
                row(
                    &format!("{id}-cpu"),
                    format!("{t}: server CPU per request"),
                    "cpu_ns_per_req",
                    "ns",
                    false,
                    if pooled_peer {
                        vec![le(Vs::Peer("tokio-ct"), target), info(Vs::Peer("quartet-pooled"))]
                    } else {
                        vec![le(Vs::Peer("tokio-ct"), target)]
                    },
                ),
                row(
                    &format!("{id}-reqs"),
                    format!("{t}: requests/s"),
                    "reqs_per_s",
                    "req/s",
                    true,
                    vec![info(Vs::Peer("tokio-ct"))],
                ),
            ],
        });
    }
    v
}
