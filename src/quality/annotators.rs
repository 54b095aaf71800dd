//! Each annotator's own labels, as the project stores them (`ImageEntry::given`: the last
//! class each annotator gave each image, kept by every journaled change; a confirmation of the
//! label the image already had counts), and the agreement between annotators. The project's
//! current label stays the consensus.

use std::collections::{BTreeMap, HashMap};

use super::agreement::{Agreement, cohen, fleiss};
use crate::project::ids::ImageId;
use crate::project::{LabelChange, Project, ProjectError, Workspace};
use crate::taxonomy::ClassId;

/// The pseudo-annotator whose labels are the dataset's original labels.
pub const ORIGINAL: &str = "original";

/// Every annotator's labels: annotator → image → class, from the project's stored labels.
pub fn annotator_labels(project: &Project) -> BTreeMap<String, HashMap<ImageId, ClassId>> {
    let mut out: BTreeMap<String, HashMap<ImageId, ClassId>> = BTreeMap::new();
    for im in &project.images {
        for (who, &class) in &im.given {
            out.entry(who.clone()).or_default().insert(im.id, class);
        }
    }
    out
}

/// The annotators who labelled at least one image, in name order.
pub fn annotators_with_labels(project: &Project) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = project
        .images
        .iter()
        .flat_map(|im| im.given.keys())
        .collect();
    names.into_iter().cloned().collect()
}

/// Records that `annotator` confirms the current label of each image ("label kept"): one
/// journal line per image with the same old and new class, so the annotator's labels (and
/// agreement) include labels they agreed with. The images become reviewed. Journal first.
pub fn confirm_labels(
    ws: &mut Workspace,
    images: &[ImageId],
    annotator: &str,
) -> Result<(), ProjectError> {
    let mut confirmations = Vec::with_capacity(images.len());
    for &id in images {
        let im = ws.project.image(id).ok_or(ProjectError::UnknownImage(id))?;
        confirmations.push(LabelChange {
            image: id,
            old: im.current,
            new: im.current,
        });
    }
    ws.apply(&confirmations, annotator)
}

/// Agreement between the chosen annotators, with the classes the matrix is indexed by.
#[derive(Clone, Debug)]
pub struct AgreementReport {
    pub annotators: Vec<String>,
    /// The classes of the matrix's rows and columns, in taxonomy order.
    pub classes: Vec<ClassId>,
    pub class_names: Vec<String>,
    pub agreement: Agreement,
    /// Images the annotators labelled differently.
    pub disagreements: Vec<ImageId>,
}

/// Cohen's κ (two annotators) or Fleiss' κ (more) over the images every chosen annotator
/// labelled. `chosen` empty: every annotator with labels. `"original"` names the dataset's
/// labels. Errors in words for an unknown annotator, fewer than two, or no common image.
pub fn agreement(project: &Project, chosen: &[String]) -> Result<AgreementReport, String> {
    let mut labels = annotator_labels(project);
    if chosen.iter().any(|c| c == ORIGINAL) {
        let original = project
            .images
            .iter()
            .map(|im| (im.id, im.original))
            .collect();
        labels.insert(ORIGINAL.to_string(), original);
    }
    let names: Vec<String> = if chosen.is_empty() {
        labels.keys().cloned().collect()
    } else {
        chosen.to_vec()
    };
    if let Some(unknown) = names.iter().find(|n| !labels.contains_key(*n)) {
        let known: Vec<&str> = labels
            .keys()
            .map(String::as_str)
            .filter(|k| *k != ORIGINAL)
            .collect();
        return Err(format!(
            "no labels by \"{unknown}\"; annotators with labels: {} (and \"{ORIGINAL}\" for the \
             dataset's labels)",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    }
    match names.as_slice() {
        [] => {
            return Err(format!(
                "no annotator has labelled images yet; \
                 agreement needs two, or one and \"{ORIGINAL}\""
            ));
        }
        [only] => {
            return Err(format!(
                "agreement needs two annotators; only \"{only}\" has labelled images (compare \
                 with the dataset's labels: --annotators {only},{ORIGINAL})"
            ));
        }
        _ => {}
    }
    let sets: Vec<&HashMap<ImageId, ClassId>> =
        names.iter().filter_map(|n| labels.get(n)).collect();
    let common: Vec<ImageId> = project
        .images
        .iter()
        .map(|im| im.id)
        .filter(|id| sets.iter().all(|s| s.contains_key(id)))
        .collect();
    if common.is_empty() {
        return Err(format!(
            "no image was labelled by all of {}",
            names.join(", ")
        ));
    }
    let classes: Vec<ClassId> = project
        .taxonomy
        .classes
        .iter()
        .map(|c| c.id)
        .filter(|c| {
            common
                .iter()
                .any(|id| sets.iter().any(|s| s.get(id) == Some(c)))
        })
        .collect();
    let index = |c: ClassId| classes.iter().position(|x| *x == c).unwrap_or(0);
    let ratings: Vec<Vec<usize>> = common
        .iter()
        .map(|id| sets.iter().map(|s| index(s[id])).collect())
        .collect();
    let disagreements = common
        .iter()
        .zip(&ratings)
        .filter(|(_, r)| r.iter().any(|&x| x != r[0]))
        .map(|(id, _)| *id)
        .collect();
    let agreement = if names.len() == 2 {
        let a: Vec<usize> = ratings.iter().map(|r| r[0]).collect();
        let b: Vec<usize> = ratings.iter().map(|r| r[1]).collect();
        cohen(&a, &b, classes.len())?
    } else {
        fleiss(&ratings, classes.len())?
    };
    Ok(AgreementReport {
        class_names: classes.iter().map(|&c| project.taxonomy.name(c)).collect(),
        annotators: names,
        classes,
        agreement,
        disagreements,
    })
}

/// One image that annotators labelled differently, with each annotator's class.
#[derive(Clone, Debug, PartialEq)]
pub struct Disagreement {
    pub image: ImageId,
    /// (annotator, class), in annotator name order.
    pub labels: Vec<(String, ClassId)>,
}

/// The images that at least two annotators labelled, not all alike, in project order (the
/// Disagreements queue). The dataset's original label is not an annotator here.
pub fn disagreements(project: &Project) -> Vec<Disagreement> {
    project
        .images
        .iter()
        .filter_map(|im| {
            let given: Vec<(String, ClassId)> =
                im.given.iter().map(|(who, &c)| (who.clone(), c)).collect();
            let differ = given.iter().any(|(_, c)| *c != given[0].1);
            (given.len() >= 2 && differ).then_some(Disagreement {
                image: im.id,
                labels: given,
            })
        })
        .collect()
}
