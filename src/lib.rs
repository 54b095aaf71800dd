//! leukolens: re-annotate single white blood cells and train the tiny CNN of Schouten et al.
//! (2021, *Sci Rep* 11:7995) on them.
//!
//! The core library has no GUI dependency. See `ARCHITECTURE.md` for the module map and the
//! data flow.

// Tests may unwrap; the library handles every failure (clippy::unwrap_used in Cargo.toml).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod backend;
pub mod bench;
pub mod cli;
pub mod contrast;
#[cfg(unix)]
pub mod crash;
pub mod dataset;
pub mod demo;
pub mod explain;
pub mod fuzz;
pub mod jobs;
pub mod metrics;
pub mod nn;
pub mod output;
pub mod project;
pub mod quality;
pub mod quote;
pub mod sweep;
pub mod taxonomy;
pub mod train;
#[cfg(feature = "gui")]
pub mod ui;
