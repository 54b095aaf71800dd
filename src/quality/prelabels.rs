//! Pre-labels on the gallery: the stored suggestions of `leukolens predict`
//! (`<project>.suggestions.ron`) matched to the project's images, whether each one is stale,
//! and accepting one as an ordinary journaled label change (source "predict MODEL").
//!
//! A suggestion is matched to an image by id and content hash (by the hash alone when the
//! image's id changed, as the journal replay finds images). It is **stale** when the image's
//! current label is not the label it had when the suggestion was made (`Suggestion::label`):
//! someone relabelled it since, so the model's opinion was given on another question. A stale
//! suggestion is shown as such and never applied.

use std::collections::HashMap;
use std::path::Path;

use super::predict::{Suggestions, load_suggestions};
use crate::project::ids::ImageId;
use crate::project::{LabelChange, Project, Workspace};
use crate::taxonomy::{ClassId, Taxonomy};

/// One image's suggestion, matched to the project.
#[derive(Clone, Debug, PartialEq)]
pub struct PreLabel {
    /// The suggested output's name.
    pub output: String,
    /// The class to set when it is accepted (`None`: the output is not one class of the
    /// project).
    pub class: Option<ClassId>,
    pub probability: f32,
    /// The margin between the two most probable outputs (`None` in older files).
    pub margin: Option<f32>,
    /// The image's label when the suggestion was made (`None` in older files).
    pub label: Option<ClassId>,
}

/// A pre-label as the gallery shows it: the suggestion and whether it is stale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shown<'a> {
    pub pre: &'a PreLabel,
    pub stale: bool,
}

/// The stored suggestions, by image.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PreLabels {
    /// Which network made them.
    pub model: String,
    by_image: HashMap<ImageId, PreLabel>,
    /// Suggestions for images the project no longer has (neither id nor content found).
    pub unmatched: usize,
}

impl PreLabels {
    /// Matches the suggestions to the project's images: by id when the hash agrees, else by
    /// content hash; suggestions naming a class the taxonomy lacks keep their output name but
    /// no class.
    pub fn matched(project: &Project, s: &Suggestions) -> Self {
        let by_hash: HashMap<&str, ImageId> = project
            .images
            .iter()
            .map(|im| (im.hash.as_str(), im.id))
            .collect();
        let mut by_image = HashMap::new();
        let mut unmatched = 0;
        for sug in &s.suggestions {
            let id = match project.image(sug.image) {
                Some(im) if im.hash == sug.hash => Some(sug.image),
                _ => by_hash.get(sug.hash.as_str()).copied(),
            };
            let Some(id) = id else {
                unmatched += 1;
                continue;
            };
            let known = |c: &ClassId| project.taxonomy.get(*c).is_some();
            by_image.insert(
                id,
                PreLabel {
                    output: sug.output.clone(),
                    class: sug.class.filter(known),
                    probability: sug.probability,
                    margin: sug.margin,
                    label: sug.label.filter(known),
                },
            );
        }
        Self {
            model: s.model.clone(),
            by_image,
            unmatched,
        }
    }

    /// The suggestions stored beside the project at `project_path`, matched to `project`
    /// (`None` when there are none).
    pub fn load(project: &Project, project_path: &Path) -> Result<Option<Self>, String> {
        Ok(load_suggestions(project_path)?.map(|s| Self::matched(project, &s)))
    }

    /// The number of images with a suggestion.
    pub fn len(&self) -> usize {
        self.by_image.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_image.is_empty()
    }

    /// The suggestion for an image, whatever its label now.
    pub fn get(&self, id: ImageId) -> Option<&PreLabel> {
        self.by_image.get(&id)
    }

    /// The suggestion to show on an image: `None` when it has none or the suggested class is
    /// its current label already.
    pub fn shown(&self, project: &Project, id: ImageId) -> Option<Shown<'_>> {
        let pre = self.by_image.get(&id)?;
        let current = project.image(id)?.current;
        if pre.class == Some(current) {
            return None;
        }
        Some(Shown {
            pre,
            stale: is_stale(pre, current),
        })
    }
}

/// The cells of the Unlabelled class that nobody reviewed and that have a suggestion with a
/// margin, most uncertain (smallest margin) first, with that margin: the Label next
/// candidates an audit cannot give, since audits leave that class out. Empty without an
/// Unlabelled class.
pub fn unlabelled_queue(project: &Project, pre: &PreLabels) -> Vec<(ImageId, f64)> {
    let Some(unlabelled) = project.taxonomy.unlabelled() else {
        return Vec::new();
    };
    let mut queue: Vec<(ImageId, f64)> = project
        .images
        .iter()
        .filter(|im| im.current == unlabelled && !im.reviewed)
        .filter_map(|im| {
            let margin = pre.get(im.id)?.margin?;
            Some((im.id, f64::from(margin)))
        })
        .collect();
    queue.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    queue
}

/// The image's label is not the one it had when the suggestion was made (or that label was
/// not recorded).
pub fn is_stale(pre: &PreLabel, current: ClassId) -> bool {
    pre.label != Some(current)
}

/// What a tile says about a suggestion: `-> Monocyte 0.87`, with ` (stale)` when it is.
pub fn shown_text(s: Shown<'_>, taxonomy: &Taxonomy) -> String {
    let name = s
        .pre
        .class
        .map_or(s.pre.output.clone(), |c| taxonomy.name(c));
    let stale = if s.stale { " (stale)" } else { "" };
    format!("-> {name} {:.2}{stale}", s.pre.probability)
}

/// The journal source of a label set by accepting a model's suggestion.
pub fn prelabel_source(model: &str) -> String {
    format!("predict {model}")
}

/// Accepts the suggestion for `id`: the image gets the suggested class, journaled with the
/// model as the change's source, and the change is returned (for undo). Refused, with the
/// reason and nothing changed, when the image has no suggestion, when it is stale, when the
/// output is not one class, or when the image has that label already.
pub fn accept_prelabel(
    ws: &mut Workspace,
    pre: &PreLabels,
    id: ImageId,
    annotator: &str,
) -> Result<LabelChange, String> {
    let im = ws
        .project
        .image(id)
        .ok_or_else(|| format!("no image with id {}", id.0))?;
    let t = &ws.project.taxonomy;
    let s = pre
        .get(id)
        .ok_or_else(|| format!("no suggestion for {}", im.path))?;
    if is_stale(s, im.current) {
        return Err(match s.label {
            Some(then) => format!(
                "the suggestion for {} is stale: it was labelled {} when \"{}\" suggested {}, \
                 and is {} now; not applied (set the label by hand)",
                im.path,
                t.name(then),
                pre.model,
                s.output,
                t.name(im.current)
            ),
            None => format!(
                "the suggestion for {} is stale: the suggestions file does not say which label \
                 the image had when it was made; not applied (run leukolens predict again)",
                im.path
            ),
        });
    }
    let Some(class) = s.class else {
        return Err(format!(
            "\"{}\" is not a class of the project; choose the class by hand",
            s.output
        ));
    };
    if class == im.current {
        return Err(format!("{} is labelled {} already", im.path, t.name(class)));
    }
    let change = LabelChange {
        image: id,
        old: im.current,
        new: class,
    };
    ws.apply_from(
        std::slice::from_ref(&change),
        annotator,
        Some(&prelabel_source(&pre.model)),
    )
    .map_err(|e| format!("label not changed: {e}"))?;
    Ok(change)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::quality::predict::Suggestion;

    fn suggestion(project: &Project, k: usize, class: &str, label: Option<&str>) -> Suggestion {
        let im = &project.images[k];
        let t = &project.taxonomy;
        Suggestion {
            image: im.id,
            hash: im.hash.clone(),
            output: class.into(),
            class: t.find(class),
            probability: 0.87,
            margin: Some(0.74),
            label: label.map(|l| t.find(l).unwrap()),
        }
    }

    #[test]
    fn unreviewed_unlabelled_cells_with_a_margin_queue_most_uncertain_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = project(dir.path());
        let p = &mut ws.project;
        assert!(
            unlabelled_queue(p, &PreLabels::default()).is_empty(),
            "no such class"
        );
        let unl = p.taxonomy.ensure_unlabelled();
        for im in p.images.iter_mut().take(4) {
            im.current = unl;
            im.reviewed = false;
        }
        p.images[3].reviewed = true;
        let mut s = Suggestions {
            model: "m".into(),
            suggestions: (0..6).map(|k| suggestion(p, k, "Monocyte", None)).collect(),
        };
        // Image 0: sure; 1: unsure; 2: an older file without margin; 3: reviewed; 4, 5: not
        // in the Unlabelled class.
        s.suggestions[0].margin = Some(0.9);
        s.suggestions[1].margin = Some(0.05);
        s.suggestions[2].margin = None;
        let pre = PreLabels::matched(p, &s);
        let queue = unlabelled_queue(p, &pre);
        let ids: Vec<ImageId> = queue.iter().map(|q| q.0).collect();
        assert_eq!(ids, vec![p.images[1].id, p.images[0].id]);
        assert!((queue[0].1 - 0.05).abs() < 1e-6);
    }

    /// A demo project whose first images (in the project's order) are no monocytes.
    fn project(dir: &Path) -> Workspace {
        let path = crate::demo::create_demo_project(&dir.join("demo"), 2, 24, 1).unwrap();
        let mut ws = Workspace::open(&path).unwrap();
        let mono = ws.project.taxonomy.find("Monocyte").unwrap();
        ws.project.images.sort_by_key(|im| im.current == mono);
        ws
    }

    #[test]
    fn suggestions_match_by_id_and_hash_then_by_hash_alone() {
        let dir = tempfile::tempdir().unwrap();
        let ws = project(dir.path());
        let p = &ws.project;
        let now = |k: usize| p.taxonomy.name(p.images[k].current);
        let mut moved = suggestion(p, 1, "Monocyte", Some(&now(1)));
        // Another id but the content of image 1: found by hash.
        moved.image = p.images[2].id;
        let mut gone = suggestion(p, 3, "Monocyte", None);
        gone.hash = "no such content".into();
        let s = Suggestions {
            model: "m".into(),
            suggestions: vec![suggestion(p, 0, "Monocyte", Some(&now(0))), moved, gone],
        };
        let pre = PreLabels::matched(p, &s);
        assert_eq!(pre.len(), 2);
        assert_eq!(pre.unmatched, 1);
        assert!(pre.get(p.images[0].id).is_some());
        assert!(pre.get(p.images[1].id).is_some(), "matched by content");
        assert!(pre.get(p.images[2].id).is_none(), "its hash differs");
    }

    #[test]
    fn a_suggestion_is_stale_once_the_label_changed_and_hidden_when_it_is_the_label() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = project(dir.path());
        let p = &ws.project;
        let im = p.images[0].clone();
        let mono = p.taxonomy.find("Monocyte").unwrap();
        assert_ne!(im.current, mono);
        let s = Suggestions {
            model: "m".into(),
            suggestions: vec![suggestion(
                p,
                0,
                "Monocyte",
                Some(&p.taxonomy.name(im.current)),
            )],
        };
        let pre = PreLabels::matched(p, &s);
        let shown = pre.shown(p, im.id).unwrap();
        assert!(!shown.stale);
        assert_eq!(shown_text(shown, &p.taxonomy), "-> Monocyte 0.87");
        // Someone relabels it to a third class: stale, and accepting is refused.
        let other = p
            .taxonomy
            .classes
            .iter()
            .map(|c| c.id)
            .find(|&c| c != mono && c != im.current)
            .unwrap();
        ws.set_labels(&[im.id], other, "anna").unwrap();
        let shown = pre.shown(&ws.project, im.id).unwrap();
        assert!(shown.stale);
        assert!(shown_text(shown, &ws.project.taxonomy).ends_with("(stale)"));
        let e = accept_prelabel(&mut ws, &pre, im.id, "anna").unwrap_err();
        assert!(e.contains("is stale"), "{e}");
        assert_eq!(ws.project.image(im.id).unwrap().current, other);
        // Labelled as suggested: nothing to show.
        ws.set_labels(&[im.id], mono, "anna").unwrap();
        assert!(pre.shown(&ws.project, im.id).is_none());
    }

    #[test]
    fn accepting_journals_the_model_and_refuses_unrecorded_labels_and_groups() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = project(dir.path());
        let p = &ws.project;
        let now = |k: usize| p.taxonomy.name(p.images[k].current);
        let mut group = suggestion(p, 2, "Monocyte", Some(&now(2)));
        group.output = "blast".into();
        group.class = None;
        let s = Suggestions {
            model: "sweep \"s\" fold 1".into(),
            suggestions: vec![
                suggestion(p, 0, "Monocyte", Some(&now(0))),
                suggestion(p, 1, "Monocyte", None),
                group,
            ],
        };
        let pre = PreLabels::matched(p, &s);
        let (a, b, c) = (p.images[0].id, p.images[1].id, p.images[2].id);
        let change = accept_prelabel(&mut ws, &pre, a, "anna").unwrap();
        assert_eq!(change.new, ws.project.taxonomy.find("Monocyte").unwrap());
        assert_eq!(ws.project.image(a).unwrap().current, change.new);
        let last = ws.history().unwrap().pop().unwrap();
        assert_eq!(last.source.as_deref(), Some("predict sweep \"s\" fold 1"));
        assert_eq!(
            (last.image, last.old, last.new),
            (a, change.old, change.new)
        );
        let e = accept_prelabel(&mut ws, &pre, b, "anna").unwrap_err();
        assert!(e.contains("does not say which label"), "{e}");
        let e = accept_prelabel(&mut ws, &pre, c, "anna").unwrap_err();
        assert!(e.contains("\"blast\" is not a class"), "{e}");
        let d = ws.project.images[3].id;
        let e = accept_prelabel(&mut ws, &pre, d, "anna").unwrap_err();
        assert!(e.starts_with("no suggestion for"), "{e}");
        assert_eq!(ws.history().unwrap().len(), 1, "only the accepted one");
    }
}
