//! The sweep presets offered in the GUI (every field stays editable afterwards).

use super::config::SweepConfig;
use super::design::{SweepDesign, ValSize, default_sizes};
use crate::project::Project;
use crate::train::{Task, TrainConfig, derive_seed};

/// A named starting point for a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepPreset {
    /// Small input, 3 folds, sizes 10/20/40, short patience: minutes on 2 CPU cores.
    QuickDemo,
    /// The paper's ALL protocol: binary, 257 px, RMSprop 1e-3, batch 5, ≤ 500 epochs,
    /// patience 50, augmentation, 10 folds, sizes 10…200.
    PaperAllBinary,
    /// As ALL, with the AML images' 400 px input.
    PaperAmlBinary,
    /// The paper's multiclass protocol: Adam 1e-4, 150 per class by augmentation.
    PaperMulticlass,
}

impl SweepPreset {
    pub const ALL: [SweepPreset; 4] = [
        SweepPreset::QuickDemo,
        SweepPreset::PaperAllBinary,
        SweepPreset::PaperAmlBinary,
        SweepPreset::PaperMulticlass,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SweepPreset::QuickDemo => "Quick demo",
            SweepPreset::PaperAllBinary => "Paper ALL binary",
            SweepPreset::PaperAmlBinary => "Paper AML binary (400 px)",
            SweepPreset::PaperMulticlass => "Paper multiclass",
        }
    }

    /// The preset for `project`: seeds derive from the project's master seed; the multiclass
    /// preset uses every class that has images.
    pub fn config(self, project: &Project) -> SweepConfig {
        let seed = derive_seed(project.seed, 300);
        let paper_design = SweepDesign {
            k_folds: 10,
            val: ValSize::Count(25),
            sizes: default_sizes(),
            seed,
        };
        match self {
            SweepPreset::QuickDemo => quick_demo(project.seed),
            SweepPreset::PaperAllBinary => SweepConfig {
                name: "paper-all-binary".into(),
                task: Task::Binary,
                train: TrainConfig::paper_binary(),
                design: paper_design,
            },
            SweepPreset::PaperAmlBinary => SweepConfig {
                name: "paper-aml-binary".into(),
                task: Task::Binary,
                train: TrainConfig {
                    input_size: 400,
                    ..TrainConfig::paper_binary()
                },
                design: paper_design,
            },
            SweepPreset::PaperMulticlass => {
                let classes = project.trainable_classes();
                SweepConfig {
                    name: "paper-multiclass".into(),
                    task: Task::Multiclass { classes },
                    train: TrainConfig::paper_multiclass(),
                    design: paper_design,
                }
            }
        }
    }
}

/// The "Quick demo" sweep: binary, 190 px, 3 folds, sizes 10/20/40, ≤ 12 epochs, patience 4:
/// minutes on 2 CPU cores. Its seed derives from the project's master seed.
pub fn quick_demo(project_seed: u64) -> SweepConfig {
    SweepConfig {
        name: "quick-demo".into(),
        task: Task::Binary,
        train: TrainConfig {
            input_size: 190,
            max_epochs: 12,
            patience: 4,
            ..TrainConfig::quick()
        },
        design: SweepDesign {
            k_folds: 3,
            val: ValSize::Count(10),
            sizes: vec![10, 20, 40],
            seed: derive_seed(project_seed, 300),
        },
    }
}

/// Parses "10, 20, 40" or "10..200 step 10" / "10-200/10" into sizes.
pub fn parse_sizes(text: &str) -> Result<Vec<usize>, String> {
    let t = text.trim();
    let range = t
        .split_once("..")
        .or_else(|| t.split_once('-'))
        .map(|(a, rest)| {
            let (b, step) = rest
                .split_once("step")
                .or_else(|| rest.split_once('/'))
                .unwrap_or((rest, "10"));
            (a.trim(), b.trim(), step.trim())
        });
    let num = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| format!("\"{s}\" is not a whole number"))
    };
    let mut v = if let Some((a, b, step)) = range {
        let (a, b, step) = (num(a)?, num(b)?, num(step)?);
        if step == 0 || a > b {
            return Err("a range needs start ≤ end and a step above 0".into());
        }
        (a..=b).step_by(step).collect::<Vec<_>>()
    } else {
        t.split([',', ' ', ';'])
            .filter(|s| !s.is_empty())
            .map(num)
            .collect::<Result<Vec<_>, _>>()?
    };
    v.sort_unstable();
    v.dedup();
    if v.is_empty() || v[0] == 0 {
        return Err("give at least one training size above 0".into());
    }
    Ok(v)
}

/// Writes sizes back as text (a step range when they are evenly spaced).
pub fn format_sizes(sizes: &[usize]) -> String {
    if sizes.len() >= 4 {
        let step = sizes[1] - sizes[0];
        if step > 0 && sizes.windows(2).all(|w| w[1] - w[0] == step) {
            return format!("{}..{} step {step}", sizes[0], sizes[sizes.len() - 1]);
        }
    }
    sizes
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_lists_and_ranges_and_round_trip() {
        assert_eq!(parse_sizes("10, 20,40").unwrap(), vec![10, 20, 40]);
        assert_eq!(parse_sizes("10..50 step 20").unwrap(), vec![10, 30, 50]);
        assert_eq!(parse_sizes("10-200/10").unwrap(), default_sizes());
        assert!(parse_sizes("ten").is_err());
        assert!(parse_sizes("0, 10").is_err());
        assert!(parse_sizes("").is_err());
        for s in [default_sizes(), vec![10, 20, 40]] {
            assert_eq!(parse_sizes(&format_sizes(&s)).unwrap(), s);
        }
    }

    #[test]
    fn presets_follow_the_paper() {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::demo::create_demo_project(dir.path(), 6, 64, 7).unwrap();
        let p = crate::project::Workspace::open(&path).unwrap().project;
        let all = SweepPreset::PaperAllBinary.config(&p);
        assert_eq!(all.train.input_size, 257);
        assert_eq!(all.design.k_folds, 10);
        assert_eq!(all.design.sizes.first(), Some(&10));
        assert_eq!(all.design.sizes.last(), Some(&200));
        assert_eq!(SweepPreset::PaperAmlBinary.config(&p).train.input_size, 400);
        let mc = SweepPreset::PaperMulticlass.config(&p);
        assert_eq!(mc.train.learning_rate, 1e-4);
        assert!(matches!(mc.task, Task::Multiclass { ref classes } if classes.len() >= 2));
        assert_eq!(
            SweepPreset::QuickDemo.config(&p).design.seed,
            all.design.seed
        );
    }
}
