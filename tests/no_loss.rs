//! Issue #18: no silent overwrite, no stale or mixed results, integrity of what training and
//! explanations read. Each test drives the command line as a user would (the binary), on a tiny
//! demo project whose sweeps train in seconds.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use leukolens::project::{Journal, Workspace, backup_path};
use leukolens::sweep::SweepDir;

/// Runs the binary; returns the output.
fn run(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_leukolens"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs the binary and expects success; returns stdout.
fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the binary and expects exit status 1; returns stderr.
fn fails(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} did not fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A demo project of 6 cells per class at 64 px.
fn demo(dir: &Path) -> PathBuf {
    leukolens::demo::create_demo_project(&dir.join("p"), 6, 64, 5).unwrap()
}

/// The flags of a tiny lymphoblast-vs-neutrophil sweep: 2 folds, sizes 2 and 4, 1 epoch.
const TINY: [&str; 14] = [
    "--task",
    "groups",
    "--positive",
    "Lymphoblast",
    "--negative",
    "Segmented neutrophil",
    "--folds",
    "2",
    "--n-val",
    "2",
    "--sizes",
    "2,4",
    "--epochs",
    "1",
];

/// `sweep <project> --name <name>` with the tiny flags, at 190 px on the CPU, plus `extra`.
fn sweep_args<'a>(project: &'a Path, name: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["sweep", s(project), "--name", name];
    a.extend(TINY);
    a.extend(["--input-size", "190", "--backend", "cpu"]);
    a.extend(extra);
    a
}

/// Every file under `dir` with its bytes, except the project's lock file (`x.ron.lock`): every
/// opener for writing records itself there (who, since when), which changes no data.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(tree(&e.path()));
            } else if e.path().extension().is_some_and(|x| x == "lock") {
                continue;
            } else {
                out.push((e.path(), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn explain_report_and_train_never_write_over_the_projects_files_and_ask_for_force() {
    let dir = tempfile::tempdir().unwrap();
    let p = demo(dir.path());
    ok(&sweep_args(&p, "q", &[]));
    let project = Workspace::open(&p).unwrap().project;
    let image = project.image_path(&p, &project.images[0]);
    let model = SweepDir::of(&p, "q").model_path(leukolens::sweep::RunKey { fold: 0, size: 2 });
    let before = tree(dir.path());
    let explain = |out: &Path, force: bool| {
        let mut a = vec![
            "explain",
            s(&p),
            "--experiment",
            "q",
            "--fold",
            "1",
            "--size",
            "2",
            "--image",
            "0",
            "-o",
            s(out),
        ];
        if force {
            a.push("--force");
        }
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let args = |v: &[String]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    for target in [
        p.clone(),
        backup_path(&p),
        Journal::path_for(&p),
        SweepDir::of(&p, "q").snapshot_path(),
        model.clone(),
        image.clone(),
    ] {
        let a = args(&explain(&target, true));
        let a: Vec<&str> = a.iter().map(|x| x.as_str()).collect();
        let err = fails(&a);
        assert!(err.contains("refusing to write over"), "{target:?}: {err}");
    }
    assert_eq!(tree(dir.path()), before, "nothing was written");

    // A new file is written; written again, it needs --force.
    let png = dir.path().join("x.png");
    let a = args(&explain(&png, false));
    let a: Vec<&str> = a.iter().map(|x| x.as_str()).collect();
    ok(&a);
    let err = fails(&a);
    assert!(err.contains("exists; give --force"), "{err}");
    let a = args(&explain(&png, true));
    let a: Vec<&str> = a.iter().map(|x| x.as_str()).collect();
    ok(&a);

    // report --out: into the sweep's own files, refused; over an existing file, only with --force.
    let err = fails(&[
        "report",
        s(&p),
        "--name",
        "q",
        "--out",
        s(&SweepDir::of(&p, "q").path().join("runs")),
    ]);
    assert!(err.contains("refusing to write over"), "{err}");
    let out = dir.path().join("rep");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("runs.csv"), "mine").unwrap();
    let err = fails(&["report", s(&p), "--name", "q", "--out", s(&out)]);
    assert!(err.contains("runs.csv exists; give --force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("runs.csv")).unwrap(),
        "mine"
    );
    assert!(
        !out.join("report.html").exists(),
        "nothing written before the refusal"
    );
    ok(&["report", s(&p), "--name", "q", "--out", s(&out), "--force"]);
    assert!(out.join("report.html").is_file());
    // The default report folder is the sweep's own: rewritten each time.
    ok(&["report", s(&p), "--name", "q"]);
    ok(&["report", s(&p), "--name", "q"]);

    // train --save-as twice: refused without --force.
    let train = [
        "train",
        s(&p),
        "--task",
        "groups",
        "--positive",
        "Lymphoblast",
        "--negative",
        "Segmented neutrophil",
        "--n-train",
        "4",
        "--n-val",
        "2",
        "--epochs",
        "1",
        "--input-size",
        "190",
        "--backend",
        "cpu",
        "--save-as",
        "t",
    ];
    ok(&train);
    let model = dir.path().join("p/demo.models/t.bpk");
    let saved = std::fs::read(&model).unwrap();
    let err = fails(&train);
    assert!(err.contains("already has an experiment \"t\""), "{err}");
    assert_eq!(std::fs::read(&model).unwrap(), saved);
    let mut forced = train.to_vec();
    forced.push("--force");
    ok(&forced);
}

#[test]
fn demo_force_keeps_the_previous_project_as_its_backup() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d");
    let a = ["demo", "-o", s(&out), "--per-class", "2", "--size", "32"];
    ok(&a);
    let p = out.join("demo.ron");
    {
        let mut ws = Workspace::open(&p).unwrap();
        let ids: Vec<_> = ws.project.images.iter().take(3).map(|i| i.id).collect();
        let c = ws.project.taxonomy.find("Basophil").unwrap();
        ws.set_labels(&ids, c, "anna").unwrap();
        ws.save().unwrap();
    }
    let changed = std::fs::read(&p).unwrap();
    let mut forced = a.to_vec();
    forced.push("--force");
    let said = ok(&forced);
    assert!(said.contains("demo.ron.bak"), "{said}");
    assert_eq!(std::fs::read(backup_path(&p)).unwrap(), changed);
    let kept = Workspace::open(&backup_path(&p)).unwrap();
    assert_eq!(
        kept.project
            .images
            .iter()
            .filter(|i| i.current != i.original)
            .count(),
        3
    );
}

#[test]
fn runs_trained_under_another_snapshot_are_left_out_and_trained_again() {
    let dir = tempfile::tempdir().unwrap();
    let p = demo(dir.path());
    ok(&sweep_args(&p, "q", &[]));
    let sd = SweepDir::of(&p, "q");
    assert_eq!(sd.runs().len(), 4);
    let old = sd.read_snapshot().unwrap();
    // The snapshot is deleted and labels change: the new snapshot differs.
    std::fs::remove_file(sd.snapshot_path()).unwrap();
    {
        let mut ws = Workspace::open(&p).unwrap();
        let t = &ws.project.taxonomy;
        let (lb, sn) = (
            t.find("Lymphoblast").unwrap(),
            t.find("Segmented neutrophil").unwrap(),
        );
        let ids: Vec<_> = ws
            .project
            .images
            .iter()
            .filter(|i| i.current == lb)
            .take(1)
            .map(|i| i.id)
            .collect();
        ws.set_labels(&ids, sn, "anna").unwrap();
        ws.save().unwrap();
    }
    let said = ok(&sweep_args(&p, "q", &[]));
    assert!(said.contains("left out and trained again"), "{said}");
    assert!(!said.contains("already done"), "{said}");
    let new = sd.read_snapshot().unwrap();
    assert_ne!(new.digest(), old.digest());
    let runs = sd.runs();
    assert_eq!(runs.len(), 4);
    assert!(
        runs.iter()
            .all(|r| r.snapshot_digest.as_deref() == Some(new.digest().as_str()))
    );
    // A record of the old snapshot put back is left out of the report, with the reason.
    let stale = leukolens::sweep::RunRecord {
        snapshot_digest: Some(old.digest()),
        key: leukolens::sweep::RunKey { fold: 1, size: 3 },
        ..runs[0].clone()
    };
    std::fs::write(
        sd.path().join("runs/f01-n0003.ron"),
        ron::to_string(&stale).unwrap(),
    )
    .unwrap();
    assert_eq!(sd.runs().len(), 4);
    let said = ok(&["report", s(&p), "--name", "q"]);
    assert!(
        said.contains("f01-n0003.ron left out (it was trained on other labels"),
        "{said}"
    );
    assert!(said.contains("4 runs;"), "{said}");
}

#[test]
fn resuming_with_other_flags_is_an_error_that_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let p = demo(dir.path());
    ok(&sweep_args(&p, "s", &[]));
    let before = std::fs::read(&p).unwrap();
    let err = fails(&[
        "sweep",
        s(&p),
        "--name",
        "s",
        "--folds",
        "5",
        "--sizes",
        "10,20",
        "--epochs",
        "3",
    ]);
    assert!(err.contains("folds: saved 2, given 5"), "{err}");
    assert!(err.contains("sizes: saved [2, 4], given [10, 20]"), "{err}");
    assert!(err.contains("epochs: saved 1, given 3"), "{err}");
    assert_eq!(std::fs::read(&p).unwrap(), before);
    // The same flags, or none, resume it.
    assert!(ok(&sweep_args(&p, "s", &[])).contains("resuming the saved sweep"));
    assert!(ok(&["sweep", s(&p), "--name", "s", "--backend", "cpu"]).contains("resuming"));
}

#[test]
fn a_sweep_that_fails_its_checks_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = demo(dir.path());
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let before = tree(dir.path());
    for extra in [&["--shard", "3/2"][..], &["--out", s(&file)]] {
        fails(&sweep_args(&p, "n", extra));
        assert_eq!(tree(dir.path()), before, "{extra:?} changed files");
    }
    // A dataset folder that moved: said first, nothing written.
    std::fs::rename(dir.path().join("p/images"), dir.path().join("moved")).unwrap();
    let err = fails(&sweep_args(&p, "n", &[]));
    assert!(
        err.contains("dataset folder") && err.contains("relink"),
        "{err}"
    );
    assert!(!SweepDir::of(&p, "n").path().exists());
    assert!(Workspace::open(&p).unwrap().project.sweeps.is_empty());
}

#[test]
fn merge_checks_every_shard_first_and_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = demo(dir.path());
    let (s1, s2) = (dir.path().join("s1"), dir.path().join("s2"));
    ok(&sweep_args(&p, "m", &["--shard", "1/2", "--out", s(&s1)]));
    ok(&sweep_args(&p, "m", &["--shard", "2/2", "--out", s(&s2)]));
    let target = SweepDir::of(&p, "m");
    let target_before = tree(target.path());
    let merge = |extra: &[&str]| {
        let mut a = vec!["merge", s(&p), "--name", "m", s(&s1), s(&s2)];
        a.extend(extra);
        a.into_iter().map(String::from).collect::<Vec<String>>()
    };
    let run_merge = |v: Vec<String>| {
        let a: Vec<&str> = v.iter().map(|x| x.as_str()).collect();
        run(&a)
    };
    // A truncated run file in the second shard: refused, named, nothing merged.
    let run2 = SweepDir::at(&s2).runs()[0].key;
    let file = s2.join(format!("runs/f{:02}-n{:04}.ron", run2.fold, run2.size));
    let good = std::fs::read(&file).unwrap();
    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    let out = run_merge(merge(&[]));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("nothing was merged") && err.contains(s(&file)),
        "{err}"
    );
    assert_eq!(tree(target.path()), target_before);
    std::fs::write(&file, &good).unwrap();
    // An empty model: refused.
    let model = SweepDir::at(&s2).model_path(run2);
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, b"").unwrap();
    let err = String::from_utf8_lossy(&run_merge(merge(&[])).stderr).into_owned();
    assert!(
        err.contains("nothing was merged") && err.contains(".bpk"),
        "{err}"
    );
    std::fs::write(&model, &bytes).unwrap();
    // A damaged snapshot in the second shard: the first is not merged either.
    let snap = SweepDir::at(&s2).snapshot_path();
    let text = std::fs::read(&snap).unwrap();
    std::fs::write(&snap, &text[..text.len() / 3]).unwrap();
    let err = String::from_utf8_lossy(&run_merge(merge(&[])).stderr).into_owned();
    assert!(err.contains("snapshot cannot be read"), "{err}");
    assert_eq!(tree(target.path()), target_before);
    std::fs::write(&snap, &text).unwrap();
    // All good: every run merged; again: all skipped and listed.
    let said = ok(&merge(&[]).iter().map(|x| x.as_str()).collect::<Vec<_>>());
    assert!(said.contains("merged 4 run(s)"), "{said}");
    let said = ok(&merge(&[]).iter().map(|x| x.as_str()).collect::<Vec<_>>());
    assert!(
        said.contains("merged 0 run(s)") && said.contains("4 skipped"),
        "{said}"
    );
    // A sweep the project does not have: refused, no folder made.
    let err = fails(&["merge", s(&p), "--name", "zz", s(&s1)]);
    assert!(err.contains("the project has no sweep \"zz\""), "{err}");
    assert!(!SweepDir::of(&p, "zz").path().exists());
}

#[test]
fn damaged_models_and_changed_images_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = demo(dir.path());
    ok(&sweep_args(&p, "q", &[]));
    let key = leukolens::sweep::RunKey { fold: 0, size: 2 };
    let model = SweepDir::of(&p, "q").model_path(key);
    let png = dir.path().join("e.png");
    let explain = [
        "explain",
        s(&p),
        "--experiment",
        "q",
        "--fold",
        "1",
        "--size",
        "2",
        "--image",
        "0",
        "-o",
        s(&png),
        "--force",
    ];
    ok(&explain);
    let mut bytes = std::fs::read(&model).unwrap();
    let n = bytes.len();
    for b in &mut bytes[n - 120..n - 70] {
        *b ^= 0x5a;
    }
    std::fs::write(&model, &bytes).unwrap();
    let err = fails(&explain);
    assert!(err.contains("changed or damaged"), "{err}");

    // An image swapped for another: a new sweep (which decodes) refuses it as changed.
    let project = Workspace::open(&p).unwrap().project;
    let lb = project.taxonomy.find("Lymphoblast").unwrap();
    let im = project.images.iter().find(|i| i.current == lb).unwrap();
    let other = project.images.iter().find(|i| i.current != lb).unwrap();
    std::fs::copy(project.image_path(&p, other), project.image_path(&p, im)).unwrap();
    let err = fails(&sweep_args(&p, "fresh", &[]));
    assert!(err.contains("changed since import"), "{err}");
}

#[test]
fn report_and_resume_say_what_is_wrong_with_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let p = demo(dir.path());
    ok(&sweep_args(&p, "q", &[]));
    let snap = SweepDir::of(&p, "q").snapshot_path();
    let text = std::fs::read(&snap).unwrap();
    std::fs::write(&snap, &text[..text.len() / 2]).unwrap();
    let err = fails(&["report", s(&p), "--name", "q"]);
    assert!(!err.contains("has no sweep"), "{err}");
    assert!(
        err.contains("snapshot of the sweep \"q\" cannot be read") && err.contains("Restore"),
        "{err}"
    );
    let err = fails(&sweep_args(&p, "q", &[]));
    assert!(
        err.contains("Restore") && err.contains("delete it"),
        "{err}"
    );
    std::fs::remove_file(&snap).unwrap();
    let err = fails(&["report", s(&p), "--name", "q"]);
    assert!(
        err.contains("lists the sweep \"q\", but its snapshot is missing"),
        "{err}"
    );
    let err = fails(&["report", s(&p), "--name", "nope"]);
    assert!(err.contains("the project has no sweep \"nope\""), "{err}");
}
