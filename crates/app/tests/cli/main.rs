//! The `myqcm` binary run as a child process, as an operator runs it (one test binary for every
//! command-line test).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

mod catalogue;
mod commands;

use std::process::Command;

/// The `myqcm` binary with nothing from the environment running the tests.
fn myqcm() -> Command {
    myqcm_testkit::isolated_command(env!("CARGO_BIN_EXE_myqcm"))
}

fn free_port() -> u16 {
    myqcm_testkit::free_port().unwrap()
}
