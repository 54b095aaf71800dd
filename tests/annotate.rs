//! Re-annotation in the core: undo/redo across bulk changes, filters, sort, review order.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use leukolens::dataset;
use leukolens::project::query::{self, Filter, Sort};
use leukolens::project::undo::UndoStack;
use leukolens::project::{Project, Workspace};
use leukolens::taxonomy::Taxonomy;

fn workspace(dir: &Path) -> Workspace {
    let data = dir.join("data");
    for (i, f) in [
        "monocyte/m1.png",
        "monocyte/m2.png",
        "basophil/b1.png",
        "eosinophil/e1.png",
        "eosinophil/e2.png",
    ]
    .iter()
    .enumerate()
    {
        let p = data.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(8, 8, image::Rgb([i as u8 * 40, 1, 1]))
            .save(&p)
            .unwrap();
    }
    let out = dataset::import(&data, None, Taxonomy::default_allidb(), &|_, _| {}).unwrap();
    let path = dir.join("a.ron");
    Workspace::create(&path, Project::from_import("a", &path, &out, 1)).unwrap()
}

#[test]
fn undo_and_redo_across_bulk_changes_are_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = workspace(dir.path());
    let t = ws.project.taxonomy.clone();
    let (mono, eos, lbl) = (
        t.find("Monocyte").unwrap(),
        t.find("Eosinophil").unwrap(),
        t.find("Lymphoblast").unwrap(),
    );
    let ids: Vec<_> = ws.project.images.iter().map(|i| i.id).collect();
    let before: Vec<_> = ws.project.images.iter().map(|i| i.current).collect();
    let mut undo = UndoStack::default();
    // Bulk: all five become lymphoblasts (one action), then one becomes an eosinophil.
    let c = ws.set_labels(&ids, lbl, "anna").unwrap();
    assert_eq!(c.len(), 5);
    undo.push(c);
    let c = ws.set_labels(&ids[..1], eos, "anna").unwrap();
    undo.push(c);
    assert_eq!(ws.project.image(ids[0]).unwrap().current, eos);

    undo.undo(&mut ws, "anna").unwrap();
    assert_eq!(ws.project.image(ids[0]).unwrap().current, lbl);
    undo.undo(&mut ws, "anna").unwrap();
    let now: Vec<_> = ws.project.images.iter().map(|i| i.current).collect();
    assert_eq!(
        now, before,
        "two undos restore every label of the bulk change"
    );
    assert!(!undo.can_undo());
    assert!(undo.undo(&mut ws, "anna").unwrap().is_none());

    undo.redo(&mut ws, "anna").unwrap();
    assert!(ws.project.images.iter().all(|i| i.current == lbl));
    undo.redo(&mut ws, "anna").unwrap();
    assert_eq!(ws.project.image(ids[0]).unwrap().current, eos);
    assert!(!undo.can_redo());
    // A new action after an undo clears the redo stack.
    undo.undo(&mut ws, "anna").unwrap();
    let c = ws.set_labels(&ids[1..2], mono, "anna").unwrap();
    undo.push(c);
    assert!(!undo.can_redo());

    // Everything, undos included, is in the journal and survives a crash.
    let history = ws.history().unwrap();
    assert_eq!(history.len(), 5 + 1 + 1 + 5 + 5 + 1 + 1 + 1);
    let expected: Vec<_> = ws.project.images.iter().map(|i| i.current).collect();
    let path = ws.path.clone();
    // As a crash: never saved (dropping saves nothing; it frees the lock as a dying process
    // does; tests/crash.rs kills real processes).
    drop(ws);
    let ws = Workspace::open(&path).unwrap();
    let got: Vec<_> = ws.project.images.iter().map(|i| i.current).collect();
    assert_eq!(got, expected);
}

#[test]
fn filters_sorting_and_review_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = workspace(dir.path());
    let t = ws.project.taxonomy.clone();
    let (mono, eos, bas) = (
        t.find("Monocyte").unwrap(),
        t.find("Eosinophil").unwrap(),
        t.find("Basophil").unwrap(),
    );
    let p = &ws.project;
    let all = query::select(p, &Filter::default(), Sort::Import);
    assert_eq!(all.len(), 5);
    let eos_only = Filter {
        current: Some(eos),
        ..Default::default()
    };
    assert_eq!(query::select(p, &eos_only, Sort::Import).len(), 2);
    // Relabel a monocyte as basophil: "changed" shows exactly it.
    let m1 = p
        .images
        .iter()
        .find(|i| i.path == "monocyte/m1.png")
        .unwrap()
        .id;
    ws.set_labels(&[m1], bas, "ben").unwrap();
    let p = &ws.project;
    let changed = Filter {
        changed_only: true,
        ..Default::default()
    };
    assert_eq!(query::select(p, &changed, Sort::Import), vec![m1]);
    let orig_mono = Filter {
        original: Some(mono),
        ..Default::default()
    };
    assert_eq!(query::select(p, &orig_mono, Sort::Import).len(), 2);
    let by_name = Filter {
        name_contains: "E1".into(),
        ..Default::default()
    };
    assert_eq!(query::select(p, &by_name, Sort::Import).len(), 1);
    // Sort by current class follows the taxonomy order (Monocyte < Eosinophil < Basophil).
    let sorted = query::select(p, &Filter::default(), Sort::CurrentClass);
    let classes: Vec<_> = sorted
        .iter()
        .map(|&i| p.image(i).unwrap().current)
        .collect();
    assert_eq!(classes, vec![mono, eos, eos, bas, bas]);
    let names = query::select(p, &Filter::default(), Sort::FileName);
    let paths: Vec<_> = names
        .iter()
        .map(|&i| p.image(i).unwrap().path.clone())
        .collect();
    let mut sorted_paths = paths.clone();
    sorted_paths.sort();
    assert_eq!(paths, sorted_paths);
    // Tab: next unreviewed skips the reviewed m1 and wraps around.
    let order = query::select(p, &Filter::default(), Sort::Import);
    let pos_m1 = order.iter().position(|&i| i == m1).unwrap();
    let before_m1 = order[(pos_m1 + order.len() - 1) % order.len()];
    let next = query::next_unreviewed(p, &order, Some(before_m1)).unwrap();
    assert_ne!(next, m1);
    assert!(!p.image(next).unwrap().reviewed);
    let unreviewed = Filter {
        unreviewed_only: true,
        ..Default::default()
    };
    assert_eq!(query::select(p, &unreviewed, Sort::Import).len(), 4);
}
