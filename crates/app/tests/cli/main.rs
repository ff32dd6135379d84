//! The `myqcm` binary run as a child process, as an operator runs it (one test binary for every
//! command-line test).

mod catalogue;
mod commands;
