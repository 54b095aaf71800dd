//! Training sweeps: the design of the study (k-fold cross-validation over nested training
//! sets of growing size), what a sweep saves and where, how it starts, its runs and shards,
//! and its results.
//!
//! - `config`: the saved types (`SweepConfig`, `Snapshot`, `RunRecord`).
//! - `store`: `SweepDir`, the only reader and writer of a sweep's folder.
//! - `start`: the checks, the snapshot and the registration in the project.
//! - `run`: the scheduling of the runs.
//! - `results`: the numbers; `report`: the figures and the HTML report.

pub mod config;
pub mod design;
pub mod presets;
pub mod report;
pub mod results;
pub mod run;
pub mod start;
pub mod store;

pub use config::{RunRecord, Snapshot, SweepConfig};
pub use design::{RunKey, SweepDesign, SweepPlan, ValSize, plan, runs, shard};
pub use run::{AUTO_GPU_STACK, RunOptions, SweepEvent, run_sweep};
pub use start::{Started, start};
pub use store::{SavedSweep, SweepDir, saved_sweeps};
