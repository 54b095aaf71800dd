//! Training configuration: the task, the optimiser preset and the protocol (paper defaults).

use serde::{Deserialize, Serialize};

use crate::taxonomy::{ClassId, Taxonomy};

/// What the network learns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// Positive = classes flagged positive in the taxonomy (blasts); negative = all others.
    Binary,
    /// One output per listed class; images of other classes are not used.
    Multiclass { classes: Vec<ClassId> },
    /// Two explicit groups: positive vs negative (e.g. lymphocyte vs neutrophil).
    Groups {
        positive: Vec<ClassId>,
        negative: Vec<ClassId>,
    },
}

impl Task {
    /// Number of network outputs.
    pub fn n_outputs(&self) -> usize {
        match self {
            Task::Multiclass { classes } => classes.len(),
            _ => 2,
        }
    }

    /// The target index of an image with class `c`, or `None` when the task does not use it.
    /// Images of the "Unlabelled" class are never used, by any task (never a negative).
    pub fn target(&self, taxonomy: &Taxonomy, c: ClassId) -> Option<usize> {
        if taxonomy.is_unlabelled(c) {
            return None;
        }
        match self {
            Task::Binary => Some(usize::from(taxonomy.is_positive(c))),
            Task::Multiclass { classes } => classes.iter().position(|x| *x == c),
            Task::Groups { positive, negative } => {
                if positive.contains(&c) {
                    Some(1)
                } else if negative.contains(&c) {
                    Some(0)
                } else {
                    None
                }
            }
        }
    }

    /// Checks that no class is listed twice, within a list or in both groups (the first
    /// listing would silently win and the task would not be what was asked).
    pub fn check(&self, taxonomy: &Taxonomy) -> Result<(), String> {
        let twice = |v: &[ClassId]| {
            v.iter()
                .enumerate()
                .find(|(i, c)| v[..*i].contains(c))
                .map(|(_, c)| *c)
        };
        match self {
            Task::Binary => Ok(()),
            Task::Multiclass { classes } => match twice(classes) {
                Some(c) => Err(format!("\"{}\" is listed twice", taxonomy.name(c))),
                None => Ok(()),
            },
            Task::Groups { positive, negative } => {
                if let Some(c) = twice(positive).or(twice(negative)) {
                    return Err(format!("\"{}\" is listed twice", taxonomy.name(c)));
                }
                match positive.iter().find(|c| negative.contains(c)) {
                    Some(c) => Err(format!(
                        "\"{}\" is in both the positive and the negative group",
                        taxonomy.name(*c)
                    )),
                    None => Ok(()),
                }
            }
        }
    }

    /// Checks that every output of the task has images among `labels` (the current labels),
    /// and says in words which classes are empty and what to do.
    pub fn check_has_images(&self, taxonomy: &Taxonomy, labels: &[ClassId]) -> Result<(), String> {
        let mut per_output = vec![0usize; self.n_outputs()];
        for &c in labels {
            if let Some(t) = self.target(taxonomy, c) {
                per_output[t] += 1;
            }
        }
        let names = |ids: &[ClassId]| {
            ids.iter()
                .map(|c| taxonomy.name(*c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Task::Binary => {
                let flagged: Vec<ClassId> = taxonomy
                    .classes
                    .iter()
                    .filter(|c| c.positive)
                    .map(|c| c.id)
                    .collect();
                if flagged.is_empty() {
                    Err(
                        "No class is flagged positive. Flag the blast class in Edit > Taxonomy, \
                         or choose two groups."
                            .into(),
                    )
                } else if per_output[1] == 0 {
                    Err(format!(
                        "No image is in a positive class ({}). Flag the blast class in Edit > \
                         Taxonomy, or choose two groups.",
                        names(&flagged)
                    ))
                } else if per_output[0] == 0 {
                    Err(format!(
                        "Every image is in a positive class ({}): the binary task needs images \
                         of other classes too.",
                        names(&flagged)
                    ))
                } else {
                    Ok(())
                }
            }
            Task::Groups { positive, negative } => {
                let empty = [(1, "positive", positive), (0, "negative", negative)]
                    .into_iter()
                    .find(|(t, _, _)| per_output[*t] == 0);
                match empty {
                    Some((_, which, ids)) => Err(format!(
                        "No image is in the {which} group ({}). Choose classes that have images.",
                        names(ids)
                    )),
                    None => Ok(()),
                }
            }
            Task::Multiclass { classes } => {
                let empty: Vec<ClassId> = classes
                    .iter()
                    .zip(&per_output)
                    .filter(|(_, n)| **n == 0)
                    .map(|(c, _)| *c)
                    .collect();
                if empty.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "No image is in the class(es) {}. Leave them out of the task.",
                        names(&empty)
                    ))
                }
            }
        }
    }

    /// Human-readable names of the outputs.
    pub fn output_names(&self, taxonomy: &Taxonomy) -> Vec<String> {
        match self {
            Task::Multiclass { classes } => classes.iter().map(|c| taxonomy.name(*c)).collect(),
            Task::Binary => vec!["negative".into(), "positive".into()],
            Task::Groups { positive, negative } => {
                let join = |v: &[ClassId]| {
                    v.iter()
                        .map(|c| taxonomy.name(*c))
                        .collect::<Vec<_>>()
                        .join(" + ")
                };
                vec![join(negative), join(positive)]
            }
        }
    }
}

/// The optimiser.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    /// RMSprop (Keras defaults: rho 0.9, epsilon 1e-7), the paper's binary preset.
    RmsProp,
    /// Adam (beta 0.9/0.999, epsilon 1e-7), the paper's multiclass preset.
    Adam,
}

/// How one network is trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Side of the square network input in pixels (paper: 257; ≥ 190 for six conv blocks).
    pub input_size: u32,
    pub optimizer: Optimizer,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Early stopping: epochs without a new best validation loss before training stops.
    pub patience: usize,
    /// Random flips and rotation 0–359° (nearest fill).
    pub augment: bool,
    /// Multiclass class balancing: each class is brought to this many training samples per
    /// epoch by augmented repeats (paper: 150). `None` disables it.
    #[serde(default)]
    pub balance_to: Option<usize>,
    /// Test-time augmentation: each test image's probabilities are the mean over its eight
    /// flip and quarter-turn views (exact pixel permutations, which the random flips and
    /// rotations of training already showed the network). Off in the paper's protocol; on in
    /// audits, whose out-of-fold probabilities rank the labels. Validation (early stopping) always
    /// uses the plain image. Left out of the file when off, so configurations written before it
    /// existed keep their digests.
    #[serde(default, skip_serializing_if = "is_false")]
    pub test_views: bool,
}

/// `skip_serializing_if` of flags that are off by default.
fn is_false(b: &bool) -> bool {
    !*b
}

/// The named training settings `train`, `audit` and the GUI's audit dialog offer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrainPreset {
    /// [`TrainConfig::quick`].
    #[default]
    Quick,
    /// [`TrainConfig::paper_binary`].
    PaperBinary,
    /// [`TrainConfig::paper_multiclass`].
    PaperMulticlass,
}

impl TrainPreset {
    pub const ALL: [TrainPreset; 3] = [Self::Quick, Self::PaperBinary, Self::PaperMulticlass];

    /// The training settings of the preset.
    pub fn config(self) -> TrainConfig {
        match self {
            Self::Quick => TrainConfig::quick(),
            Self::PaperBinary => TrainConfig::paper_binary(),
            Self::PaperMulticlass => TrainConfig::paper_multiclass(),
        }
    }

    /// The preset's name as the command line writes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::PaperBinary => "paper-binary",
            Self::PaperMulticlass => "paper-multiclass",
        }
    }
}

impl TrainConfig {
    /// The paper's binary protocol (ALL): 257 px, RMSprop 1e-3, batch 5, ≤ 500 epochs,
    /// patience 50, augmentation on.
    pub fn paper_binary() -> Self {
        Self {
            input_size: 257,
            optimizer: Optimizer::RmsProp,
            learning_rate: 1e-3,
            batch_size: 5,
            max_epochs: 500,
            patience: 50,
            augment: true,
            balance_to: None,
            test_views: false,
        }
    }

    /// The paper's multiclass protocol: Adam 1e-4, 150 per class by augmentation.
    pub fn paper_multiclass() -> Self {
        Self {
            optimizer: Optimizer::Adam,
            learning_rate: 1e-4,
            balance_to: Some(150),
            ..Self::paper_binary()
        }
    }

    /// Small and quick, for demos and tests on 2 CPU cores.
    pub fn quick() -> Self {
        Self {
            input_size: 193,
            max_epochs: 40,
            patience: 10,
            ..Self::paper_binary()
        }
    }

    /// Checks the numbers a user may have typed.
    pub fn validate(&self) -> Result<(), String> {
        if self.input_size < crate::nn::MIN_INPUT {
            return Err(format!(
                "input size {} px is too small: six conv 3×3 + pool 2×2 blocks need at least {} px",
                self.input_size,
                crate::nn::MIN_INPUT
            ));
        }
        if self.input_size > 1024 {
            return Err(format!(
                "input size {} px is too large (max 1024)",
                self.input_size
            ));
        }
        if self.batch_size == 0 {
            return Err("batch size must be at least 1".into());
        }
        if self.max_epochs == 0 {
            return Err("max epochs must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err("learning rate must be a positive number".into());
        }
        Ok(())
    }
}

/// A named experiment stored in the project: the task, the training protocol and the split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    pub name: String,
    pub task: Task,
    pub train: TrainConfig,
    /// Training images (balanced across classes).
    pub n_train: usize,
    /// Validation images for early stopping.
    pub n_val: usize,
    /// Test images; `None` = all remaining images.
    #[serde(default)]
    pub n_test: Option<usize>,
    /// Seed of this experiment (derived from the project seed unless set).
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_whose_output_has_no_image_says_which_classes_and_what_to_do() {
        let mut t = Taxonomy::default_allidb();
        let lbl = t.find("Lymphoblast").unwrap();
        let mon = t.find("Monocyte").unwrap();
        let bas = t.find("Basophil").unwrap();
        let flagged: Vec<String> = t
            .classes
            .iter()
            .filter(|c| c.positive)
            .map(|c| c.name.clone())
            .collect();
        assert!(flagged.contains(&"Lymphoblast".to_string()));
        assert!(Task::Binary.check_has_images(&t, &[lbl, mon]).is_ok());
        let e = Task::Binary.check_has_images(&t, &[mon, bas]).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "No image is in a positive class ({}).",
                flagged.join(", ")
            )),
            "{e}"
        );
        assert!(e.contains("Edit > Taxonomy, or choose two groups"), "{e}");
        let e = Task::Binary.check_has_images(&t, &[lbl]).unwrap_err();
        assert!(e.starts_with("Every image is in a positive class"), "{e}");
        let groups = Task::Groups {
            positive: vec![lbl],
            negative: vec![mon, bas],
        };
        assert!(groups.check_has_images(&t, &[lbl, bas]).is_ok());
        let e = groups.check_has_images(&t, &[lbl, lbl]).unwrap_err();
        assert!(
            e.starts_with("No image is in the negative group (Monocyte, Basophil)"),
            "{e}"
        );
        let multi = Task::Multiclass {
            classes: vec![lbl, mon, bas],
        };
        let e = multi.check_has_images(&t, &[lbl, bas]).unwrap_err();
        assert!(
            e.starts_with("No image is in the class(es) Monocyte."),
            "{e}"
        );
        for c in &mut t.classes {
            c.positive = false;
        }
        let e = Task::Binary.check_has_images(&t, &[lbl, mon]).unwrap_err();
        assert!(e.starts_with("No class is flagged positive."), "{e}");
    }

    #[test]
    fn a_class_listed_twice_or_in_both_groups_is_refused() {
        let t = Taxonomy::default_allidb();
        let lbl = t.find("Lymphoblast").unwrap();
        let mon = t.find("Monocyte").unwrap();
        let bas = t.find("Basophil").unwrap();
        let multi = |classes: Vec<ClassId>| Task::Multiclass { classes }.check(&t);
        assert!(multi(vec![lbl, mon]).is_ok());
        assert!(
            multi(vec![lbl, mon, lbl])
                .unwrap_err()
                .contains("listed twice")
        );
        let groups = |positive: Vec<ClassId>, negative: Vec<ClassId>| {
            Task::Groups { positive, negative }.check(&t)
        };
        assert!(groups(vec![lbl], vec![mon, bas]).is_ok());
        assert!(groups(vec![lbl], vec![lbl]).unwrap_err().contains("both"));
        assert!(
            groups(vec![lbl, lbl], vec![mon])
                .unwrap_err()
                .contains("twice")
        );
        assert!(Task::Binary.check(&t).is_ok());
    }
}
