//! Files written before the #13 redesign still open: the project file with its journal, an
//! experiment's model, and a sweep folder (snapshot, run records with the old status strings,
//! models). The fixture (`tests/fixtures/format-1`, see its README) was written by the
//! command line of that time; these tests read a copy of it.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use leukolens::explain::{probabilities, source};
use leukolens::project::{ImageId, Workspace};
use leukolens::sweep::design::RunKey;
use leukolens::sweep::results::score_by_size;
use leukolens::sweep::store::saved_sweeps;
use leukolens::train::RunStatus;

/// A copy of the fixture in a temporary folder; returns the folder and the project file.
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-1");
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&from, dir.path());
    let project = dir.path().join("demo.ron");
    (dir, project)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn an_old_project_opens_and_replays_its_journal() {
    let (_dir, path) = fixture();
    let ws = Workspace::open(&path).unwrap();
    let p = &ws.project;
    assert_eq!(p.images.len(), 60);
    assert_eq!(p.taxonomy.len(), 10);
    assert_eq!(p.experiments.len(), 1);
    assert_eq!(p.experiments[0].name, "exp1");
    assert_eq!(p.sweeps.len(), 1);
    assert_eq!(p.sweeps[0].name, "old sweep");
    // Two labels were saved in the file, the third only in the journal.
    assert_eq!(p.journal_seq, 3, "the journal's last entry is replayed");
    let name = |id: u32| p.taxonomy.name(p.image(ImageId(id)).unwrap().current);
    assert_eq!(name(0), "Eosinophil");
    assert_eq!(name(1), "Eosinophil");
    assert_eq!(name(2), "Basophil");
    for id in 0..3 {
        let im = p.image(ImageId(id)).unwrap();
        assert_eq!(p.taxonomy.name(im.original), "Atypical lymphocyte");
    }
    assert!(p.annotators.iter().any(|a| a == "anna"));
    assert_eq!(ws.history().unwrap().len(), 3);
    // Format 1 had no per-annotator labels: they come from the journal (the two saved lines
    // by the migration, the third by the replay), and the file is read as the current format.
    assert_eq!(p.version, leukolens::project::PROJECT_VERSION);
    let given = |id: u32| {
        p.image(ImageId(id))
            .unwrap()
            .given
            .iter()
            .map(|(who, c)| (who.clone(), p.taxonomy.name(*c)))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        given(0),
        vec![("anna".to_string(), "Eosinophil".to_string())]
    );
    assert_eq!(
        given(1),
        vec![("anna".to_string(), "Eosinophil".to_string())]
    );
    assert_eq!(given(2), vec![("ben".to_string(), "Basophil".to_string())]);
    assert!(given(3).is_empty());
}

#[test]
fn an_old_sweep_folder_is_read_whole() {
    let (_dir, path) = fixture();
    let saved = saved_sweeps(&path);
    assert_eq!(saved.len(), 1);
    let s = &saved[0];
    assert_eq!(s.name(), "old sweep");
    assert_eq!((s.done, s.total), (2, 2));
    assert!(s.is_complete());
    assert_eq!(s.snapshot.output_names.len(), 3);
    let runs = s.dir.runs();
    assert_eq!(runs.len(), 2);
    assert!(s.dir.damaged_runs().is_empty());
    for r in &runs {
        assert_eq!(r.status, RunStatus::Completed);
        assert!(!r.failed());
        assert_eq!(r.key.size, 3);
        assert!(!r.predictions.is_empty());
        assert!(r.test_weighted_f1.is_some());
    }
    let by_size = score_by_size(&runs);
    assert_eq!(by_size.len(), 1);
    assert_eq!(by_size[0].0, 3);

    // Its models load and predict three finite probabilities that sum to 1.
    let device = burn::tensor::Device::flex();
    for fold in 0..2 {
        let key = RunKey { fold, size: 3 };
        let loaded = source::load_sweep_model(&path, "old sweep", key, &device).unwrap();
        let side = s.snapshot.config.train.input_size as usize;
        let p = probabilities(&loaded.model, &vec![0.5; 3 * side * side]).unwrap();
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|v| v.is_finite()));
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
}

#[test]
fn an_old_experiment_model_loads() {
    let (_dir, path) = fixture();
    let ws = Workspace::open(&path).unwrap();
    let device = burn::tensor::Device::flex();
    let loaded = source::load_experiment_model(&ws.project, &path, "exp1", &device).unwrap();
    assert_eq!(loaded.output_names.len(), 2);
    let side = ws.project.experiments[0].train.input_size as usize;
    let p = probabilities(&loaded.model, &vec![0.25; 3 * side * side]).unwrap();
    assert_eq!(p.len(), 2);
    assert!(p.iter().all(|v| v.is_finite()));
}
