//! `leukolens info`: a project's classes, label changes, annotators and experiments.

use std::path::Path;

use anyhow::Result;

use crate::project::Workspace;

/// Prints the summary of the project at `path`.
pub(crate) fn run(path: &Path) -> Result<()> {
    let ws = Workspace::open_read_only(path)?;
    let p = &ws.project;
    println!("project: {} ({})", p.name, path.display());
    println!(
        "dataset: {}{}",
        p.dataset_dir(path).display(),
        if p.dataset_dir(path).is_dir() {
            ""
        } else {
            "  (MISSING: use `leukolens relink`)"
        }
    );
    if let Some(l) = p.layout {
        println!("layout: {l}");
    }
    let changed = p.images.iter().filter(|i| i.current != i.original).count();
    let reviewed = p.images.iter().filter(|i| i.reviewed).count();
    println!(
        "images: {} · changed {} · reviewed {}",
        p.images.len(),
        changed,
        reviewed
    );
    println!(
        "{:<28} {:>5} {:>7} {:>9}  blast",
        "class", "key", "current", "original"
    );
    for (id, cur, orig) in p.counts() {
        let c = p.taxonomy.get(id).expect("counts come from the taxonomy");
        println!(
            "{:<28} {:>5} {:>7} {:>9}  {}",
            format!("{} ({})", c.name, c.code),
            c.hotkey.map(String::from).unwrap_or_default(),
            cur,
            orig,
            if c.positive { "yes" } else { "" }
        );
    }
    if !p.annotators.is_empty() {
        println!("annotators: {}", p.annotators.join(", "));
    }
    for e in &p.experiments {
        println!(
            "experiment \"{}\": {:?}, n_train {}, {} px",
            e.name, e.task, e.n_train, e.train.input_size
        );
    }
    for n in &ws.open_notes {
        println!("note: {n}");
    }
    Ok(())
}
