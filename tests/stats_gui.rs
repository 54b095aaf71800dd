//! The statistics panel's agreement between annotators, as a user sees it (egui_kittest; no
//! GPU, no display): two annotators' stored labels give Cohen's kappa, computed here from the
//! counts with the textbook formula; a third annotator brings Fleiss' kappa and the choice of
//! the pair.
#![allow(clippy::unwrap_used)]
#![cfg(feature = "gui")]

mod common;

use std::path::{Path, PathBuf};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use leukolens::project::Workspace;
use leukolens::ui::{LeukoApp, Settings};

const CLASSES: [&str; 3] = ["Lymphoblast", "Segmented neutrophil", "Monocyte"];

/// Anna's and Ben's classes (indices into `CLASSES`) of twelve images: they differ on four.
fn ratings() -> (Vec<usize>, Vec<usize>) {
    let anna: Vec<usize> = (0..12).map(|i| i % 3).collect();
    let ben = anna
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            if [1, 5, 9, 10].contains(&i) {
                (a + 1) % 3
            } else {
                a
            }
        })
        .collect();
    (anna, ben)
}

/// A demo project in which each annotator labelled the first twelve images (and, with
/// `cleo`, a third annotator the first six), saved.
fn project(dir: &Path, cleo: bool) -> PathBuf {
    let path = leukolens::demo::create_demo_project(&dir.join("demo"), 4, 32, 3).unwrap();
    let mut ws = Workspace::open(&path).unwrap();
    let classes: Vec<_> = CLASSES
        .iter()
        .map(|n| ws.project.taxonomy.find(n).unwrap())
        .collect();
    let ids: Vec<_> = ws.project.images.iter().take(12).map(|im| im.id).collect();
    let (anna, ben) = ratings();
    for (who, given) in [("anna", &anna), ("ben", &ben)] {
        for (id, &c) in ids.iter().zip(given) {
            ws.set_labels(&[*id], classes[c], who).unwrap();
        }
    }
    if cleo {
        for id in &ids[0..6] {
            ws.set_labels(&[*id], classes[0], "cleo").unwrap();
        }
    }
    ws.save().unwrap();
    path
}

fn harness(path: &Path) -> Harness<'static, LeukoApp> {
    let settings = Settings {
        annotator: Some("tester".into()),
        thumb_size: 64.0,
        ..Default::default()
    };
    let mut h = common::harness_with(path, settings, [1400.0, 1600.0]);
    h.run_steps(4);
    h
}

/// Cohen's kappa from the 3 × 3 table of counts: (p_o − p_e) / (1 − p_e), with p_o the share
/// on the diagonal and p_e the sum over classes of the product of the two marginal shares.
fn textbook_cohen(a: &[usize], b: &[usize]) -> f64 {
    let mut table = [[0usize; 3]; 3];
    for (&x, &y) in a.iter().zip(b) {
        table[x][y] += 1;
    }
    let n = a.len() as f64;
    let p_o = (0..3).map(|k| table[k][k]).sum::<usize>() as f64 / n;
    let p_e = (0..3)
        .map(|k| {
            let row: usize = table[k].iter().sum();
            let col: usize = table.iter().map(|r| r[k]).sum();
            row as f64 * col as f64 / (n * n)
        })
        .sum::<f64>();
    (p_o - p_e) / (1.0 - p_e)
}

#[test]
fn the_statistics_panel_shows_cohens_kappa_of_two_annotators() {
    let dir = tempfile::tempdir().unwrap();
    let path = project(dir.path(), false);
    let h = harness(&path);
    let (anna, ben) = ratings();
    let kappa = textbook_cohen(&anna, &ben);
    assert!(kappa > 0.0 && kappa < 1.0, "{kappa}");
    let line = format!("Cohen's kappa {kappa:.3} (anna, ben; 12 images labelled by all");
    assert!(h.query_by_label_contains(&line).is_some(), "no {line:?}");
    // The matrix: rows anna, columns ben, a kappa per class.
    assert!(h.query_by_label("anna \\ ben").is_some());
    assert!(h.query_by_label("kappa").is_some());
    // With two annotators there is nothing to choose and no Fleiss' kappa.
    assert!(h.query_by_label("compare").is_none());
    assert!(h.query_by_label_contains("Fleiss' kappa").is_none());
}

#[test]
fn with_three_annotators_the_panel_adds_fleiss_kappa_and_a_choice_of_the_pair() {
    let dir = tempfile::tempdir().unwrap();
    let path = project(dir.path(), true);
    let mut h = harness(&path);
    assert!(
        h.query_by_label_contains("Fleiss' kappa").is_some(),
        "Fleiss' kappa of all three (on the six images all labelled)"
    );
    assert!(
        h.query_by_label_contains("anna, ben, cleo; 6 images")
            .is_some()
    );
    assert!(h.query_by_label("compare").is_some());
    assert!(h.query_by_label("rows").is_some() && h.query_by_label("columns").is_some());
    // The first two by default.
    let (anna, ben) = ratings();
    let line = format!(
        "Cohen's kappa {:.3} (anna, ben;",
        textbook_cohen(&anna, &ben)
    );
    assert!(h.query_by_label_contains(&line).is_some(), "no {line:?}");
    // Comparing Anna with Cleo instead: the six images both labelled.
    h.get_by_label("columns").click();
    h.run_steps(2);
    h.get_by_label("cleo").click();
    h.run_steps(3);
    let cleo = [0usize; 6];
    let line = format!(
        "Cohen's kappa {:.3} (anna, cleo; 6 images",
        textbook_cohen(&anna[..6], &cleo)
    );
    assert!(h.query_by_label_contains(&line).is_some(), "no {line:?}");
    assert!(h.query_by_label("anna \\ cleo").is_some());
}
