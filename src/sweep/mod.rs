//! Training sweeps: the design of the study (k-fold cross-validation over nested training
//! sets of growing size), its runs and shards.

pub mod design;
pub mod presets;
pub mod results;
pub mod run;

pub use design::{RunKey, SweepDesign, SweepPlan, ValSize, plan, runs, shard};
