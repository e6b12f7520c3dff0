//! Lets `scripts/mutants.sh` plant one known bug in this crate (and no other): the environment
//! variable `QUARTET_MUTANT=<name>` becomes `--cfg quartet_mutant="<name>"`. Unlike `RUSTFLAGS`,
//! changing it rebuilds only the workspace crates, not every dependency. Unset (always, outside
//! that script) it does nothing. See README.md, "Testing and loom".

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=QUARTET_MUTANT");
    if let Some(name) = std::env::var("QUARTET_MUTANT").ok().filter(|n| !n.is_empty()) {
        println!("cargo::rustc-cfg=quartet_mutant=\"{name}\"");
    }
}
