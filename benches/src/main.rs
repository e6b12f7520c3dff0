//! quartet's benchmark suite: quartet against tokio (current-thread and multi-thread), monoio and
//! compio (io_uring peers), and a raw io_uring loop with no runtime (the limit).
//!
//! ```text
//! quartet-benches [--quick] [--name=value ...]   run the suite, print the table, write
//!                                                BENCHMARKS.md and benches/ratios.svg
//! quartet-benches serve <peer> <core>            (internal) an echo (or http-*) server, until killed
//! quartet-benches once <bench> <peer> k=v ...    (internal) one measurement, prints RESULT
//! ```
//! See `config.rs` for the options (`--runs=7`, `--only=echo,spawn`, `--echo-ms=5000`, ...).

mod chart;
mod child;
mod config;
mod echo;
mod http;
mod micro;
mod report;
mod suite;
mod sys;

use std::path::PathBuf;
use std::process::ExitCode;

/// Where BENCHMARKS.md goes: `QB_OUT_DIR`, else the workspace root this crate was built in.
pub fn repo_root() -> PathBuf {
    std::env::var_os("QB_OUT_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        root.canonicalize().unwrap_or(root)
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("once") => once(&args[1..]),
        Some("hold-clients") => micro::cancel::hold_clients(&args[1..]),
        Some("-h") | Some("--help") => {
            println!("usage: quartet-benches [--quick] [--name=value ...]  (see benches/src/config.rs)");
            Ok(())
        }
        _ => suite(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quartet-benches: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &[String]) -> Result<(), String> {
    let peer = args.first().ok_or("serve <peer> <core>")?;
    let core = args.get(1).map(|c| c.parse::<usize>().map_err(|e| e.to_string())).transpose()?.unwrap_or(0);
    match peer.strip_prefix("http-") {
        Some(name) => {
            sys::pin_to_core(core).map_err(|e| format!("pin server: {e}"))?;
            http::servers::serve(name)
        }
        None => echo::serve(peer, core),
    }
}

fn once(args: &[String]) -> Result<(), String> {
    let [bench, peer, rest @ ..] = args else { return Err("once <bench> <peer> k=v ...".into()) };
    let p = child::Params::parse(rest)?;
    let m = match bench.as_str() {
        "echo-tput" | "echo-lat" => echo::client(bench, &p)?,
        "http" => http::client(&p)?,
        _ => micro::run(bench, peer, &p)?,
    };
    child::emit(&m);
    Ok(())
}

fn suite(args: &[String]) -> Result<(), String> {
    let cfg = config::Config::from_args(args)?;
    let machine = sys::machine();
    eprintln!("quartet-benches: {}", cfg.describe());
    let (groups, rows) = suite::run(&cfg)?;
    let evaluated = report::evaluate(&groups, &rows);
    report::print(&evaluated);
    let root = repo_root();
    let md = report::markdown(&cfg, &machine, &groups, &evaluated);
    // A fresh `QB_OUT_DIR` may not exist yet, nor its benches/ folder (the report links the chart
    // there): create both before writing either file.
    std::fs::create_dir_all(root.join("benches")).map_err(|e| format!("creating benches/: {e}"))?;
    std::fs::write(root.join("BENCHMARKS.md"), md).map_err(|e| format!("writing BENCHMARKS.md: {e}"))?;
    std::fs::write(root.join("benches/ratios.svg"), chart::svg(&evaluated))
        .map_err(|e| format!("writing benches/ratios.svg: {e}"))?;
    println!("\nwrote {} and {}", root.join("BENCHMARKS.md").display(), root.join("benches/ratios.svg").display());
    Ok(())
}
