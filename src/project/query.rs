//! Filtering and sorting the images of a project (what the gallery shows).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{ImageEntry, ImageId, Project};
use crate::taxonomy::ClassId;

/// Which images to show. All conditions must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub current: Option<ClassId>,
    pub original: Option<ClassId>,
    /// Only images whose current label differs from the original one.
    pub changed_only: bool,
    /// Only images nobody has reviewed yet.
    pub unreviewed_only: bool,
    /// Case-insensitive substring of the file path.
    pub name_contains: String,
    /// Exactly these images (e.g. a confusion-matrix cell); `None` = no restriction.
    pub only: Option<Vec<ImageId>>,
    /// Only images the latest cross-validated networks predicted as this output (index into
    /// the sweep's outputs); images without a prediction then do not match.
    #[serde(default)]
    pub predicted: Option<usize>,
    /// Only images whose prediction disagrees with their sweep target.
    #[serde(default)]
    pub misclassified_only: bool,
    /// Only label conflicts: images whose content another image has under another current
    /// class (see [`label_conflicts`]).
    #[serde(default)]
    pub conflicts_only: bool,
}

/// Cross-validated predictions per image: (predicted output, target output, uncertainty 0–1).
pub type Predicted = std::collections::HashMap<ImageId, (usize, usize, f32)>;

impl Filter {
    pub fn matches(&self, im: &ImageEntry) -> bool {
        self.current.is_none_or(|c| im.current == c)
            && self.original.is_none_or(|c| im.original == c)
            && (!self.changed_only || im.current != im.original)
            && (!self.unreviewed_only || !im.reviewed)
            && (self.name_contains.is_empty()
                || im
                    .path
                    .to_lowercase()
                    .contains(&self.name_contains.to_lowercase()))
            && self.only.as_ref().is_none_or(|ids| ids.contains(&im.id))
    }

    pub fn is_active(&self) -> bool {
        *self != Self::default()
    }
}

/// Order of the gallery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sort {
    /// Import order.
    #[default]
    Import,
    FileName,
    /// By current class in taxonomy order, then import order.
    CurrentClass,
    /// By original class in taxonomy order, then import order.
    OriginalClass,
    /// Most uncertain cross-validated prediction first (images without one last).
    Uncertainty,
}

impl Sort {
    pub const ALL: [Sort; 5] = [
        Sort::Import,
        Sort::FileName,
        Sort::CurrentClass,
        Sort::OriginalClass,
        Sort::Uncertainty,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Sort::Import => "import order",
            Sort::FileName => "file name",
            Sort::CurrentClass => "current class",
            Sort::OriginalClass => "original class",
            Sort::Uncertainty => "prediction uncertainty",
        }
    }
}

/// The ids of the images that pass `filter`, in `sort` order.
pub fn select(project: &Project, filter: &Filter, sort: Sort) -> Vec<ImageId> {
    select_with(project, filter, sort, &Predicted::new())
}

/// [`select`] with cross-validated predictions for the prediction filters and sort.
pub fn select_with(
    project: &Project,
    filter: &Filter,
    sort: Sort,
    predicted: &Predicted,
) -> Vec<ImageId> {
    let pred_ok = |im: &ImageEntry| {
        let p = predicted.get(&im.id);
        filter.predicted.is_none_or(|c| p.is_some_and(|p| p.0 == c))
            && (!filter.misclassified_only || p.is_some_and(|p| p.0 != p.1))
    };
    let conflicts = if filter.conflicts_only {
        label_conflicts(project)
    } else {
        HashSet::new()
    };
    let mut v: Vec<&ImageEntry> = project
        .images
        .iter()
        .filter(|im| filter.matches(im) && pred_ok(im))
        .filter(|im| !filter.conflicts_only || conflicts.contains(&im.id))
        .collect();
    let rank = |c: ClassId| project.taxonomy.index_of(c).unwrap_or(usize::MAX);
    match sort {
        Sort::Import => {}
        Sort::FileName => v.sort_by(|a, b| a.path.cmp(&b.path)),
        Sort::CurrentClass => v.sort_by_key(|im| (rank(im.current), im.id)),
        Sort::OriginalClass => v.sort_by_key(|im| (rank(im.original), im.id)),
        Sort::Uncertainty => v.sort_by(|a, b| {
            let u = |im: &ImageEntry| predicted.get(&im.id).map(|p| p.2).unwrap_or(-1.0);
            u(b).total_cmp(&u(a)).then(a.id.cmp(&b.id))
        }),
    }
    v.into_iter().map(|im| im.id).collect()
}

/// The images whose content (hash) another image of the project has under another current
/// class: the same cell labelled two ways, found in public sets. Relabelling them to one class
/// resolves the conflict.
pub fn label_conflicts(project: &Project) -> HashSet<ImageId> {
    let mut by_hash: HashMap<&str, Vec<&ImageEntry>> = HashMap::new();
    for im in &project.images {
        by_hash.entry(im.hash.as_str()).or_default().push(im);
    }
    by_hash
        .into_values()
        .filter(|group| group.iter().any(|im| im.current != group[0].current))
        .flatten()
        .map(|im| im.id)
        .collect()
}

/// The next image after `from` (in `order`, wrapping) that nobody has reviewed yet.
pub fn next_unreviewed(
    project: &Project,
    order: &[ImageId],
    from: Option<ImageId>,
) -> Option<ImageId> {
    let start = from
        .and_then(|f| order.iter().position(|&i| i == f))
        .map(|p| p + 1)
        .unwrap_or(0);
    (0..order.len())
        .map(|k| order[(start + k) % order.len()])
        .find(|&id| project.image(id).is_some_and(|im| !im.reviewed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prediction_filters_and_uncertainty_sort() {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::demo::create_demo_project(dir.path(), 2, 48, 3).unwrap();
        let project = crate::project::Workspace::open(&path).unwrap().project;
        let ids: Vec<ImageId> = project.images.iter().map(|i| i.id).collect();
        assert!(ids.len() >= 4);
        let mut pred = Predicted::new();
        pred.insert(ids[0], (1, 1, 0.10));
        pred.insert(ids[1], (1, 0, 0.45));
        pred.insert(ids[2], (0, 0, 0.30));
        let by = |f: Filter, s: Sort| select_with(&project, &f, s, &pred);
        let predicted_one = Filter {
            predicted: Some(1),
            ..Filter::default()
        };
        assert_eq!(by(predicted_one, Sort::Import), vec![ids[0], ids[1]]);
        let wrong = Filter {
            misclassified_only: true,
            ..Filter::default()
        };
        assert_eq!(by(wrong, Sort::Import), vec![ids[1]]);
        let order = by(Filter::default(), Sort::Uncertainty);
        assert_eq!(&order[..3], &[ids[1], ids[2], ids[0]]);
        assert_eq!(
            order.len(),
            ids.len(),
            "images without a prediction stay, last"
        );
        // Without predictions the prediction filter matches nothing.
        let none = select(
            &project,
            &Filter {
                predicted: Some(0),
                ..Filter::default()
            },
            Sort::Import,
        );
        assert!(none.is_empty());
    }
}
