//! Seeded, stratified splits into training, validation and test sets.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Indices into the list of samples given to [`split`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

/// Splits samples (given by their target class) into disjoint sets:
/// - `n_train` training samples balanced across classes (as equal as availability allows),
/// - `n_val` validation samples, balanced likewise,
/// - `n_test` test samples (or all the rest when `None`), stratified by taking the rest in
///   proportion.
///
/// Everything is a function of `seed`. Classes with too few samples give what they have.
pub fn split(
    targets: &[usize],
    n_classes: usize,
    n_train: usize,
    n_val: usize,
    n_test: Option<usize>,
    seed: u64,
) -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pools: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &t) in targets.iter().enumerate() {
        if t < n_classes {
            pools[t].push(i);
        }
    }
    for p in &mut pools {
        p.shuffle(&mut rng);
    }
    let train = take_balanced(&mut pools, n_train);
    let val = take_balanced(&mut pools, n_val);
    let rest_total: usize = pools.iter().map(Vec::len).sum();
    let test = match n_test {
        None => pools.iter().flatten().copied().collect(),
        Some(n) if n >= rest_total => pools.iter().flatten().copied().collect(),
        Some(n) => {
            // Proportional allocation with largest remainders.
            let mut quota: Vec<(usize, f64)> = pools
                .iter()
                .map(|p| {
                    let exact = n as f64 * p.len() as f64 / rest_total as f64;
                    (exact.floor() as usize, exact - exact.floor())
                })
                .collect();
            let mut left = n - quota.iter().map(|q| q.0).sum::<usize>();
            let mut order: Vec<usize> = (0..quota.len()).collect();
            order.sort_by(|a, b| quota[*b].1.total_cmp(&quota[*a].1).then(a.cmp(b)));
            for c in order {
                if left == 0 {
                    break;
                }
                if quota[c].0 < pools[c].len() {
                    quota[c].0 += 1;
                    left -= 1;
                }
            }
            pools
                .iter()
                .zip(&quota)
                .flat_map(|(p, q)| p[..q.0.min(p.len())].iter().copied())
                .collect()
        }
    };
    let mut s = Split { train, val, test };
    s.train.sort_unstable();
    s.val.sort_unstable();
    s.test.sort_unstable();
    s
}

/// Takes `n` samples round-robin over the classes (so as balanced as possible), removing them
/// from the pools.
fn take_balanced(pools: &mut [Vec<usize>], n: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut took = false;
        for p in pools.iter_mut() {
            if out.len() == n {
                break;
            }
            if let Some(i) = p.pop() {
                out.push(i);
                took = true;
            }
        }
        if !took {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disjoint_balanced_seeded() {
        let targets: Vec<usize> = (0..300).map(|i| if i < 100 { 0 } else { 1 }).collect();
        let s = split(&targets, 2, 20, 10, None, 7);
        assert_eq!(s.train.len(), 20);
        assert_eq!(s.val.len(), 10);
        assert_eq!(s.test.len(), 270);
        let pos = s.train.iter().filter(|&&i| targets[i] == 1).count();
        assert_eq!(pos, 10, "training set must be balanced");
        let mut all: Vec<usize> = [&s.train[..], &s.val[..], &s.test[..]].concat();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 300, "sets must be disjoint and cover everything");
        assert_eq!(s, split(&targets, 2, 20, 10, None, 7));
        assert_ne!(s.train, split(&targets, 2, 20, 10, None, 8).train);
        let t = split(&targets, 2, 20, 10, Some(27), 7);
        assert_eq!(t.test.len(), 27);
        let pos_test = t.test.iter().filter(|&&i| targets[i] == 1).count();
        assert_eq!(
            pos_test, 18,
            "test set keeps the 1:2 class ratio of the rest (90:180)"
        );
    }

    #[test]
    fn scarce_class_gives_what_it_has() {
        let targets = [0, 0, 0, 1];
        let s = split(&targets, 2, 4, 0, None, 1);
        assert_eq!(s.train.len(), 4);
        assert!(s.test.is_empty());
    }
}
