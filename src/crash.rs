//! Crash checks with real processes: `leukolens label` run in a loop by a child shell, killed
//! with SIGKILL at seeded moments; after each kill the project must open (the lock released by
//! the OS) with every label the child printed as acknowledged. `tests/crash.rs` runs a short
//! version and asserts nothing is lost; `leukolens bench crash` runs the long one and prints
//! the figures. Unix only (SIGKILL, process groups).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::project::{ImageId, Project, ProjectError, Workspace};

/// How many runs, how long a run, which seed.
#[derive(Clone, Debug)]
pub struct CrashPlan {
    /// Child processes started (each killed, unless it finished its labels first).
    pub runs: usize,
    /// Labels each child tries (distinct images, so each acknowledged label can be checked).
    pub labels_per_run: usize,
    /// The kill comes after a delay drawn uniformly from this range.
    pub kill_after_ms: (u64, u64),
    pub seed: u64,
}

/// What the runs found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrashFigures {
    pub runs: usize,
    /// Runs killed before their last label (the others finished first).
    pub kills: usize,
    /// Labels the children printed, i.e. reported as journaled.
    pub acknowledged: usize,
    /// Acknowledged labels not in the project when it was opened again: must be 0.
    pub lost: Vec<String>,
    /// Openings after a kill that failed: must be none.
    pub open_failures: Vec<String>,
    /// Journal lines cut short by a kill (skipped on opening, as they should be).
    pub torn_lines: usize,
    pub seconds: f64,
}

/// Runs `plan` against the project at `project` with the `leukolens` binary `bin`, calling
/// `progress(run)` after each run. An error only when a child cannot be started at all.
pub fn label_crashes(
    bin: &Path,
    project: &Path,
    plan: &CrashPlan,
    progress: &mut dyn FnMut(usize, &CrashFigures),
) -> Result<CrashFigures, String> {
    let started = Instant::now();
    let mut figures = CrashFigures::default();
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    for run in 0..plan.runs {
        let current = Project::load(project).map_err(|e| e.to_string())?;
        let labels = draw_labels(&current, plan.labels_per_run, &mut rng);
        let (lo, hi) = plan.kill_after_ms;
        let delay = Duration::from_millis(rng.random_range(lo..=hi.max(lo)));
        let (acknowledged, killed) = run_and_kill(bin, project, &labels, delay)?;
        figures.runs += 1;
        figures.kills += usize::from(killed);
        figures.acknowledged += acknowledged.len();
        check_reopened(project, &acknowledged, run, &mut figures);
        progress(run + 1, &figures);
    }
    figures.seconds = started.elapsed().as_secs_f64();
    Ok(figures)
}

/// `n` distinct images (seeded) and, for each, a class it does not have now (by code).
fn draw_labels(project: &Project, n: usize, rng: &mut ChaCha8Rng) -> Vec<(ImageId, String)> {
    let mut ids: Vec<ImageId> = project.images.iter().map(|im| im.id).collect();
    let n = n.min(ids.len());
    for i in 0..n {
        let j = rng.random_range(i..ids.len());
        ids.swap(i, j);
    }
    let classes = &project.taxonomy.classes;
    ids[..n]
        .iter()
        .filter_map(|&id| {
            let now = project.image(id)?.current;
            let others: Vec<_> = classes.iter().filter(|c| c.id != now).collect();
            let c = others.get(rng.random_range(0..others.len().max(1)))?;
            Some((id, c.name.clone()))
        })
        .collect()
}

/// Starts a shell that runs `leukolens label` once per label, kills its whole process group
/// with SIGKILL after `delay`, and returns the labels it printed (image, class name) and
/// whether the kill came before the shell finished.
fn run_and_kill(
    bin: &Path,
    project: &Path,
    labels: &[(ImageId, String)],
    delay: Duration,
) -> Result<(Vec<(ImageId, String)>, bool), String> {
    use std::os::unix::process::CommandExt;
    let mut script = String::from("set -e\n");
    for (id, class) in labels {
        script.push_str(&format!(
            "{} label {} --image {} --class {} --annotator crash-test\n",
            quote(bin),
            quote(project),
            id.0,
            quote(Path::new(class))
        ));
    }
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start sh: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let lines = lines.clone();
        std::thread::Builder::new()
            .name("crash-reader".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Ok(mut l) = lines.lock() {
                        l.push(line);
                    }
                }
            })
            .map_err(|e| e.to_string())?
    };
    let deadline = Instant::now() + delay;
    let mut finished = false;
    while Instant::now() < deadline {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            finished = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    if !finished {
        // SAFETY: kill(2) with the child's own process group (it called setpgid(0, 0)).
        unsafe {
            libc::kill(-(child.id() as i32), libc::SIGKILL);
        }
    }
    let _ = child.wait();
    // The reader ends when every process of the group has closed the pipe, i.e. is gone.
    let _ = reader.join();
    let lines = lines.lock().map(|l| l.clone()).unwrap_or_default();
    Ok((
        lines.iter().filter_map(|l| parse_ack(l)).collect(),
        !finished,
    ))
}

/// (image id, class name) from `labelled image ID (PATH) as CLASS, …`.
fn parse_ack(line: &str) -> Option<(ImageId, String)> {
    let rest = line.strip_prefix("labelled image ")?;
    let (id, rest) = rest.split_once(' ')?;
    let (_, class) = rest.rsplit_once(") as ")?;
    let (class, _) = class.rsplit_once(", ")?;
    Some((ImageId(id.parse().ok()?), class.to_string()))
}

/// Opens the project for writing (the killed child's lock must be free) and checks every
/// acknowledged label; records failures in `figures`.
fn check_reopened(
    project: &Path,
    acknowledged: &[(ImageId, String)],
    run: usize,
    figures: &mut CrashFigures,
) {
    let ws = match open_after_kill(project) {
        Ok(ws) => ws,
        Err(e) => {
            figures.open_failures.push(format!("run {run}: {e}"));
            return;
        }
    };
    figures.torn_lines += ws
        .open_notes
        .iter()
        .filter(|n| n.contains("ignored (damaged"))
        .count();
    for (id, class) in acknowledged {
        let want = ws.project.taxonomy.find(class);
        let have = ws.project.image(*id).map(|im| im.current);
        if want.is_none() || want != have {
            figures.lost.push(format!(
                "run {run}: image {} should be {class}, is {}",
                id.0,
                have.map(|c| ws.project.taxonomy.name(c))
                    .unwrap_or_else(|| "missing".into())
            ));
        }
    }
}

/// Opens for writing. The OS releases a killed process's lock as it closes its files, which
/// can finish a moment after its output pipe closed: a lock still held is retried for 2 s.
fn open_after_kill(project: &Path) -> Result<Workspace, ProjectError> {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        match Workspace::open_as(project, "crash-check") {
            Err(ProjectError::Locked { .. }) if Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(5))
            }
            other => return other,
        }
    }
}

/// A path as one single-quoted shell word.
fn quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"))
}

/// A fresh demo project for the crash runs in `dir` (10 classes × `per_class` small images).
pub fn crash_project(dir: &Path, per_class: usize) -> Result<PathBuf, String> {
    crate::demo::create_demo_project(dir, per_class, 64, 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledged_lines_are_parsed_back() {
        assert_eq!(
            parse_ack("labelled image 12 (a (b)/c.png) as Segmented neutrophil, was Monocyte"),
            Some((ImageId(12), "Segmented neutrophil".to_string()))
        );
        assert_eq!(parse_ack("note: recovered 1 label change(s)"), None);
    }
}
