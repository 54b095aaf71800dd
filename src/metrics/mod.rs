//! Evaluation metrics: ROC curves and AUC, confusion matrices with per-class
//! scores, and summary statistics (mean ± sd, box-plot statistics).
//!
//! Everything here is plain `std` Rust and never panics on empty or degenerate
//! input: functions return `Option`, `Result` or documented NaN-free fallback
//! values instead.
//!
//! * [`roc`]: [`roc_curve`], [`auc`], [`auc_trapezoid`], [`interpolate_tpr`],
//!   [`mean_roc`].
//! * [`confusion`]: [`ConfusionMatrix`] and [`ClassScores`].
//! * [`stats`]: [`mean_sd`] / [`MeanSd`] and [`box_stats`] / [`BoxStats`].

pub mod confusion;
pub mod roc;
pub mod stats;

pub use confusion::{ClassScores, ConfusionMatrix};
pub use roc::{MeanRoc, RocPoint, auc, auc_trapezoid, interpolate_tpr, mean_roc, roc_curve};
pub use stats::{BoxStats, MeanSd, box_stats, mean_sd};
