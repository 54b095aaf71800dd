//! Starting a sweep: the checks, the frozen label snapshot and the registration in the
//! project. The command line (`leukolens sweep`) and the desktop application ("Start sweep",
//! "Resume") both go through [`start`], so they refuse the same sweeps with the same words.

use super::config::{Snapshot, SweepConfig};
use super::design;
use super::store::SweepDir;
use crate::project::{Project, Workspace};
use crate::train::Task;

/// What [`start`] decided.
#[derive(Clone, Debug)]
pub struct Started {
    /// The configuration that runs: the saved one when the project already has a sweep of
    /// this name (the sweep is resumed), else the new one, now saved in the project.
    pub config: SweepConfig,
    /// True when a saved sweep of that name was found and is resumed.
    pub resumed: bool,
    /// The sweep's output names (from its snapshot), for the GUI's plots.
    pub output_names: Vec<String>,
}

/// Checks a sweep and registers it: resumes the saved sweep named `name`, or builds a new
/// configuration with `new` (called only when no saved sweep has that name), checks it (task,
/// plan, a name whose folder another saved sweep already uses, …), writes its snapshot and
/// saves it in the project. Nothing is written when a check fails; the error is the text the
/// CLI prints after "error: ".
pub fn start(
    ws: &mut Workspace,
    name: &str,
    new: impl FnOnce(&Project) -> Result<SweepConfig, String>,
) -> Result<Started, String> {
    // A read-only workspace (another process holds the project) neither registers nor runs.
    ws.check_writable().map_err(|e| e.to_string())?;
    if let Some(config) = ws.project.sweeps.iter().find(|s| s.name == name).cloned() {
        let dir = SweepDir::of(&ws.path, &config.name);
        let snapshot = load_or_snapshot(&dir, &ws.project, &config)?;
        return Ok(Started {
            config,
            resumed: true,
            output_names: snapshot.output_names,
        });
    }
    let config = new(&ws.project)?;
    if config.name != name {
        return Err(format!(
            "the new sweep is named \"{}\", not \"{name}\"",
            config.name
        ));
    }
    let dir = check_new(&ws.project, &ws.path, &config)?;
    let fresh = take_snapshot(&ws.project, &config)?;
    check_plan(&fresh)?;
    check_images_exist(&ws.project, &ws.path, &fresh)?;
    let snapshot = match stored_snapshot(&dir, &config)? {
        Some(stored) => stored,
        None => {
            dir.write_snapshot(&fresh)?;
            fresh
        }
    };
    ws.project.sweeps.push(config.clone());
    ws.mark_dirty();
    ws.save().map_err(|e| e.to_string())?;
    Ok(Started {
        config,
        resumed: false,
        output_names: snapshot.output_names,
    })
}

/// The first checks of a sweep that is not saved in the project yet: its training settings,
/// and a folder no saved sweep uses. Returns its folder.
fn check_new(
    project: &Project,
    project_path: &std::path::Path,
    config: &SweepConfig,
) -> Result<SweepDir, String> {
    config.train.validate()?;
    let dir = SweepDir::of(project_path, &config.name);
    if let Some(other) = project
        .sweeps
        .iter()
        .find(|s| SweepDir::of(project_path, &s.name) == dir)
    {
        return Err(format!(
            "the name \"{}\" would share its folder with the saved sweep \"{}\"; choose \
             another name",
            config.name, other.name
        ));
    }
    Ok(dir)
}

/// Whether every image of the snapshot is on disk (a missing dataset folder is said first).
fn check_images_exist(
    project: &Project,
    project_path: &std::path::Path,
    snapshot: &Snapshot,
) -> Result<(), String> {
    let root = project.dataset_dir(project_path);
    if !root.is_dir() {
        return Err(format!(
            "the dataset folder {} is missing; if the images moved, point the project at them \
             (`leukolens relink`, or Project > Locate dataset… in the app)",
            root.display()
        ));
    }
    let missing: Vec<std::path::PathBuf> = snapshot
        .images
        .iter()
        .filter_map(|&id| project.image(id))
        .map(|im| project.image_path(project_path, im))
        .filter(|p| !p.is_file())
        .collect();
    match missing.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} image file(s) of the sweep are missing (first: {}); relink the dataset",
            missing.len(),
            first.display()
        )),
    }
}

/// Whether the sweep's plan can be made from its snapshot (enough images per class and fold).
fn check_plan(snapshot: &Snapshot) -> Result<(), String> {
    design::plan(
        &snapshot.targets,
        snapshot.output_names.len(),
        &snapshot.config.design,
    )
    .map(|_| ())
    .map_err(|e| format!("the sweep cannot run: {e}"))
}

/// The snapshot already in `dir`, when there is one; an error when it was taken for another
/// configuration.
fn stored_snapshot(dir: &SweepDir, config: &SweepConfig) -> Result<Option<Snapshot>, String> {
    if !dir.snapshot_path().exists() {
        return Ok(None);
    }
    let snap = dir
        .read_snapshot()
        .map_err(|e| damaged_snapshot(&config.name, dir, &e))?;
    if !snap.is_of(config) {
        return Err(format!(
            "the sweep \"{}\" already has results with another configuration; give the new one another name",
            config.name
        ));
    }
    Ok(Some(snap))
}

/// The words for a snapshot that cannot be read, with what to do about it.
pub fn damaged_snapshot(name: &str, dir: &SweepDir, e: &super::store::ReadError) -> String {
    format!(
        "the snapshot of the sweep \"{name}\" cannot be read ({e}). Its runs cannot be matched to \
         the labels they were trained on. Restore {} from a backup; or delete it, and the next \
         `leukolens sweep --name {name}` takes a new snapshot of the current labels (runs \
         trained on other labels are then left out and trained again)",
        dir.snapshot_path().display()
    )
}

/// The snapshot of an existing sweep folder, or a new one taken now and written there.
pub fn load_or_snapshot(
    dir: &SweepDir,
    project: &Project,
    config: &SweepConfig,
) -> Result<Snapshot, String> {
    if let Some(snap) = stored_snapshot(dir, config)? {
        return Ok(snap);
    }
    let snap = take_snapshot(project, config)?;
    dir.write_snapshot(&snap)?;
    Ok(snap)
}

/// Takes the snapshot of the current labels for a sweep (classes with fewer than 5 images are
/// left out of a multiclass task with a notice).
pub fn take_snapshot(project: &Project, config: &SweepConfig) -> Result<Snapshot, String> {
    config.task.check(&project.taxonomy)?;
    let mut task = config.task.clone();
    let mut notices = Vec::new();
    if let Task::Multiclass { classes } = &mut task {
        classes.retain(|&c| !project.taxonomy.is_unlabelled(c));
        classes.retain(|&c| {
            let n = project.images.iter().filter(|i| i.current == c).count();
            if n < 5 {
                notices.push(format!(
                    "class \"{}\" left out: only {n} images (at least 5 needed)",
                    project.taxonomy.name(c)
                ));
                false
            } else {
                true
            }
        });
        if classes.len() < 2 {
            return Err("fewer than two classes with at least 5 images".into());
        }
    }
    let labels: Vec<_> = project.images.iter().map(|im| im.current).collect();
    task.check_has_images(&project.taxonomy, &labels)?;
    let mut images = Vec::new();
    let mut targets = Vec::new();
    for im in &project.images {
        if let Some(t) = task.target(&project.taxonomy, im.current) {
            images.push(im.id);
            targets.push(t);
        }
    }
    let unlabelled = project.unlabelled_count();
    if unlabelled > 0 {
        notices.push(unlabelled_notice(unlabelled));
    }
    let mut config = config.clone();
    config.task = task;
    Ok(Snapshot {
        output_names: config.task.output_names(&project.taxonomy),
        config,
        images,
        targets,
        notices,
        journal_seq: Some(project.journal_seq),
    })
}

/// The notice of a snapshot or training that left the "Unlabelled" images out.
pub fn unlabelled_notice(n: usize) -> String {
    format!("{n} images in \"Unlabelled\" left out: they have no class to learn")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::design::ValSize;
    use crate::train::TrainConfig;

    fn demo(dir: &std::path::Path) -> Workspace {
        let path = crate::demo::create_demo_project(dir, 10, 64, 3).unwrap();
        Workspace::open(&path).unwrap()
    }

    fn config(p: &Project, name: &str, sizes: Vec<usize>) -> SweepConfig {
        let t = &p.taxonomy;
        SweepConfig {
            name: name.into(),
            task: Task::Groups {
                positive: vec![t.find("Lymphoblast").unwrap()],
                negative: vec![t.find("Segmented neutrophil").unwrap()],
            },
            train: TrainConfig {
                input_size: 190,
                ..TrainConfig::quick()
            },
            design: design::SweepDesign {
                k_folds: 2,
                val: ValSize::Count(2),
                sizes,
                seed: 1,
            },
        }
    }

    #[test]
    fn a_new_sweep_is_snapshotted_and_saved_and_then_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = demo(dir.path());
        let s = start(&mut ws, "first", |p| Ok(config(p, "first", vec![2, 4]))).unwrap();
        assert!(!s.resumed);
        assert_eq!(s.output_names.len(), 2);
        assert!(SweepDir::of(&ws.path, "first").has_snapshot());
        let reopened = Workspace::open_read_only(&ws.path).unwrap();
        assert_eq!(reopened.project.sweeps, vec![s.config.clone()]);
        // The same name again resumes the saved sweep; `new` is not called.
        let again = start(&mut ws, "first", |_| panic!("not called")).unwrap();
        assert!(again.resumed);
        assert_eq!(
            (again.config, again.output_names),
            (s.config, s.output_names)
        );
    }

    #[test]
    fn a_binary_sweep_without_positive_images_says_so_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let ws = demo(dir.path());
        let mut p = ws.project.clone();
        let negative = p.taxonomy.classes.iter().find(|c| !c.positive).unwrap().id;
        for im in &mut p.images {
            if p.taxonomy.is_positive(im.current) {
                im.current = negative;
            }
        }
        let mut c = config(&p, "b", vec![2]);
        c.task = Task::Binary;
        let err = take_snapshot(&p, &c).unwrap_err();
        assert!(
            err.starts_with("No image is in a positive class ("),
            "{err}"
        );
        assert!(err.contains("Lymphoblast"), "{err}");
    }

    #[test]
    fn a_sweep_that_fails_a_check_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = demo(dir.path());
        start(&mut ws, "a b", |p| Ok(config(p, "a b", vec![2]))).unwrap();
        let before = std::fs::read_to_string(&ws.path).unwrap();
        // "a_b" has the folder of "a b".
        let err = start(&mut ws, "a_b", |p| Ok(config(p, "a_b", vec![2]))).unwrap_err();
        assert_eq!(
            err,
            "the name \"a_b\" would share its folder with the saved sweep \"a b\"; choose another name"
        );
        // A plan that cannot be made (more folds than a class has images).
        let err = start(&mut ws, "big", |p| {
            let mut c = config(p, "big", vec![2]);
            c.design.k_folds = 50;
            Ok(c)
        })
        .unwrap_err();
        assert!(err.starts_with("the sweep cannot run: "), "{err}");
        assert!(!SweepDir::of(&ws.path, "big").path().exists());
        // The configuration's own error is passed on as it is.
        let err = start(&mut ws, "x", |_| Err("no such class".into())).unwrap_err();
        assert_eq!(err, "no such class");
        assert_eq!(ws.project.sweeps.len(), 1);
        assert_eq!(std::fs::read_to_string(&ws.path).unwrap(), before);
    }
}
