//! `leukolens demo`: the synthetic demo project, and optionally a first network trained on it.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use super::args::{Preset, TaskArg, TaskArgs};
use super::train::TrainArgs;
use crate::backend::BackendChoice;
use crate::demo;

/// What `leukolens demo` was asked for.
pub(crate) struct DemoArgs<'a> {
    pub(crate) output: &'a Path,
    pub(crate) per_class: usize,
    pub(crate) size: u32,
    pub(crate) seed: u64,
    pub(crate) force: bool,
    /// Then train a lymphoblast-vs-lymphocytes network on it.
    pub(crate) train: bool,
    pub(crate) backend: BackendChoice,
}

/// Generates the demo project under `a.output` (unless it exists), then trains if asked.
pub(crate) fn run(a: DemoArgs) -> Result<()> {
    let project_path = a.output.join("demo.ron");
    if project_path.exists() && !a.force {
        println!(
            "{} exists; using it (--force regenerates)",
            project_path.display()
        );
    } else {
        let started = Instant::now();
        let existed = project_path.exists();
        demo::create_demo_project(a.output, a.per_class, a.size, a.seed)
            .map_err(anyhow::Error::msg)?;
        if existed {
            println!(
                "the previous project is kept as {} (its journal as {})",
                crate::project::backup_path(&project_path).display(),
                crate::project::backup_path(&crate::project::Journal::path_for(&project_path))
                    .display()
            );
        }
        let (per_class, size) = (a.per_class, a.size);
        let n = per_class * demo::DEMO_CLASSES.len();
        println!(
            "generated {n} synthetic cells ({per_class} per class, {size} px) and {} in {:.1} s",
            project_path.display(),
            started.elapsed().as_secs_f64()
        );
    }
    if a.train {
        super::train::run(first_training(project_path, a.backend))?;
    }
    Ok(())
}

/// `demo --train`: a quick lymphoblast-vs-lymphocytes network, saved as the experiment "demo".
fn first_training(project: std::path::PathBuf, backend: BackendChoice) -> TrainArgs {
    TrainArgs {
        project,
        experiment: None,
        task: TaskArgs {
            task: Some(TaskArg::Groups),
            classes: Vec::new(),
            positive: vec!["Lymphoblast".to_string()],
            negative: vec!["Typical lymphocyte".into(), "Atypical lymphocyte".into()],
        },
        preset: Preset::Quick,
        n_train: 20,
        n_val: 20,
        n_test: None,
        input_size: None,
        epochs: None,
        patience: None,
        batch_size: None,
        lr: None,
        no_augment: false,
        seed: None,
        backend,
        // Saved, so that `leukolens explain <project> --experiment demo …` works next; the
        // demo's own experiment is replaced when `demo --train` runs again.
        save_as: Some("demo".into()),
        force: true,
    }
}
