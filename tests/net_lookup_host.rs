//! `lookup_host`: real resolutions through the system resolver, literal addresses, errors, and a
//! cancelled lookup that returns at once while `getaddrinfo` is still blocked (a child process in
//! its own mount namespace whose resolver points at a DNS server that never answers).

mod nursery_support;

use nursery_support::run;
use quartet::net::lookup_host;
use quartet::{CancelScope, move_on_after};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn localhost_resolves_to_a_loopback_address_with_the_port() {
    run(async {
        let addrs = lookup_host("localhost", 8080).await.unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080), "{addrs:?}");
    });
}

#[test]
fn literal_addresses_are_returned_as_they_are() {
    run(async {
        let v4: SocketAddr = "10.1.2.3:53".parse().unwrap();
        assert_eq!(lookup_host("10.1.2.3", 53).await.unwrap(), vec![v4]);
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(lookup_host("::1", 443).await.unwrap(), vec![v6]);
        assert_eq!(lookup_host("[::1]", 443).await.unwrap(), vec![v6]);
    });
}

#[test]
fn unknown_names_fail_with_an_io_error() {
    run(async {
        let e = lookup_host("no-such-host.invalid", 1).await.expect_err("an .invalid name never resolves");
        assert!(e.as_io().is_some(), "{e:?}");
    });
}

#[test]
fn lookup_in_a_cancelled_scope_does_nothing() {
    run(async {
        let scope = CancelScope::new();
        scope.cancel();
        let r = scope.run(async { lookup_host("localhost", 1).await }).await;
        assert!(matches!(r, Ok(None)), "{r:?}");
        assert!(scope.cancelled_caught());
    });
}

const CHILD: &str = "QUARTET_SLOW_DNS_CHILD";

#[test]
fn cancelled_lookup_returns_at_once_while_the_resolver_blocks() {
    if std::env::var_os(CHILD).is_some() {
        return slow_dns_child();
    }
    let rc = std::env::temp_dir().join(format!("quartet-resolv-{}.conf", std::process::id()));
    std::fs::write(&rc, "nameserver 127.0.0.1\noptions timeout:5 attempts:1\n").unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", "mount --bind \"$1\" /etc/resolv.conf && shift && exec \"$@\"", "sh"])
        .arg(&rc)
        .arg(&exe)
        .args(["--exact", "cancelled_lookup_returns_at_once_while_the_resolver_blocks", "--nocapture"])
        .env(CHILD, "1")
        .output();
    let _ = std::fs::remove_file(&rc);
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(text.contains("slow-dns: cancelled"), "child output: {text}");
        }
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains("slow-dns:") => {
            panic!("child failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
        }
        other => eprintln!("skipped: cannot make a private mount namespace here ({other:?})"),
    }
}

fn slow_dns_child() {
    println!("slow-dns: started");
    // A DNS server that never answers: the resolver waits its full timeout (5 s).
    let Ok(_silent) = std::net::UdpSocket::bind("127.0.0.1:53") else {
        println!("slow-dns: cancelled (skipped: port 53 is taken)");
        return;
    };
    run(async {
        let started = Instant::now();
        let r = move_on_after(Duration::from_millis(100), lookup_host("slow.quartet.test", 80)).await;
        let took = started.elapsed();
        assert!(matches!(r, Ok(None)), "the deadline cancelled the lookup: {r:?}");
        // a hang guard, not a timing assertion: the blocked getaddrinfo takes 5 s
        assert!(took < Duration::from_secs(3), "the cancelled lookup waited for the resolver ({took:?})");
        println!("slow-dns: cancelled after {took:?}");
    });
}
