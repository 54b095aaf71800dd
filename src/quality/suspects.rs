//! The ranked list of likely mislabelled images of an audit: confident learning over the
//! audit's out-of-fold probabilities, with image paths, class names and, for each suspect,
//! whether its label changed since the audit (then the suggestion is stale and is never
//! applied without a person looking).

use std::collections::HashSet;
use std::path::Path;

use super::audit::{AuditResults, read_audit};
use super::confident::{Filter, Rank, find_label_issues_by};
use crate::project::ids::ImageId;
use crate::project::{JournalEntry, LabelChange, Project, Workspace};
use crate::taxonomy::ClassId;
use crate::train::config::Task;

/// One likely mislabelled image.
#[derive(Clone, Debug, PartialEq)]
pub struct Suspect {
    /// 1-based position in the ranking.
    pub rank: usize,
    pub image: ImageId,
    /// The image's path in the dataset ("?" when the project no longer has it).
    pub path: String,
    /// The label the audit trained on, as an output name.
    pub given: String,
    /// The most probable output other than the given one.
    pub suggested: String,
    /// The class to set when the suggestion is accepted (a multiclass output or a group of one
    /// class; `None` for a group of several classes).
    pub suggested_class: Option<ClassId>,
    /// The out-of-fold probability of the suggested output.
    pub probability: f64,
    /// The ranking score (lower is more suspicious).
    pub score: f64,
    /// The image's label changed since the audit (or it left the project): the suggestion no
    /// longer applies as it was made.
    pub stale: bool,
}

/// The suspects of an audit and what confident learning estimated.
#[derive(Clone, Debug)]
pub struct SuspectList {
    pub audit: String,
    pub suspects: Vec<Suspect>,
    /// The estimated number of label issues (calibrated confident joint).
    pub estimated_issues: usize,
    /// The number of images the audit covered.
    pub images: usize,
}

/// The suspects of the audit named `audit` of the project at `project_path`, flagged by
/// `filter` and ordered by `rank`.
pub fn suspects(
    project: &Project,
    project_path: &Path,
    audit: &str,
    rank: Rank,
    filter: Filter,
) -> Result<SuspectList, String> {
    let results = read_audit(project_path, audit)?;
    rank_suspects(project, &results, audit, rank, filter)
}

/// Confident learning over an audit's results, named and checked against the project's
/// current labels.
pub fn rank_suspects(
    project: &Project,
    results: &AuditResults,
    audit: &str,
    rank: Rank,
    filter: Filter,
) -> Result<SuspectList, String> {
    let found = find_label_issues_by(results.labels(), &results.probabilities, rank, filter)?;
    let snap = &results.snapshot;
    let names = &snap.output_names;
    let task = &snap.config.task;
    let suspects = found
        .ranked
        .iter()
        .enumerate()
        .map(|(i, issue)| {
            let id = snap.images[issue.index];
            let image = project.image(id);
            let stale = image
                .is_none_or(|im| task.target(&project.taxonomy, im.current) != Some(issue.given));
            Suspect {
                rank: i + 1,
                image: id,
                path: image.map_or("?".into(), |im| im.path.clone()),
                given: names[issue.given].clone(),
                suggested: names[issue.suggested].clone(),
                suggested_class: output_class(task, issue.suggested),
                probability: issue.probability,
                score: issue.score,
                stale,
            }
        })
        .collect();
    Ok(SuspectList {
        audit: audit.to_string(),
        suspects,
        estimated_issues: found.estimated_issues,
        images: snap.images.len(),
    })
}

/// The images someone accepted, confirmed or relabelled since the audit's snapshot was taken:
/// those with a journal line newer than the snapshot's `journal_seq` (found as the replay
/// finds them, `Project::journal_image`). Empty for snapshots from before `journal_seq` was recorded.
pub fn handled_since_audit(
    project: &Project,
    results: &AuditResults,
    history: &[JournalEntry],
) -> HashSet<ImageId> {
    let Some(seq) = results.snapshot.journal_seq else {
        return HashSet::new();
    };
    history
        .iter()
        .filter(|e| e.seq > seq)
        .filter_map(|e| project.journal_image(e))
        .collect()
}

/// The Likely-mislabelled queue: the ranked suspects that are neither stale nor handled since
/// the audit ([`handled_since_audit`]), so a confirmed, accepted or relabelled image does not
/// come back when the project is opened again.
pub fn open_suspects(list: &SuspectList, handled: &HashSet<ImageId>) -> Vec<Suspect> {
    list.suspects
        .iter()
        .filter(|s| !s.stale && !handled.contains(&s.image))
        .cloned()
        .collect()
}

/// The one class an output of a task stands for (a multiclass output, or a group of one
/// class); `None` for a group of several classes.
fn output_class(task: &Task, output: usize) -> Option<ClassId> {
    match task {
        Task::Multiclass { classes } => classes.get(output).copied(),
        Task::Groups { positive, negative } => {
            match (output, positive.as_slice(), negative.as_slice()) {
                (1, [only], _) | (0, _, [only]) => Some(*only),
                _ => None,
            }
        }
        Task::Binary => None,
    }
}

/// The suspects as CSV: rank, image id, path, given, suggested, probability, score, stale.
pub fn suspects_csv(list: &SuspectList) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| e.to_string();
    w.write_record([
        "rank",
        "image",
        "path",
        "given",
        "suggested",
        "probability",
        "score",
        "stale",
    ])
    .map_err(err)?;
    for s in &list.suspects {
        w.write_record([
            s.rank.to_string(),
            s.image.0.to_string(),
            s.path.clone(),
            s.given.clone(),
            s.suggested.clone(),
            format!("{:.4}", s.probability),
            format!("{:.4}", s.score),
            s.stale.to_string(),
        ])
        .map_err(err)?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// The journal source of a label set by accepting an audit's suggestion.
pub fn suggestion_source(audit: &str) -> String {
    format!("audit {audit}")
}

/// Accepts a suspect's suggestion: its image gets the suggested class, journaled with the
/// audit as the change's source (undoable like any change: the returned change). Refused,
/// with the reason, when the suggestion is stale (the label changed since the audit) or names
/// no single class (a binary or two-group audit).
pub fn accept_suggestion(
    ws: &mut Workspace,
    audit: &str,
    suspect: &Suspect,
    annotator: &str,
) -> Result<LabelChange, String> {
    if suspect.stale {
        return Err(format!(
            "the suggestion for {} is stale: its label changed since the audit \"{audit}\"",
            suspect.path
        ));
    }
    let Some(class) = suspect.suggested_class else {
        return Err(format!(
            "\"{}\" is a group of the audit's task, not a class; choose the class by hand",
            suspect.suggested
        ));
    };
    let old = ws
        .project
        .image(suspect.image)
        .ok_or_else(|| format!("no image with id {}", suspect.image.0))?
        .current;
    if ws.project.taxonomy.name(old) != suspect.given {
        return Err(format!(
            "the suggestion for {} is stale: it is labelled {} now, not {} as in the audit \"{audit}\"",
            suspect.path,
            ws.project.taxonomy.name(old),
            suspect.given
        ));
    }
    let change = LabelChange {
        image: suspect.image,
        old,
        new: class,
    };
    ws.apply_from(
        std::slice::from_ref(&change),
        annotator,
        Some(&suggestion_source(audit)),
    )
    .map_err(|e| e.to_string())?;
    Ok(change)
}

/// The "label next" queue: the audit's images nobody has reviewed yet, most uncertain first
/// (smallest margin between the two most probable outputs), with that margin.
pub fn label_next(project: &Project, results: &super::audit::AuditResults) -> Vec<(ImageId, f64)> {
    let mut queue: Vec<(ImageId, f64)> = results
        .snapshot
        .images
        .iter()
        .zip(&results.probabilities)
        .filter(|(id, _)| project.image(**id).is_some_and(|im| !im.reviewed))
        .map(|(id, p)| (*id, top_two_margin(p)))
        .collect();
    queue.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    queue
}

/// The largest probability minus the second largest (1 with a single output).
pub fn top_two_margin(probs: &[f64]) -> f64 {
    let mut first = f64::NEG_INFINITY;
    let mut second = f64::NEG_INFINITY;
    for &p in probs {
        if p > first {
            second = first;
            first = p;
        } else if p > second {
            second = p;
        }
    }
    if second.is_finite() {
        first - second
    } else {
        1.0
    }
}
