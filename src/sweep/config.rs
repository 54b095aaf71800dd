//! What a sweep saves: its configuration (in the project file), the frozen snapshot of the
//! labels it runs on and one record per finished run (in its folder, see [`super::store`]).
//!
//! This file imports no module that imports the project module, so the project file can store
//! [`SweepConfig`]s without a cycle.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::design::{RunKey, SweepDesign};
use crate::project::ids::ImageId;
use crate::train::RunStatus;
use crate::train::config::{Task, TrainConfig};

/// A sweep as stored in the project: what to learn, how, and the study design.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepConfig {
    pub name: String,
    pub task: Task,
    pub train: TrainConfig,
    pub design: SweepDesign,
}

/// The labels a sweep was started with: later relabelling does not change its results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub config: SweepConfig,
    pub images: Vec<ImageId>,
    pub targets: Vec<usize>,
    pub output_names: Vec<String>,
    /// Classes with fewer than 5 images that were left out, and similar notices.
    pub notices: Vec<String>,
    /// The project's journal sequence number when the snapshot was taken: journal lines with
    /// a larger number are label changes (and confirmations) made since. `None` in snapshots
    /// from before it was recorded. Not part of [`Snapshot::digest`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_seq: Option<u64>,
}

impl SweepConfig {
    /// The settings in which `given` differs from this (saved) configuration, one line each
    /// ("folds: saved 2, given 5"); empty when they agree. The command line refuses to resume a
    /// saved sweep with other settings and prints these lines.
    pub fn differences(&self, given: &SweepConfig) -> Vec<String> {
        let mut out = Vec::new();
        let mut differ = |what: &str, saved: String, new: String| {
            if saved != new {
                out.push(format!("{what}: saved {saved}, given {new}"));
            }
        };
        let (a, b) = (&self.train, &given.train);
        differ(
            "task",
            format!("{:?}", self.task),
            format!("{:?}", given.task),
        );
        differ(
            "folds",
            self.design.k_folds.to_string(),
            given.design.k_folds.to_string(),
        );
        differ(
            "validation images",
            format!("{:?}", self.design.val),
            format!("{:?}", given.design.val),
        );
        differ(
            "sizes",
            format!("{:?}", self.design.sizes),
            format!("{:?}", given.design.sizes),
        );
        differ(
            "seed",
            self.design.seed.to_string(),
            given.design.seed.to_string(),
        );
        differ(
            "input size",
            a.input_size.to_string(),
            b.input_size.to_string(),
        );
        differ(
            "optimizer",
            format!("{:?}", a.optimizer),
            format!("{:?}", b.optimizer),
        );
        differ(
            "learning rate",
            a.learning_rate.to_string(),
            b.learning_rate.to_string(),
        );
        differ(
            "batch size",
            a.batch_size.to_string(),
            b.batch_size.to_string(),
        );
        differ("epochs", a.max_epochs.to_string(), b.max_epochs.to_string());
        differ("patience", a.patience.to_string(), b.patience.to_string());
        differ("augmentation", a.augment.to_string(), b.augment.to_string());
        differ(
            "balance to",
            format!("{:?}", a.balance_to),
            format!("{:?}", b.balance_to),
        );
        differ(
            "test-time views",
            a.test_views.to_string(),
            b.test_views.to_string(),
        );
        if out.is_empty() && self != given {
            out.push("other settings differ".into());
        }
        out
    }
}

impl Snapshot {
    /// The digest of what the runs are trained under: the configuration, the images with their
    /// targets and the output names (BLAKE3 of their RON text, hex). Every run record stores the
    /// digest of the snapshot it was trained under ([`RunRecord::snapshot_digest`]).
    pub fn digest(&self) -> String {
        let what = (
            &self.config,
            &self.images,
            &self.targets,
            &self.output_names,
        );
        let text = ron::to_string(&what).unwrap_or_default();
        blake3::hash(text.as_bytes()).to_hex().to_string()
    }

    /// Whether `run` was trained under this snapshot; the error says why not. A record with a
    /// digest must carry this snapshot's. A record written before records carried one is
    /// accepted when what it does hold agrees: its fold exists, and each test image is in this
    /// snapshot with the same target and has one probability per output.
    pub fn accepts(&self, run: &RunRecord) -> Result<(), String> {
        const OTHER: &str = "it was trained on other labels or settings than the sweep's \
                             snapshot (a snapshot taken again after a relabel, say)";
        match &run.snapshot_digest {
            Some(d) if *d == self.digest() => Ok(()),
            Some(_) => Err(OTHER.into()),
            None => {
                let position: std::collections::HashMap<ImageId, usize> = self
                    .images
                    .iter()
                    .enumerate()
                    .map(|(i, &id)| (id, i))
                    .collect();
                let agrees = run.key.fold < self.config.design.k_folds
                    && run.predictions.iter().all(|(id, target, probs)| {
                        position.get(id).and_then(|&i| self.targets.get(i)) == Some(target)
                            && probs.len() == self.output_names.len()
                    });
                if agrees {
                    Ok(())
                } else {
                    Err(format!(
                        "{OTHER}; it predates snapshot digests and its test images or targets differ"
                    ))
                }
            }
        }
    }

    /// Whether this snapshot was taken for the sweep `config` (same name, training settings
    /// and design; a multiclass task may have lost classes with too few images).
    pub fn is_of(&self, config: &SweepConfig) -> bool {
        self.config.name == config.name
            && self.config.train == config.train
            && self.config.design == config.design
    }
}

/// One finished run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub key: RunKey,
    /// How the run ended. Stored as the status's text ("completed", "failed: …"), as the
    /// files have always held it.
    #[serde(
        serialize_with = "serialize_status",
        deserialize_with = "deserialize_status"
    )]
    pub status: RunStatus,
    /// Whether `status` is [`RunStatus::Collapsed`] (also stored on its own, for the tables).
    pub collapsed: bool,
    pub epochs: usize,
    pub best_epoch: usize,
    pub train_loss: Vec<f64>,
    pub val_loss: Vec<f64>,
    pub test_auc: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub test_weighted_f1: Option<f64>,
    /// (image, target, probabilities) for every test image.
    pub predictions: Vec<(ImageId, usize, Vec<f32>)>,
    pub device: String,
    pub seconds: f64,
    /// [`Snapshot::digest`] of the snapshot the run was trained under. `None` in records written
    /// before digests existed (see [`Snapshot::accepts`] for how those are checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_digest: Option<String>,
}

impl RunRecord {
    /// Whether the run ended with an error.
    pub fn failed(&self) -> bool {
        matches!(self.status, RunStatus::Failed(_))
    }

    /// Whether the run's network gave (nearly) the same output for every image: its
    /// probabilities say nothing about the images.
    pub fn network_collapsed(&self) -> bool {
        self.collapsed || self.status == RunStatus::Collapsed
    }
}

/// Reads a run status from the text its `Display` writes (what run files store): the inverse
/// of `RunStatus::to_string`. `None` for a text no build has written.
pub fn parse_status(text: &str) -> Option<RunStatus> {
    match text {
        "completed" => Some(RunStatus::Completed),
        "cancelled" => Some(RunStatus::Cancelled),
        t if t.starts_with("collapsed") => Some(RunStatus::Collapsed),
        t => t
            .strip_prefix("failed")
            .map(|m| RunStatus::Failed(m.strip_prefix(": ").unwrap_or(m).to_string())),
    }
}

/// Writes [`RunRecord::status`] as the status's text.
fn serialize_status<S: Serializer>(status: &RunStatus, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(status)
}

/// Reads [`RunRecord::status`] from the status's text.
fn deserialize_status<'de, D: Deserializer<'de>>(d: D) -> Result<RunStatus, D::Error> {
    let text = String::deserialize(d)?;
    parse_status(&text).ok_or_else(|| D::Error::custom(format!("unknown run status \"{text}\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run file exactly as the sweeps before the status enum wrote it.
    fn old_record(status: &str, collapsed: bool) -> String {
        format!(
            "(key:(fold:1,size:10),status:\"{status}\",collapsed:{collapsed},epochs:3,best_epoch:2,\
             train_loss:[0.7,0.5,0.4],val_loss:[0.69,0.6,0.62],test_auc:Some(0.75),\
             test_accuracy:None,test_weighted_f1:None,predictions:[(4,1,[0.3,0.7])],\
             device:\"CPU\",seconds:1.5)"
        )
    }

    #[test]
    fn run_files_with_the_old_status_strings_are_read_and_written_back_the_same() {
        let cases = [
            ("completed", false, RunStatus::Completed),
            (
                "collapsed (near-constant output for every image)",
                true,
                RunStatus::Collapsed,
            ),
            (
                "failed: the loss is not finite (NaN) at epoch 2",
                false,
                RunStatus::Failed("the loss is not finite (NaN) at epoch 2".into()),
            ),
        ];
        for (text, collapsed, status) in cases {
            let r: RunRecord = ron::from_str(&old_record(text, collapsed)).unwrap();
            assert_eq!(r.status, status, "{text}");
            assert_eq!(r.failed(), text.starts_with("failed"));
            assert_eq!(
                (r.key, r.collapsed),
                (RunKey { fold: 1, size: 10 }, collapsed)
            );
            // Written back, the status is the same text, and it reads back the same.
            let again = ron::to_string(&r).unwrap();
            assert!(again.contains(&format!("status:\"{text}\"")), "{again}");
            assert_eq!(ron::from_str::<RunRecord>(&again).unwrap(), r);
            assert_eq!(r.status.to_string(), text);
        }
        assert!(ron::from_str::<RunRecord>(&old_record("exploded", false)).is_err());
    }
}
