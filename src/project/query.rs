//! Filtering and sorting the images of a project (what the gallery shows).

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
}

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
}

impl Sort {
    pub const ALL: [Sort; 4] = [
        Sort::Import,
        Sort::FileName,
        Sort::CurrentClass,
        Sort::OriginalClass,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Sort::Import => "import order",
            Sort::FileName => "file name",
            Sort::CurrentClass => "current class",
            Sort::OriginalClass => "original class",
        }
    }
}

/// The ids of the images that pass `filter`, in `sort` order.
pub fn select(project: &Project, filter: &Filter, sort: Sort) -> Vec<ImageId> {
    let mut v: Vec<&ImageEntry> = project
        .images
        .iter()
        .filter(|im| filter.matches(im))
        .collect();
    let rank = |c: ClassId| project.taxonomy.index_of(c).unwrap_or(usize::MAX);
    match sort {
        Sort::Import => {}
        Sort::FileName => v.sort_by(|a, b| a.path.cmp(&b.path)),
        Sort::CurrentClass => v.sort_by_key(|im| (rank(im.current), im.id)),
        Sort::OriginalClass => v.sort_by_key(|im| (rank(im.original), im.id)),
    }
    v.into_iter().map(|im| im.id).collect()
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
