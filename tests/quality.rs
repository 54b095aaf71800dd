//! Confident learning against reference outputs of the Python `cleanlab` package (fixtures in
//! `tests/fixtures/cleanlab/`, made by `generate.py` there), and the audit on demo data.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use leukolens::quality::confident::{Filter, Rank, find_label_issues, find_label_issues_by};
use serde::Deserialize;

#[derive(Deserialize)]
struct Expected {
    thresholds: Vec<f64>,
    confident_joint_raw: Vec<Vec<usize>>,
    confident_joint: Vec<Vec<usize>>,
    num_issues_off_diagonal: usize,
    num_issues_calibrated: usize,
    issues_self_confidence: Vec<usize>,
    issues_normalized_margin: Vec<usize>,
    low_self_confidence: Vec<usize>,
    low_normalized_margin: Vec<usize>,
}

fn fixture(name: &str) -> (Vec<usize>, Vec<Vec<f64>>, Expected) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cleanlab");
    let text = std::fs::read_to_string(dir.join(format!("{name}.csv"))).unwrap();
    let mut labels = Vec::new();
    let mut probs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split(',');
        labels.push(fields.next().unwrap().parse().unwrap());
        probs.push(fields.map(|f| f.parse().unwrap()).collect());
    }
    let expected = std::fs::read_to_string(dir.join(format!("{name}.expected.ron"))).unwrap();
    (labels, probs, ron::from_str(&expected).unwrap())
}

#[test]
fn confident_learning_finds_cleanlabs_issues_in_cleanlabs_order() {
    for name in [
        "three_classes",
        "four_imbalanced",
        "binary",
        "five_sharp",
        "tiny_class",
    ] {
        let (labels, probs, want) = fixture(name);
        let by = |rank, filter| find_label_issues_by(&labels, &probs, rank, filter).unwrap();
        let order = |found: &leukolens::quality::confident::LabelIssues| -> Vec<usize> {
            found.ranked.iter().map(|i| i.index).collect()
        };
        let sc = by(Rank::SelfConfidence, Filter::PruneByNoiseRate);
        for (got, want) in sc.thresholds.iter().zip(&want.thresholds) {
            assert!(
                (got - want).abs() < 1e-12,
                "{name}: threshold {got} vs {want}"
            );
        }
        assert_eq!(sc.confident_joint_raw, want.confident_joint_raw, "{name}");
        assert_eq!(sc.confident_joint, want.confident_joint, "{name}");
        assert_eq!(
            sc.off_diagonal_issues, want.num_issues_off_diagonal,
            "{name}"
        );
        assert_eq!(sc.estimated_issues, want.num_issues_calibrated, "{name}");
        assert_eq!(
            order(&sc),
            want.issues_self_confidence,
            "{name}: self-confidence"
        );
        let nm = by(Rank::NormalizedMargin, Filter::PruneByNoiseRate);
        assert_eq!(
            order(&nm),
            want.issues_normalized_margin,
            "{name}: normalized margin"
        );
        let low_sc = by(Rank::SelfConfidence, Filter::LowestScores);
        assert_eq!(
            order(&low_sc),
            want.low_self_confidence,
            "{name}: low self-confidence"
        );
        assert_eq!(low_sc.ranked.len(), want.num_issues_off_diagonal, "{name}");
        let low_nm = by(Rank::NormalizedMargin, Filter::LowestScores);
        assert_eq!(
            order(&low_nm),
            want.low_normalized_margin,
            "{name}: low normalized margin"
        );
        let plain = find_label_issues(&labels, &probs, Rank::SelfConfidence).unwrap();
        assert_eq!(plain, by(Rank::SelfConfidence, Filter::default()), "{name}");
        for issue in sc.ranked.iter().chain(&low_sc.ranked) {
            assert_ne!(issue.suggested, issue.given, "{name}");
            assert_eq!(issue.probability, probs[issue.index][issue.suggested]);
            let best_other = (0..probs[issue.index].len())
                .filter(|&j| j != issue.given)
                .map(|j| probs[issue.index][j])
                .fold(f64::MIN, f64::max);
            assert_eq!(issue.probability, best_other, "{name}");
        }
    }
}

use leukolens::backend::Backend;
use leukolens::project::Workspace;
use leukolens::quality::annotators::{agreement, annotator_labels, confirm_labels};
use leukolens::quality::audit::{AuditRequest, audit_config, read_audit};
use leukolens::quality::noise::{NoiseBench, run_noise_bench};
use leukolens::quality::suspects::suspects;
use leukolens::sweep::run::RunOptions;
use leukolens::train::{Task, TrainConfig};

/// A demo project (10 classes × `per_class`, 64 px) opened as a workspace.
fn demo(dir: &Path, per_class: usize) -> Workspace {
    let path = leukolens::demo::create_demo_project(dir, per_class, 64, 3).unwrap();
    Workspace::open(&path).unwrap()
}

/// Lymphoblast vs segmented neutrophil.
fn two_groups(ws: &Workspace) -> Task {
    let t = &ws.project.taxonomy;
    Task::Groups {
        positive: vec![t.find("Lymphoblast").unwrap()],
        negative: vec![t.find("Segmented neutrophil").unwrap()],
    }
}

/// A small, quick audit request.
fn request(name: &str, task: Option<Task>, k: usize, epochs: usize) -> AuditRequest {
    AuditRequest {
        name: name.into(),
        task,
        train: TrainConfig {
            input_size: 190,
            max_epochs: epochs,
            patience: epochs,
            ..TrainConfig::quick()
        },
        k_folds: k,
        n_val: 4,
        seed: 11,
    }
}

#[test]
fn an_audit_of_one_class_or_of_too_small_classes_is_an_error_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let ws = demo(dir.path(), 4);
    let t = &ws.project.taxonomy;
    // Every class has 4 images: 5 folds are too many, and every class is named.
    let err = audit_config(&ws.project, &request("a", None, 5, 1)).unwrap_err();
    assert!(err.starts_with("classes too small for 5 folds"), "{err}");
    assert!(err.contains("\"Lymphoblast\" (4 images)"), "{err}");
    assert!(err.contains("\"Segmented neutrophil\" (4 images)"), "{err}");
    // One class with images.
    let mut p = ws.project.clone();
    let lymphoblast = t.find("Lymphoblast").unwrap();
    p.images.retain(|im| im.current == lymphoblast);
    let err = audit_config(&p, &request("a", None, 2, 1)).unwrap_err();
    assert_eq!(
        err,
        "an audit needs images of at least two classes; the project has only \"Lymphoblast\""
    );
    // Four folds fit: the one training size is the smallest fold's whole pool.
    let c = audit_config(&ws.project, &request("a", Some(two_groups(&ws)), 4, 1)).unwrap();
    assert_eq!(c.design.k_folds, 4);
    // 8 images, 2 tested per fold, 4 validation → 2 left to train on in every fold.
    assert_eq!(c.design.sizes, vec![2]);
}

#[test]
fn an_audit_tests_every_image_once_and_its_fold_models_give_pre_labels() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = demo(dir.path(), 10);
    let task = two_groups(&ws);
    let req = request("audit", Some(task.clone()), 4, 8);
    let started = leukolens::sweep::start(&mut ws, "audit", |p| audit_config(p, &req)).unwrap();
    assert!(!started.resumed);
    // Before any fold ran, the audit says it is unfinished.
    let err = suspects(
        &ws.project,
        &ws.path,
        "audit",
        Rank::SelfConfidence,
        Filter::default(),
    )
    .unwrap_err();
    assert!(err.contains("not finished"), "{err}");
    let no = std::sync::atomic::AtomicBool::new(false);
    let records = leukolens::sweep::run::run_sweep(
        &ws.project,
        &ws.path,
        &started.config,
        &mut Backend::cpu(),
        &RunOptions::default(),
        &no,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(records.len(), 4, "one run per fold");
    let results = read_audit(&ws.path, "audit").unwrap();
    assert_eq!(results.snapshot.images.len(), 20);
    // Each image has exactly one out-of-fold prediction, by the fold that tested it.
    let mut tested: Vec<_> = records
        .iter()
        .flat_map(|r| r.predictions.iter().map(|p| p.0))
        .collect();
    tested.sort();
    let mut all = results.snapshot.images.clone();
    all.sort();
    assert_eq!(tested, all);
    assert!(results.probabilities.iter().all(|p| p.len() == 2));

    // The folds' models give pre-labels (`leukolens predict`), stored beside the project.
    {
        use leukolens::quality::predict::*;
        let key = leukolens::sweep::RunKey {
            fold: 0,
            size: started.config.design.sizes[0],
        };
        let dev = burn::tensor::Device::flex();
        let model =
            leukolens::explain::source::load_sweep_model(&ws.path, "audit", key, &dev).unwrap();
        let images = chosen_images(&ws.project, Only::Unreviewed).unwrap();
        assert_eq!(
            images.len(),
            ws.project.images.len(),
            "nobody reviewed anything"
        );
        let e = chosen_images(&ws.project, Only::Unlabelled).unwrap_err();
        assert!(e.contains("no class \"Unlabelled\""), "{e}");
        // Cells in the "Unlabelled" class: `--only unlabelled` chooses exactly them, and the
        // fold's network pre-labels them.
        let mut with_unlabelled = ws.project.clone();
        let u = with_unlabelled.taxonomy.ensure_unlabelled();
        let moved = [images[3], images[7], images[11]];
        for im in &mut with_unlabelled.images {
            if moved.contains(&im.id) {
                im.current = u;
            }
        }
        let chosen = chosen_images(&with_unlabelled, Only::Unlabelled).unwrap();
        assert_eq!(chosen, moved);
        let (s, failed) = predict(&with_unlabelled, &ws.path, &model, &chosen).unwrap();
        assert!(failed.is_empty());
        let predicted: Vec<_> = s.suggestions.iter().map(|x| x.image).collect();
        assert_eq!(predicted, moved);
        let (s, failed) = predict(&ws.project, &ws.path, &model, &images[..12]).unwrap();
        assert!(failed.is_empty());
        assert_eq!(s.suggestions.len(), 12);
        for x in &s.suggestions {
            assert!(
                ["Lymphoblast", "Segmented neutrophil"].contains(&x.output.as_str()),
                "{x:?}"
            );
            assert!((0.5..=1.0).contains(&x.probability), "{x:?}");
            // The label it had then, for telling later whether it was relabelled since.
            let now = ws.project.image(x.image).map(|im| im.current);
            assert_eq!(x.label, now, "{x:?}");
            // Two outputs: the margin is p - (1 - p).
            let m = x.margin.unwrap();
            assert!((m - (2.0 * x.probability - 1.0)).abs() < 1e-4, "{x:?}");
        }
        save_suggestions(&ws.path, &s).unwrap();
        assert_eq!(load_suggestions(&ws.path).unwrap(), Some(s));
    }
    let list = suspects(
        &ws.project,
        &ws.path,
        "audit",
        Rank::SelfConfidence,
        Filter::default(),
    )
    .unwrap();
    assert_eq!(list.images, 20);
    assert!(
        list.suspects
            .iter()
            .all(|s| !s.stale && s.given != s.suggested)
    );
    assert!(
        list.suspects
            .iter()
            .enumerate()
            .all(|(i, s)| s.rank == i + 1)
    );
}

/// An audit whose out-of-fold probabilities are written by hand (one run record): two images
/// of the first two classes look like the next class. Returns them.
fn hand_made_audit(ws: &Workspace) -> Vec<leukolens::project::ImageId> {
    hand_made_audit_with(ws, leukolens::train::RunStatus::Completed)
}

/// [`hand_made_audit`] whose one run ended with `status`.
fn hand_made_audit_with(
    ws: &Workspace,
    status: leukolens::train::RunStatus,
) -> Vec<leukolens::project::ImageId> {
    use leukolens::sweep::config::RunRecord;
    use leukolens::sweep::design::{RunKey, SweepDesign, ValSize};
    let t = ws.project.taxonomy.clone();
    let classes: Vec<_> = ["Lymphoblast", "Segmented neutrophil", "Monocyte"]
        .iter()
        .map(|n| t.find(n).unwrap())
        .collect();
    let config = leukolens::sweep::SweepConfig {
        name: "hand".into(),
        task: Task::Multiclass { classes },
        train: TrainConfig::quick(),
        design: SweepDesign {
            k_folds: 2,
            val: ValSize::Count(1),
            sizes: vec![6],
            seed: 1,
        },
    };
    let snap = leukolens::sweep::start::take_snapshot(&ws.project, &config).unwrap();
    let dir = leukolens::sweep::SweepDir::of(&ws.path, "hand");
    dir.create().unwrap();
    dir.write_snapshot(&snap).unwrap();
    let mut wrong: Vec<(leukolens::project::ImageId, usize)> = Vec::new();
    let mut predictions = Vec::new();
    for (&id, &target) in snap.images.iter().zip(&snap.targets) {
        let mut p = vec![0.1f32; 3];
        if target < 2 && !wrong.iter().any(|w| w.1 == target) {
            wrong.push((id, target));
            p[target] = 0.05;
            p[target + 1] = 0.9;
        } else {
            p[target] = 0.8;
        }
        predictions.push((id, target, p));
    }
    let record = RunRecord {
        key: RunKey { fold: 0, size: 6 },
        status,
        collapsed: false,
        epochs: 1,
        best_epoch: 1,
        train_loss: vec![],
        val_loss: vec![],
        test_auc: None,
        test_accuracy: None,
        test_weighted_f1: None,
        predictions,
        device: "test".into(),
        seconds: 0.0,
        snapshot_digest: Some(snap.digest()),
    };
    dir.write_run(&record, None).unwrap();
    wrong.into_iter().map(|w| w.0).collect()
}

#[test]
fn suspects_name_the_suggested_class_and_a_relabelled_one_is_stale_and_refused() {
    use leukolens::quality::suspects::accept_suggestion;
    let dir = tempfile::tempdir().unwrap();
    let mut ws = demo(dir.path(), 8);
    let wrong = hand_made_audit(&ws);
    let list = suspects(
        &ws.project,
        &ws.path,
        "hand",
        Rank::SelfConfidence,
        Filter::default(),
    )
    .unwrap();
    let mut flagged: Vec<_> = list.suspects.iter().map(|s| s.image).collect();
    flagged.sort();
    let mut want = wrong.clone();
    want.sort();
    assert_eq!(flagged, want);
    // Equal self-confidence (0.05): ties by position in the audit.
    assert_eq!(list.suspects[0].image, wrong[0]);
    let first = list.suspects[0].clone();
    assert_eq!(
        (
            first.given.as_str(),
            first.suggested.as_str(),
            first.probability
        ),
        ("Lymphoblast", "Segmented neutrophil", 0.9f32 as f64)
    );
    assert_eq!(
        first.suggested_class,
        ws.project.taxonomy.find("Segmented neutrophil")
    );
    assert!(list.suspects.iter().all(|s| !s.stale));
    // Relabelled after the audit: stale, and accepting it is refused without a journal line.
    let mono = ws.project.taxonomy.find("Monocyte").unwrap();
    ws.set_labels(&[first.image], mono, "anna").unwrap();
    let again = suspects(
        &ws.project,
        &ws.path,
        "hand",
        Rank::SelfConfidence,
        Filter::default(),
    )
    .unwrap();
    let s = again
        .suspects
        .iter()
        .find(|s| s.image == first.image)
        .unwrap();
    assert!(s.stale);
    let lines = ws.history().unwrap().len();
    let e = accept_suggestion(&mut ws, "hand", s, "anna").unwrap_err();
    assert!(e.contains("stale"), "{e}");
    // Even with a stale flag computed before the relabel, the label itself is checked.
    let e = accept_suggestion(&mut ws, "hand", &first, "anna").unwrap_err();
    assert!(e.contains("stale"), "{e}");
    assert_eq!(ws.history().unwrap().len(), lines);
    assert_eq!(ws.project.image(first.image).unwrap().current, mono);
}

/// Confirmed (`x`), accepted and relabelled images leave the Likely-mislabelled and Label next
/// queues for good: the queues come from the journal and the reviewed flags, so reopening the
/// project does not bring them back.
#[test]
fn handled_suspects_stay_out_of_the_queues_after_reopening() {
    use leukolens::quality::suspects::{
        accept_suggestion, handled_since_audit, label_next, open_suspects, rank_suspects,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut ws = demo(dir.path(), 6);
    let wrong = hand_made_audit(&ws);
    let queues = |ws: &Workspace| {
        let results = read_audit(&ws.path, "hand").unwrap();
        let list = rank_suspects(
            &ws.project,
            &results,
            "hand",
            Rank::SelfConfidence,
            Filter::default(),
        )
        .unwrap();
        let handled = handled_since_audit(&ws.project, &results, &ws.history().unwrap());
        let open: Vec<_> = open_suspects(&list, &handled)
            .iter()
            .map(|s| s.image)
            .collect();
        let next: Vec<_> = label_next(&ws.project, &results)
            .iter()
            .map(|l| l.0)
            .collect();
        (open, next)
    };
    let (open, next) = queues(&ws);
    assert_eq!(open.len(), 2);
    assert!(wrong.iter().all(|w| open.contains(w) && next.contains(w)));
    // One confirmed as it is; the other relabelled and set back (not stale, but handled).
    confirm_labels(&mut ws, &wrong[..1], "anna").unwrap();
    let given = ws.project.image(wrong[1]).unwrap().current;
    let mono = ws.project.taxonomy.find("Monocyte").unwrap();
    ws.set_labels(&wrong[1..], mono, "anna").unwrap();
    ws.set_labels(&wrong[1..], given, "anna").unwrap();
    // A third image of the audit, accepted as suggested (a suspect made by hand).
    let results = read_audit(&ws.path, "hand").unwrap();
    let list = rank_suspects(
        &ws.project,
        &results,
        "hand",
        Rank::SelfConfidence,
        Filter::default(),
    )
    .unwrap();
    let mut third = list.suspects[0].clone();
    let other = results
        .snapshot
        .images
        .iter()
        .copied()
        .find(|id| !wrong.contains(id))
        .unwrap();
    third.image = other;
    third.given = ws
        .project
        .taxonomy
        .name(ws.project.image(other).unwrap().current);
    accept_suggestion(&mut ws, "hand", &third, "anna").unwrap();
    let path = ws.path.clone();
    drop(ws);
    let ws = Workspace::open(&path).unwrap();
    let (open, next) = queues(&ws);
    assert!(open.is_empty(), "{open:?}");
    for id in wrong.iter().chain([&other]) {
        assert!(!next.contains(id), "{id:?} back in Label next");
    }
    assert_eq!(
        next.len(),
        read_audit(&path, "hand").unwrap().snapshot.images.len() - 3
    );
}

#[test]
fn annotator_labels_and_kappa_come_from_the_stored_labels() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = demo(dir.path(), 2);
    let t = ws.project.taxonomy.clone();
    let (lymph, mono) = (
        t.find("Typical lymphocyte").unwrap(),
        t.find("Monocyte").unwrap(),
    );
    let ids: Vec<_> = ws
        .project
        .images
        .iter()
        .filter(|im| im.current != lymph && im.current != mono)
        .map(|im| im.id)
        .take(4)
        .collect();
    // Anna labels images 0–3 lymphocyte; Ben confirms 0 and 1 as they are now, 2 and 3 monocyte.
    ws.set_labels(&ids[0..4], lymph, "anna").unwrap();
    confirm_labels(&mut ws, &ids[0..2], "ben").unwrap();
    ws.set_labels(&ids[2..4], mono, "ben").unwrap();
    let labels = annotator_labels(&ws.project);
    assert_eq!(labels["anna"].len(), 4);
    assert_eq!(labels["ben"][&ids[0]], lymph);
    assert_eq!(labels["ben"][&ids[3]], mono);
    // The current label stays the consensus (last change): monocyte for 2 and 3.
    assert_eq!(ws.project.image(ids[2]).unwrap().current, mono);
    let r = agreement(&ws.project, &[]).unwrap();
    assert_eq!(r.annotators, vec!["anna".to_string(), "ben".to_string()]);
    assert_eq!(r.agreement.items, 4);
    // 2 of 4 agree; anna all lymphocyte → chance agreement 1·0.5: κ = (0.5 − 0.5) / 0.5 = 0.
    assert_eq!(
        r.class_names,
        vec!["Typical lymphocyte".to_string(), "Monocyte".to_string()]
    );
    assert_eq!(r.agreement.matrix, vec![vec![2, 2], vec![0, 0]]);
    assert_eq!(r.agreement.kappa, Some(0.0));
    assert_eq!(r.disagreements, vec![ids[2], ids[3]]);
    // Against the dataset's labels; unknown and single annotators are errors in words.
    assert!(agreement(&ws.project, &["anna".into(), "original".into()]).is_ok());
    let e = agreement(&ws.project, &["anna".into(), "zoe".into()]).unwrap_err();
    assert!(e.contains("no labels by \"zoe\""), "{e}");
    let e = agreement(&ws.project, &["anna".into()]).unwrap_err();
    assert!(e.contains("needs two annotators"), "{e}");
    // `leukolens agreement` reads the same stored labels once saved, while this workspace
    // still holds the project (it only reads).
    ws.save().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leukolens"))
        .args([
            "agreement",
            ws.path.to_str().unwrap(),
            "--annotators",
            "anna,ben",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("annotators: anna, ben"), "{text}");
    assert!(
        text.contains(
            "4 images labelled by all · observed agreement 0.500 · chance 0.500 · \
                       Cohen's κ 0.000"
        ),
        "{text}"
    );
    assert!(text.contains("2 images labelled differently"), "{text}");
}

/// Demo data, lymphoblast vs neutrophil, 10 % of the labels flipped: the audit finds them.
#[test]
fn an_audit_of_demo_data_finds_flipped_labels() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = demo(dir.path(), 30);
    let task = two_groups(&ws);
    let bench = NoiseBench {
        name: "noise".into(),
        task: Some(task),
        fraction: 0.1,
        seed: 5,
        train: TrainConfig {
            input_size: 190,
            max_epochs: 8,
            patience: 8,
            // As audits run by default: each image tested on its eight views.
            test_views: true,
            ..TrainConfig::quick()
        },
        k_folds: 4,
        n_val: 6,
        options: RunOptions::default(),
        filter: Filter::default(),
    };
    let report = run_noise_bench(&mut ws, &bench, &mut Backend::cpu(), &mut |_| {}).unwrap();
    let f = &report.figures;
    println!("{f:?} in {:.1} s", report.seconds);
    assert_eq!((f.images, f.flipped), (60, 6));
    assert!(f.recall >= 0.8, "{f:?}");
    assert!(f.precision >= 0.8, "{f:?}");
    assert!(f.auc.unwrap() >= 0.9, "{f:?}");
}

#[test]
fn an_accepted_suggestion_is_a_journaled_change_naming_the_audit_and_stale_ones_are_refused() {
    use leukolens::quality::suspects::{Suspect, accept_suggestion};
    let dir = tempfile::tempdir().unwrap();
    let mut ws = demo(dir.path(), 2);
    let mono = ws.project.taxonomy.find("Monocyte").unwrap();
    let im = ws
        .project
        .images
        .iter()
        .find(|im| im.current != mono)
        .unwrap()
        .clone();
    let mut suspect = Suspect {
        rank: 1,
        image: im.id,
        path: im.path.clone(),
        given: ws.project.taxonomy.name(im.current),
        suggested: "Monocyte".into(),
        suggested_class: Some(mono),
        probability: 0.9,
        score: 0.05,
        stale: true,
    };
    let e = accept_suggestion(&mut ws, "a1", &suspect, "anna").unwrap_err();
    assert!(e.contains("stale"), "{e}");
    suspect.stale = false;
    suspect.suggested_class = None;
    let e = accept_suggestion(&mut ws, "a1", &suspect, "anna").unwrap_err();
    assert!(e.contains("not a class"), "{e}");
    assert!(ws.history().unwrap().is_empty(), "refusals journal nothing");
    suspect.suggested_class = Some(mono);
    let change = accept_suggestion(&mut ws, "a1", &suspect, "anna").unwrap();
    assert_eq!((change.old, change.new), (im.current, mono));
    assert_eq!(ws.project.image(im.id).unwrap().current, mono);
    let h = ws.history().unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].source.as_deref(), Some("audit a1"));
    // The line on disk carries the source; a line without it (older journals) still reads.
    let text = std::fs::read_to_string(leukolens::project::Journal::path_for(&ws.path)).unwrap();
    assert!(text.contains("source:Some(\"audit a1\")"), "{text}");
    let path = ws.path.clone();
    drop(ws);
    let ws = Workspace::open(&path).unwrap();
    assert_eq!(ws.project.image(im.id).unwrap().current, mono);
    // Undo is an ordinary change back.
    let mut ws = ws;
    let mut undo = leukolens::project::undo::UndoStack::default();
    undo.push(vec![change]);
    undo.undo(&mut ws, "anna").unwrap();
    assert_eq!(ws.project.image(im.id).unwrap().current, im.current);
}

/// PBC (CC BY 4.0), typical lymphocytes vs neutrophils, 10 % of the labels flipped (seeded): the
/// audit flags at least 80 % of them with precision ≥ 80 %. Skips when `../shared/data/pbc` is
/// absent.
#[test]
fn an_audit_of_pbc_lymphocytes_vs_neutrophils_finds_flipped_labels() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pbc");
    if !root.join("lymphocyte").is_dir() {
        eprintln!("skipped: {} not present", root.display());
        return;
    }
    let out = leukolens::dataset::import(
        &root,
        Some(leukolens::dataset::Layout::Pbc),
        leukolens::taxonomy::Taxonomy::default_allidb(),
        &|_, _| {},
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pbc.ron");
    let mut project = leukolens::project::Project::from_import("pbc", &path, &out, 7);
    project.dataset_root = root.canonicalize().unwrap().to_string_lossy().into_owned();
    let t = project.taxonomy.clone();
    let mut ws = Workspace::create(&path, project).unwrap();
    let task = Task::Groups {
        positive: vec![t.find("Typical lymphocyte").unwrap()],
        negative: [
            "Segmented neutrophil",
            "Band neutrophil",
            "Neutrophil (unspecified)",
        ]
        .iter()
        .map(|n| t.find(n).unwrap())
        .collect(),
    };
    let bench = NoiseBench {
        name: "noise".into(),
        task: Some(task),
        fraction: 0.1,
        seed: 3,
        train: TrainConfig {
            input_size: 193,
            max_epochs: 12,
            patience: 4,
            // As audits run by default: each image tested on its eight views.
            test_views: true,
            ..TrainConfig::quick()
        },
        k_folds: 5,
        n_val: 20,
        options: RunOptions::default(),
        filter: Filter::default(),
    };
    let report = run_noise_bench(&mut ws, &bench, &mut Backend::cpu(), &mut |_| {}).unwrap();
    let f = &report.figures;
    println!("{f:?} in {:.1} s", report.seconds);
    assert_eq!((f.images, f.flipped), (300, 30));
    assert!(f.recall >= 0.8, "{f:?}");
    assert!(f.precision >= 0.8, "{f:?}");
}

/// The error `suspects` gives for the hand-made audit whose one run ended with `status`.
fn refusal_of_an_audit_whose_run(status: leukolens::train::RunStatus) -> String {
    let dir = tempfile::tempdir().unwrap();
    let ws = demo(dir.path(), 8);
    hand_made_audit_with(&ws, status);
    suspects(
        &ws.project,
        &ws.path,
        "hand",
        Rank::SelfConfidence,
        Filter::default(),
    )
    .unwrap_err()
}

/// A fold whose network collapsed (the same output for every image) gives no usable
/// probabilities: the audit says so and how to get a usable one, instead of ranking noise.
#[test]
fn an_audit_with_a_collapsed_fold_says_so_and_names_the_remedy() {
    let e = refusal_of_an_audit_whose_run(leukolens::train::RunStatus::Collapsed);
    assert_eq!(
        e,
        "the audit \"hand\" has 1 fold(s) whose network collapsed (fold 1: the same output for \
         every image), so 24 of 24 images have no usable out-of-fold probabilities; start a new \
         audit under another name with another seed (`leukolens audit --seed`, or Own seed in the \
         audit dialog) or another preset"
    );
}

#[test]
fn an_audit_with_a_failed_fold_says_so_instead_of_offering_to_resume() {
    let status =
        leukolens::train::RunStatus::Failed("the loss is not finite (NaN) at epoch 2".into());
    let e = refusal_of_an_audit_whose_run(status);
    assert_eq!(
        e,
        "the audit \"hand\" has 1 failed fold(s) (fold 1: failed: the loss is not finite (NaN) at \
         epoch 2), so 24 of 24 images have no out-of-fold probabilities; start a new audit with \
         another --name"
    );
}
