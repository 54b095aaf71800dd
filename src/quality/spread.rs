//! "Label next", spread: the most uncertain images reordered so that the first ones are not
//! many copies of one hard case. Greedy and deterministic: walk the uncertainty order and take
//! an image only when it lies at least a radius away (Euclidean) from every image taken
//! before; the images passed over are taken in later passes with half the radius, and so on,
//! until the radius is 0 (everything left, in uncertainty order). Only the first
//! [`SPREAD_HEAD`] images are reordered (the work is quadratic in them); the rest keep their
//! order.
//!
//! The feature space is each image's out-of-fold probability vector from the audit: every
//! audit has it, without decoding an image or running a network, so the queue is spread over
//! the kinds of confusion the model has (lymphocyte-or-monocyte cases apart from
//! band-or-segmented ones). Not the networks' hidden features: each image's out-of-fold
//! prediction comes from one of k networks, whose hidden layers are not comparable with each
//! other, while their probabilities are.

use std::collections::HashMap;

use super::audit::AuditResults;
use crate::project::ids::ImageId;

/// How many of the most uncertain images are reordered.
pub const SPREAD_HEAD: usize = 500;

/// The first pass's radius in probability space (distances there are at most √2).
pub const SPREAD_RADIUS: f64 = 0.25;

/// Below this a pass's radius becomes 0: everything left is taken.
const MIN_RADIUS: f64 = 1e-3;

/// The spread order of points given in uncertainty order: a permutation of `0..features.len()`
/// whose first `head` entries are spread (see the module text) and whose rest is unchanged.
pub fn spread_order(features: &[Vec<f64>], radius: f64, head: usize) -> Vec<usize> {
    let h = head.min(features.len());
    let mut taken = vec![false; h];
    let mut out: Vec<usize> = Vec::with_capacity(features.len());
    let mut r = radius.max(0.0);
    while out.len() < h {
        for i in 0..h {
            if !taken[i]
                && out
                    .iter()
                    .all(|&j| distance2(&features[i], &features[j]) >= r * r)
            {
                taken[i] = true;
                out.push(i);
            }
        }
        r = if r / 2.0 < MIN_RADIUS { 0.0 } else { r / 2.0 };
    }
    out.extend(h..features.len());
    out
}

fn distance2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The Label next queue (`suspects::label_next`: image and margin, most uncertain first)
/// spread over the audit's out-of-fold probabilities.
pub fn spread_queue(queue: &[(ImageId, f64)], results: &AuditResults) -> Vec<ImageId> {
    let probs: HashMap<ImageId, &Vec<f64>> = results
        .snapshot
        .images
        .iter()
        .copied()
        .zip(&results.probabilities)
        .collect();
    let features: Vec<Vec<f64>> = queue
        .iter()
        .map(|(id, _)| probs.get(id).map_or_else(Vec::new, |p| p.to_vec()))
        .collect();
    spread_order(&features, SPREAD_RADIUS, SPREAD_HEAD)
        .into_iter()
        .map(|i| queue[i].0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten near-identical, most uncertain points (cluster 0), then four of cluster 1 and four
    /// of cluster 2, a little less uncertain.
    fn clustered() -> (Vec<Vec<f64>>, Vec<usize>) {
        let mut f = Vec::new();
        let mut cluster = Vec::new();
        for i in 0..10 {
            let e = i as f64 * 0.002;
            f.push(vec![0.5 - e, 0.5 + e, 0.0]);
            cluster.push(0);
        }
        for i in 0..4 {
            let e = i as f64 * 0.003;
            f.push(vec![0.0, 0.45 + e, 0.55 - e]);
            cluster.push(1);
            f.push(vec![0.55 - e, 0.0, 0.45 + e]);
            cluster.push(2);
        }
        (f, cluster)
    }

    #[test]
    fn the_spread_queue_starts_with_one_image_of_each_cluster() {
        let (f, cluster) = clustered();
        let plain: Vec<usize> = (0..f.len()).collect();
        let first3 = |order: &[usize]| {
            let mut c: Vec<usize> = order[..3].iter().map(|&i| cluster[i]).collect();
            c.sort();
            c
        };
        assert_eq!(first3(&plain), vec![0, 0, 0], "plain order: one hard case");
        let spread = spread_order(&f, SPREAD_RADIUS, SPREAD_HEAD);
        assert_eq!(first3(&spread), vec![0, 1, 2]);
        // The most uncertain image stays first, and nothing is lost or repeated.
        assert_eq!(spread[0], 0);
        let mut sorted = spread.clone();
        sorted.sort();
        assert_eq!(sorted, plain);
    }

    #[test]
    fn only_the_head_is_reordered_and_radius_zero_keeps_the_order() {
        let (f, _) = clustered();
        let plain: Vec<usize> = (0..f.len()).collect();
        assert_eq!(spread_order(&f, 0.0, SPREAD_HEAD), plain);
        let head = spread_order(&f, SPREAD_RADIUS, 12);
        assert_eq!(&head[12..], &plain[12..]);
        assert_ne!(&head[..12], &plain[..12]);
        assert!(spread_order(&[], SPREAD_RADIUS, SPREAD_HEAD).is_empty());
    }
}
