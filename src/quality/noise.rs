//! How well the audit finds wrong labels, measured: flip a seeded share of the labels to other
//! classes (through the workspace, journaled), audit, and compare the suspects with the flipped
//! images. Used by `leukolens bench audit` and its tests; the figures are printed, never
//! asserted as timings.

use std::collections::HashSet;

use rand::SeedableRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;

use super::audit::AuditResults;
use super::confident::{Filter, LabelIssues, Rank};
use crate::metrics::roc::auc;
use crate::project::Workspace;
use crate::project::ids::ImageId;
use crate::taxonomy::{ClassId, Taxonomy};
use crate::train::config::Task;

/// The annotator name of the flipped labels in the journal.
pub const NOISE_ANNOTATOR: &str = "bench-noise";

/// The classes of each output of a task, for choosing a flipped label.
fn output_classes(task: &Task, taxonomy: &Taxonomy) -> Vec<Vec<ClassId>> {
    let mut out = vec![Vec::new(); task.n_outputs()];
    for c in &taxonomy.classes {
        if let Some(t) = task.target(taxonomy, c.id) {
            out[t].push(c.id);
        }
    }
    out
}

/// Flips `fraction` of the images the task uses (chosen with `seed`) to a class of another
/// output, chosen uniformly (then a class of that output uniformly). Returns the flipped
/// images. Every flip is an ordinary journaled label change by [`NOISE_ANNOTATOR`].
pub fn flip_labels(
    ws: &mut Workspace,
    task: &Task,
    fraction: f64,
    seed: u64,
) -> Result<Vec<ImageId>, String> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(format!(
            "the share of flipped labels must be 0–1 (got {fraction})"
        ));
    }
    let tax = ws.project.taxonomy.clone();
    let outputs = output_classes(task, &tax);
    let mut used: Vec<(ImageId, usize)> = ws
        .project
        .images
        .iter()
        .filter_map(|im| task.target(&tax, im.current).map(|t| (im.id, t)))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    used.shuffle(&mut rng);
    let n = (fraction * used.len() as f64).round() as usize;
    let mut flipped = Vec::with_capacity(n);
    for &(id, t) in used.iter().take(n) {
        let others: Vec<usize> = (0..outputs.len())
            .filter(|&u| u != t && !outputs[u].is_empty())
            .collect();
        let Some(&u) = others.choose(&mut rng) else {
            continue;
        };
        let Some(&class) = outputs[u].choose(&mut rng) else {
            continue;
        };
        ws.set_labels(&[id], class, NOISE_ANNOTATOR)
            .map_err(|e| e.to_string())?;
        flipped.push(id);
    }
    Ok(flipped)
}

/// The recall at which [`NoiseFigures::best_precision_at_target_recall`] is read (the goal of
/// the benchmark: precision and recall both ≥ 0.8).
pub const TARGET_RECALL: f64 = 0.8;

/// The best precision over the cutoffs of a ranking (higher `scores` flagged first; a cutoff
/// never separates equal scores) that flag at least `recall` of the positives. `None` without
/// positives.
pub fn best_precision_at_recall(scores: &[f64], positives: &[bool], recall: f64) -> Option<f64> {
    let total = positives.iter().filter(|&&p| p).count();
    if total == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len().min(positives.len())).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut best: Option<f64> = None;
    let mut hits = 0usize;
    for (k, &i) in order.iter().enumerate() {
        hits += usize::from(positives[i]);
        let tie_follows = order
            .get(k + 1)
            .is_some_and(|&next| scores[next] == scores[i]);
        if tie_follows || (hits as f64) < recall * total as f64 - 1e-9 {
            continue;
        }
        let precision = hits as f64 / (k + 1) as f64;
        best = Some(best.map_or(precision, |b: f64| b.max(precision)));
    }
    best
}

/// The benchmark's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseFigures {
    pub images: usize,
    pub flipped: usize,
    pub flagged: usize,
    /// Flagged images that were flipped.
    pub hits: usize,
    /// hits / flagged (1 when nothing is flagged).
    pub precision: f64,
    /// hits / flipped (1 when nothing was flipped).
    pub recall: f64,
    /// ROC-AUC of the ranking score (lower = more suspicious) for telling flipped images from
    /// the others; `None` when no or every image was flipped.
    pub auc: Option<f64>,
    pub estimated_issues: usize,
    /// The best precision any cutoff of the ranking reaches while finding at least
    /// [`TARGET_RECALL`] of the flipped images: what the best possible flagged set of this
    /// ranking would give, whatever rule chose its size. `None` when nothing was flipped.
    pub best_precision_at_target_recall: Option<f64>,
    /// Out-of-fold accuracy on the images whose labels were not flipped (how well the audit's
    /// networks classify; `None` when every label was flipped).
    pub clean_accuracy: Option<f64>,
}

/// Compares the issues confident learning found in an audit with the flipped images.
pub fn noise_figures(
    results: &AuditResults,
    found: &LabelIssues,
    flipped: &[ImageId],
    rank: Rank,
) -> NoiseFigures {
    let flipped: HashSet<ImageId> = flipped.iter().copied().collect();
    let images = &results.snapshot.images;
    let flagged: HashSet<ImageId> = found.ranked.iter().map(|i| images[i.index]).collect();
    let hits = flagged.intersection(&flipped).count();
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    // Higher = more suspicious, for the ROC.
    let scores: Vec<f64> = results
        .labels()
        .iter()
        .zip(&results.probabilities)
        .map(|(&l, p)| -rank.score(l, p))
        .collect();
    let positives: Vec<bool> = images.iter().map(|id| flipped.contains(id)).collect();
    let best_precision_at_target_recall =
        best_precision_at_recall(&scores, &positives, TARGET_RECALL);
    let clean: Vec<bool> = results
        .labels()
        .iter()
        .zip(&results.probabilities)
        .zip(&positives)
        .filter(|(_, was_flipped)| !**was_flipped)
        .map(|((&l, p), _)| super::confident::argmax(p) == l)
        .collect();
    let clean_accuracy = (!clean.is_empty())
        .then(|| clean.iter().filter(|&&c| c).count() as f64 / clean.len() as f64);
    NoiseFigures {
        images: images.len(),
        flipped: positives.iter().filter(|&&p| p).count(),
        flagged: flagged.len(),
        hits,
        precision: ratio(hits, flagged.len()),
        recall: ratio(hits, flipped.len()),
        auc: auc(&scores, &positives),
        estimated_issues: found.estimated_issues,
        best_precision_at_target_recall,
        clean_accuracy,
    }
}

/// What the noise benchmark runs.
#[derive(Clone, Debug)]
pub struct NoiseBench {
    /// The audit's name.
    pub name: String,
    /// `None`: one output per class with images.
    pub task: Option<Task>,
    /// Share of the labels to flip.
    pub fraction: f64,
    /// Seed of the flips (and of the audit's folds).
    pub seed: u64,
    pub train: crate::train::config::TrainConfig,
    pub k_folds: usize,
    pub n_val: usize,
    pub options: crate::sweep::run::RunOptions,
    /// Which images confident learning flags.
    pub filter: Filter,
}

/// The figures and the audit's wall time.
#[derive(Clone, Debug)]
pub struct NoiseReport {
    pub figures: NoiseFigures,
    pub seconds: f64,
    /// The audit's out-of-fold results (labels as flipped).
    pub results: AuditResults,
    /// The images whose labels were flipped.
    pub flipped: Vec<ImageId>,
    /// What confident learning found (`ranked` is the flagged set).
    pub issues: LabelIssues,
}

/// One row per audited image: its id, the label it was audited with (the output's name),
/// whether that label was flipped, whether confident learning flagged it, and the out-of-fold
/// probability of every output, for studying other ways of choosing the flagged set.
pub fn write_rows_csv(report: &NoiseReport, out: impl std::io::Write) -> Result<(), String> {
    let snap = &report.results.snapshot;
    let flipped: HashSet<ImageId> = report.flipped.iter().copied().collect();
    let flagged: HashSet<usize> = report.issues.ranked.iter().map(|i| i.index).collect();
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec![
        "image".to_string(),
        "given".into(),
        "flipped".into(),
        "flagged".into(),
    ];
    header.extend(snap.output_names.iter().map(|n| format!("p_{n}")));
    w.write_record(&header).map_err(|e| e.to_string())?;
    for (i, id) in snap.images.iter().enumerate() {
        let given = snap
            .output_names
            .get(snap.targets[i])
            .cloned()
            .unwrap_or_default();
        let mut row = vec![
            id.0.to_string(),
            given,
            flipped.contains(id).to_string(),
            flagged.contains(&i).to_string(),
        ];
        row.extend(
            report.results.probabilities[i]
                .iter()
                .map(|p| format!("{p:.6}")),
        );
        w.write_record(&row).map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())
}

/// Flips labels in the open workspace (a scratch copy: the flips are journaled label changes),
/// runs the audit on `backend` and compares its suspects with the flipped images.
pub fn run_noise_bench(
    ws: &mut Workspace,
    bench: &NoiseBench,
    backend: &mut crate::backend::Backend,
    on_event: &mut dyn FnMut(crate::sweep::run::SweepEvent),
) -> Result<NoiseReport, String> {
    let task = bench.task.clone().unwrap_or_else(|| Task::Multiclass {
        classes: super::audit::classes_with_images(&ws.project),
    });
    let flipped = flip_labels(ws, &task, bench.fraction, bench.seed)?;
    ws.save().map_err(|e| e.to_string())?;
    let request = super::audit::AuditRequest {
        name: bench.name.clone(),
        task: Some(task),
        train: bench.train.clone(),
        k_folds: bench.k_folds,
        n_val: bench.n_val,
        seed: bench.seed,
    };
    let started =
        crate::sweep::start::start(ws, &bench.name, |p| super::audit::audit_config(p, &request))?;
    let clock = std::time::Instant::now();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    crate::sweep::run::run_sweep(
        &ws.project,
        &ws.path,
        &started.config,
        backend,
        &bench.options,
        &cancel,
        on_event,
    )?;
    let seconds = clock.elapsed().as_secs_f64();
    let results = super::audit::read_audit(&ws.path, &bench.name)?;
    let rank = Rank::SelfConfidence;
    let found = super::confident::find_label_issues_by(
        results.labels(),
        &results.probabilities,
        rank,
        bench.filter,
    )?;
    Ok(NoiseReport {
        figures: noise_figures(&results, &found, &flipped, rank),
        seconds,
        results,
        flipped,
        issues: found,
    })
}

/// At most `per_class` images of each class (seeded), for a benchmark of bounded time.
pub fn subsample(project: &mut crate::project::Project, per_class: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut keep: HashSet<ImageId> = HashSet::new();
    for c in &project.taxonomy.classes {
        let mut ids: Vec<ImageId> = project
            .images
            .iter()
            .filter(|im| im.current == c.id)
            .map(|im| im.id)
            .collect();
        ids.shuffle(&mut rng);
        keep.extend(ids.into_iter().take(per_class));
    }
    project.images.retain(|im| keep.contains(&im.id));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-computed: positives at ranks 1, 2, 4 and 7 of 8. Recall ≥ 0.5 is first reached at
    /// rank 2 (precision 1); recall ≥ 0.75 at rank 4 (3/4); recall 1 at rank 7 (4/7).
    #[test]
    fn best_precision_at_recall_reads_the_best_cutoff() {
        let scores = [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0];
        let pos = [true, true, false, true, false, false, true, false];
        assert_eq!(best_precision_at_recall(&scores, &pos, 0.5), Some(1.0));
        assert_eq!(best_precision_at_recall(&scores, &pos, 0.75), Some(0.75));
        assert_eq!(
            best_precision_at_recall(&scores, &pos, 1.0),
            Some(4.0 / 7.0)
        );
        // A later cutoff can be better than the first one reaching the recall: with the
        // positives at ranks 1, 3 and 4, recall 0.6 is first reached at rank 3 (2/3), and
        // rank 4 gives 3/4.
        let pos = [true, false, true, true, false, false, false, false];
        assert_eq!(best_precision_at_recall(&scores, &pos, 0.6), Some(0.75));
        assert_eq!(best_precision_at_recall(&scores, &[false; 8], 0.8), None);
    }

    /// Equal scores are flagged together: a tie between a positive and a negative at the top
    /// gives precision 1/2, never 1.
    #[test]
    fn a_cutoff_never_splits_a_tie() {
        let scores = [1.0, 1.0, 0.5];
        let pos = [false, true, false];
        assert_eq!(best_precision_at_recall(&scores, &pos, 1.0), Some(0.5));
    }
}
