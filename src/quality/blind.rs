//! Blind mode's rules, for the gallery and the viewer: the images in a seeded random order
//! (from the project file's seed), the only label shown being the one the annotator gave
//! (`annotators::annotator_labels`, stored in the project).

use std::collections::HashMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::annotators::annotator_labels;
use crate::project::Project;
use crate::project::ids::ImageId;
use crate::taxonomy::ClassId;

/// `ids` in blind order: every image of the project is shuffled once with the project's seed
/// and `ids` keep their places in that shuffle, so a subset (a filter) keeps its relative
/// order and the same seed always gives the same order. Ids the project lacks go last.
pub fn blind_order(project: &Project, ids: &[ImageId]) -> Vec<ImageId> {
    let mut all: Vec<ImageId> = project.images.iter().map(|im| im.id).collect();
    all.sort();
    all.shuffle(&mut ChaCha8Rng::seed_from_u64(project.seed));
    let place: HashMap<ImageId, usize> = all.iter().enumerate().map(|(k, &id)| (id, k)).collect();
    let mut out = ids.to_vec();
    out.sort_by_key(|id| (place.get(id).copied().unwrap_or(usize::MAX), *id));
    out
}

/// The last class `annotator` gave each image (a confirmation counts), as the project stores
/// it. Labelling needs nothing special in blind mode: `Workspace::set_labels` records a class
/// the image has already as a confirmation line when this annotator had not given it.
pub fn own_labels(project: &Project, annotator: &str) -> HashMap<ImageId, ClassId> {
    annotator_labels(project)
        .remove(annotator)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::project::Workspace;

    #[test]
    fn the_blind_order_is_seeded_stable_under_filters_and_not_the_project_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::demo::create_demo_project(&dir.path().join("d"), 3, 24, 1).unwrap();
        let mut p = Workspace::open(&path).unwrap().into_project();
        let ids: Vec<ImageId> = p.images.iter().map(|im| im.id).collect();
        let a = blind_order(&p, &ids);
        assert_eq!(a, blind_order(&p, &ids), "same seed, same order");
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "a permutation");
        assert_ne!(a, ids, "shuffled");
        // A subset keeps its places in the whole order.
        let odd: Vec<ImageId> = ids.iter().copied().filter(|i| i.0 % 2 == 1).collect();
        let want: Vec<ImageId> = a.iter().copied().filter(|i| i.0 % 2 == 1).collect();
        assert_eq!(blind_order(&p, &odd), want);
        p.seed += 1;
        assert_ne!(blind_order(&p, &ids), a, "another seed, another order");
    }

    #[test]
    fn own_labels_are_the_last_class_this_annotator_gave() {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::demo::create_demo_project(&dir.path().join("d"), 2, 24, 1).unwrap();
        let mut ws = Workspace::open(&path).unwrap();
        let t = ws.project.taxonomy.clone();
        let (mono, eos) = (t.find("Monocyte").unwrap(), t.find("Eosinophil").unwrap());
        let (a, b) = (ws.project.images[0].id, ws.project.images[1].id);
        ws.set_labels(&[a], mono, "anna").unwrap();
        ws.set_labels(&[a], eos, "anna").unwrap();
        ws.set_labels(&[b], mono, "ben").unwrap();
        let own = own_labels(&ws.project, "anna");
        assert_eq!(own, HashMap::from([(a, eos)]));
        assert!(own_labels(&ws.project, "carl").is_empty());
        // Blind labelling with the class the image has already is recorded as carl's label.
        let now = ws.project.image(b).unwrap().current;
        let changes = ws.set_labels(&[a, b], now, "carl").unwrap();
        assert_eq!(changes.len(), usize::from(now != eos));
        let own = own_labels(&ws.project, "carl");
        assert_eq!(own, HashMap::from([(a, now), (b, now)]));
    }
}
