//! The `myqcm` binary run as a child process, as an operator runs it (one test binary for every
//! command-line test).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

mod backup;
mod catalogue;
mod commands;
mod evaluate;

use std::process::Command;

/// The `myqcm` binary with nothing from the environment running the tests.
fn myqcm() -> Command {
    myqcm_testkit::isolated_command(env!("CARGO_BIN_EXE_myqcm"))
}

fn free_port() -> u16 {
    myqcm_testkit::free_port().unwrap()
}

/// Runs `myqcm args…` in `dir`, asserts that it succeeded (showing its stderr otherwise) and
/// returns its standard output.
fn run_ok(dir: &std::path::Path, args: &[&str]) -> String {
    let out = myqcm().args(args).current_dir(dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
