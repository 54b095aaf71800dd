//! The design of a training-set-size sweep: which images every run trains, validates and is
//! tested on.
//!
//! This reproduces the protocol of Schouten et al. (2021, *Sci Rep* 11:7995), who asked how
//! the accuracy of a small CNN grows with the number of training images. A sweep trains one
//! network per (fold, training-set size):
//!
//! 1. **k-fold cross-validation** (the paper uses 10 folds). The samples are split into `k`
//!    disjoint test sets, stratified by class: within each class the samples are shuffled
//!    (seeded) and dealt round-robin into the folds, so every sample is tested exactly once
//!    and, per class, the folds' test counts differ by at most one. The dealing continues
//!    where the previous class stopped, so the folds' total sizes also differ by at most one.
//! 2. **One test set per fold for all sizes.** Every training-set size of a fold is evaluated
//!    on that fold's test set, so differences between sizes are not differences between test
//!    sets.
//! 3. **A validation set per fold**, disjoint from the test set, drawn from the fold's
//!    remaining samples in proportion to their class frequencies (largest-remainder rounding).
//!    Its size is [`ValSize::Count`] images or a [`ValSize::Share`] of that remainder, clipped
//!    so that at least one training image of every class is left.
//! 4. **Nested training sets.** What is left forms the fold's *ordered training pool*; the
//!    training set of size `n` is its first `n` images ([`FoldPlan::train_set`]), so each
//!    larger training set contains every smaller one and a curve over sizes adds images
//!    rather than redrawing them. The pool is ordered so that every prefix is as
//!    class-balanced as availability allows: each class's images are shuffled, then the
//!    classes are interleaved round by round, one image per class per round, and **the order
//!    of the classes within each round is itself shuffled** (so no class is systematically
//!    favoured when `n` is not a multiple of the number of classes). A class that runs out
//!    drops out of the rounds and the others continue. Hence, in any prefix, two classes'
//!    counts differ by at most one unless the smaller one has no images left.
//!
//! Sizes count training images in total (over all classes). A size larger than the smallest
//! fold's pool is replaced by that maximum, sizes below the number of classes are dropped (a
//! training set needs at least one image per class), and the rest are deduplicated and
//! sorted; each change is reported in [`SweepPlan::notices`].
//!
//! Everything is a pure function of `(targets, n_classes, design)`. The fold assignment uses
//! ChaCha8 stream 0 of `seed`; fold `f` (0-based) draws its validation set and pool order from
//! stream `f + 1`. So the test sets depend only on the targets, `k_folds` and `seed`: changing
//! the validation size or the list of sizes leaves them unchanged.
//!
//! Runs are identified by [`RunKey`]; [`runs`] lists them and [`shard`] splits them between
//! machines or processes.

use std::collections::BTreeSet;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Default number of folds (as in the paper).
pub const DEFAULT_K_FOLDS: usize = 10;
/// Default number of validation images per fold.
pub const DEFAULT_VAL_COUNT: usize = 25;

/// The default training-set sizes: 10, 20, …, 200.
pub fn default_sizes() -> Vec<usize> {
    (1..=20).map(|i| i * 10).collect()
}

/// How large each fold's validation set is.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ValSize {
    /// This many images.
    Count(usize),
    /// This share (between 0 and 1) of the fold's non-test samples, rounded to the nearest
    /// whole image.
    Share(f64),
}

impl Default for ValSize {
    fn default() -> Self {
        ValSize::Count(DEFAULT_VAL_COUNT)
    }
}

/// What a sweep asks for. Missing fields take their defaults when deserialised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepDesign {
    /// Number of cross-validation folds (at least 2, at most the size of the smallest class).
    pub k_folds: usize,
    /// Size of each fold's validation set.
    pub val: ValSize,
    /// Training-set sizes (images in total, over all classes).
    pub sizes: Vec<usize>,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for SweepDesign {
    fn default() -> Self {
        Self {
            k_folds: DEFAULT_K_FOLDS,
            val: ValSize::default(),
            sizes: default_sizes(),
            seed: 0,
        }
    }
}

/// The samples of one fold, as indices into the `targets` given to [`plan`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldPlan {
    /// 0-based fold number; `plan.folds[i].fold == i`.
    pub fold: usize,
    /// Test samples, ascending.
    pub test: Vec<usize>,
    /// Validation samples, ascending.
    pub val: Vec<usize>,
    /// The ordered training pool: every other sample, in the order training sets take them.
    pub pool: Vec<usize>,
}

impl FoldPlan {
    /// The training set of `size` images: the first `size` samples of the pool (all of the
    /// pool when `size` exceeds it). Training sets of one fold are nested.
    pub fn train_set(&self, size: usize) -> &[usize] {
        &self.pool[..size.min(self.pool.len())]
    }
}

/// The full design of a sweep, as made by [`plan`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepPlan {
    /// One entry per fold, in fold order.
    pub folds: Vec<FoldPlan>,
    /// The training-set sizes that will be run: clipped, deduplicated, ascending.
    pub sizes: Vec<usize>,
    /// What was changed from the design and why, for the user.
    pub notices: Vec<String>,
}

impl SweepPlan {
    /// The training set of one run, or `None` when its fold does not exist.
    pub fn train_set(&self, run: RunKey) -> Option<&[usize]> {
        self.folds.get(run.fold).map(|f| f.train_set(run.size))
    }

    /// All runs of this plan; see [`runs`].
    pub fn runs(&self) -> Vec<RunKey> {
        runs(self)
    }
}

/// One run of a sweep: a 0-based fold and a training-set size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Ord, PartialOrd, Serialize, Deserialize)]
pub struct RunKey {
    pub fold: usize,
    pub size: usize,
}

/// Splits samples (given by their class index, `0..n_classes`) into the folds, validation sets
/// and ordered training pools of a sweep; see the module documentation for the rules.
///
/// Errors (never panics) when `targets` is empty, a target is not below `n_classes`,
/// `k_folds` is below 2 or above the number of samples of the smallest class, a validation
/// share is not between 0 and 1, or no training-set size is left.
pub fn plan(
    targets: &[usize],
    n_classes: usize,
    design: &SweepDesign,
) -> Result<SweepPlan, String> {
    let by_class = check_design(targets, n_classes, design)?;
    let fold_of = assign_folds(&by_class, targets.len(), design);
    let mut folds = Vec::with_capacity(design.k_folds);
    let mut val_clips: Vec<(usize, usize)> = Vec::new(); // (asked, got), one per clipped fold
    for f in 0..design.k_folds {
        let (fold, clip) = split_fold(f, &by_class, &fold_of, design);
        folds.push(fold);
        val_clips.extend(clip);
    }
    let mut notices: Vec<String> = val_clip_notice(&val_clips).into_iter().collect();
    let max = folds.iter().map(|f| f.pool.len()).min().unwrap_or(0);
    let sizes = usable_sizes(&design.sizes, n_classes, max, &mut notices)?;
    Ok(SweepPlan {
        folds,
        sizes,
        notices,
    })
}

/// Checks the samples and the design; returns the sample indices of each class.
fn check_design(
    targets: &[usize],
    n_classes: usize,
    design: &SweepDesign,
) -> Result<Vec<Vec<usize>>, String> {
    if targets.is_empty() {
        return Err("there are no samples".into());
    }
    if let Some((i, &t)) = targets.iter().enumerate().find(|(_, t)| **t >= n_classes) {
        return Err(format!(
            "sample {i} has class {t}, but there are only {n_classes} classes (0..{n_classes})"
        ));
    }
    let k = design.k_folds;
    if k < 2 {
        return Err(format!(
            "k_folds must be at least 2 (got {k}): cross-validation needs a test fold and \
             something to train on"
        ));
    }
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &t) in targets.iter().enumerate() {
        by_class[t].push(i);
    }
    // The first class with the fewest samples.
    let Some((smallest, min_count)) = by_class
        .iter()
        .map(Vec::len)
        .enumerate()
        .min_by_key(|&(c, n)| (n, c))
    else {
        return Err("there are no classes".into()); // unreachable: targets are below n_classes
    };
    if k > min_count {
        return Err(format!(
            "k_folds = {k} is more than the {min_count} samples of class {smallest} (the \
             smallest class): every fold's test set needs at least one sample of every class"
        ));
    }
    if let ValSize::Share(s) = design.val
        && !(0.0..=1.0).contains(&s)
    {
        return Err(format!(
            "the validation share must be between 0 and 1 (got {s})"
        ));
    }
    Ok(by_class)
}

/// The test fold of every sample: each class shuffled, then dealt round-robin, continuing
/// across classes.
fn assign_folds(by_class: &[Vec<usize>], n_samples: usize, design: &SweepDesign) -> Vec<usize> {
    let mut fold_of = vec![0usize; n_samples];
    let mut rng = rng_for(design.seed, 0);
    let mut next = 0usize;
    for members in by_class {
        let mut members = members.clone();
        members.shuffle(&mut rng);
        for s in members {
            fold_of[s] = next % design.k_folds;
            next += 1;
        }
    }
    fold_of
}

/// Fold `f`'s test set, validation set and ordered training pool; with `(asked, got)` when
/// its validation set had to be smaller than asked.
fn split_fold(
    f: usize,
    by_class: &[Vec<usize>],
    fold_of: &[usize],
    design: &SweepDesign,
) -> (FoldPlan, Option<(usize, usize)>) {
    let mut rng = rng_for(design.seed, f as u64 + 1);
    let test: Vec<usize> = (0..fold_of.len()).filter(|&s| fold_of[s] == f).collect();
    // The non-test samples of each class, shuffled.
    let mut rest: Vec<Vec<usize>> = by_class
        .iter()
        .map(|m| m.iter().copied().filter(|&s| fold_of[s] != f).collect())
        .collect();
    for r in &mut rest {
        r.shuffle(&mut rng);
    }
    let lens: Vec<usize> = rest.iter().map(Vec::len).collect();
    let total: usize = lens.iter().sum();
    let present = lens.iter().filter(|&&n| n > 0).count();
    let asked = match design.val {
        ValSize::Count(n) => n,
        ValSize::Share(s) => (s * total as f64).round() as usize,
    };
    let n_val = asked.min(total - present);
    let clip = (n_val < asked).then_some((asked, n_val));
    let quota = val_quota(&lens, n_val);
    let mut val = Vec::with_capacity(n_val);
    for (r, &q) in rest.iter_mut().zip(&quota) {
        val.extend(r.drain(..q));
    }
    val.sort_unstable();
    let pool = interleave(rest, &mut rng);
    let fold = FoldPlan {
        fold: f,
        test,
        val,
        pool,
    };
    (fold, clip)
}

/// The notice for validation sets clipped so that every class keeps a training image.
fn val_clip_notice(val_clips: &[(usize, usize)]) -> Option<String> {
    let (Some(&(asked, _)), Some(lo), Some(hi)) = (
        val_clips.first(),
        val_clips.iter().map(|c| c.1).min(),
        val_clips.iter().map(|c| c.1).max(),
    ) else {
        return None;
    };
    let got = if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}–{hi}")
    };
    Some(format!(
        "validation sets of {} fold(s) clipped from {asked} to {got} images so that \
         every class keeps at least one training image",
        val_clips.len()
    ))
}

/// The training sizes that can run, ascending: sizes above `max` (the smallest fold's pool)
/// are clipped to it, sizes below one image per class are dropped, each with a notice.
fn usable_sizes(
    asked: &[usize],
    n_classes: usize,
    max: usize,
    notices: &mut Vec<String>,
) -> Result<Vec<usize>, String> {
    let mut sizes = BTreeSet::new();
    let mut above = Vec::new();
    let mut below = Vec::new();
    for &s in asked {
        let s = if s > max {
            above.push(s);
            max
        } else {
            s
        };
        if s < n_classes {
            below.push(s);
        } else {
            sizes.insert(s);
        }
    }
    if !above.is_empty() {
        notices.push(format!(
            "sizes above {max} clipped to {max} (the smallest fold's training pool): {}",
            list(&above)
        ));
    }
    if !below.is_empty() {
        notices.push(format!(
            "sizes below {n_classes} dropped (a training set must have at least one image per \
             class): {}",
            list(&below)
        ));
    }
    if sizes.is_empty() {
        return Err(if asked.is_empty() {
            "no training-set size was given".into()
        } else {
            format!(
                "no usable training-set size: each must be at least {n_classes} (one image per \
                 class), and the largest possible is {max}"
            )
        });
    }
    Ok(sizes.into_iter().collect())
}

/// All runs of a plan, fold-major: fold 0 with every size ascending, then fold 1, and so
/// on. This is ascending in [`RunKey`]'s order.
pub fn runs(plan: &SweepPlan) -> Vec<RunKey> {
    plan.folds
        .iter()
        .flat_map(|f| {
            plan.sizes
                .iter()
                .map(move |&size| RunKey { fold: f.fold, size })
        })
        .collect()
}

/// Shard `i` of `n` (1-based): the runs whose position `p` in `runs` has `p % n == i - 1`,
/// in their order. The `n` shards are disjoint and together hold every run.
pub fn shard(runs: &[RunKey], i: usize, n: usize) -> Result<Vec<RunKey>, String> {
    if n == 0 {
        return Err("the number of shards must be at least 1".into());
    }
    if i == 0 || i > n {
        return Err(format!(
            "shard {i} of {n} does not exist: shards are 1..={n}"
        ));
    }
    Ok(runs
        .iter()
        .enumerate()
        .filter(|(p, _)| p % n == i - 1)
        .map(|(_, r)| *r)
        .collect())
}

/// Stream `stream` of the ChaCha8 generator seeded by `seed`.
fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// How many of each class's `lens` go to a validation set of `n` (at most `sum - present`):
/// proportional with largest remainders (ties to the lower class), never taking a class's
/// last sample.
fn val_quota(lens: &[usize], n: usize) -> Vec<usize> {
    let total: usize = lens.iter().sum();
    if total == 0 || n == 0 {
        return vec![0; lens.len()];
    }
    // Exact integer arithmetic: share = n·len / total = floor + rem / total.
    let mut quota: Vec<usize> = lens
        .iter()
        .map(|&l| (n * l / total).min(cap_of(l)))
        .collect();
    let rems: Vec<usize> = lens.iter().map(|&l| n * l % total).collect();
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by(|&a, &b| rems[b].cmp(&rems[a]).then(a.cmp(&b)));
    let mut left = n - quota.iter().sum::<usize>();
    // Passes over the classes, largest remainder first; n ≤ total room, so this ends.
    while left > 0 {
        let before = left;
        for &c in &order {
            if left == 0 {
                break;
            }
            if quota[c] < cap_of(lens[c]) {
                quota[c] += 1;
                left -= 1;
            }
        }
        if left == before {
            break; // no room anywhere; cannot happen when n ≤ sum - present
        }
    }
    quota
}

/// Largest validation count a class of `len` samples can give.
fn cap_of(len: usize) -> usize {
    len.saturating_sub(1)
}

/// Round-robin over the classes (each already shuffled), with the order of the classes
/// shuffled anew each round; exhausted classes drop out.
fn interleave(classes: Vec<Vec<usize>>, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let total = classes.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    let mut round = 0;
    loop {
        let mut active: Vec<usize> = (0..classes.len())
            .filter(|&c| round < classes[c].len())
            .collect();
        if active.is_empty() {
            break;
        }
        active.shuffle(rng);
        out.extend(active.iter().map(|&c| classes[c][round]));
        round += 1;
    }
    out
}

/// `a, b, c` of a list of numbers.
fn list(xs: &[usize]) -> String {
    xs.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Targets with `counts[c]` samples of class `c`, in an order mixed by `mix`.
    fn make_targets(counts: &[usize], mix: u64) -> Vec<usize> {
        let mut t: Vec<usize> = counts
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(c, n))
            .collect();
        t.shuffle(&mut ChaCha8Rng::seed_from_u64(mix));
        t
    }

    fn design(k: usize, val: ValSize, sizes: Vec<usize>, seed: u64) -> SweepDesign {
        SweepDesign {
            k_folds: k,
            val,
            sizes,
            seed,
        }
    }

    fn class_counts(samples: &[usize], targets: &[usize], n_classes: usize) -> Vec<usize> {
        let mut n = vec![0; n_classes];
        for &s in samples {
            n[targets[s]] += 1;
        }
        n
    }

    prop_compose! {
        /// 2–6 classes of 10–80 samples, k in 2..=10, a validation size and a seed.
        fn inputs()(
            counts in prop::collection::vec(10usize..=80, 2..=6),
            k in 2usize..=10,
            val in prop_oneof![
                3 => (0usize..=60).prop_map(ValSize::Count),
                1 => (0usize..=2000).prop_map(ValSize::Count),
                3 => (0.0f64..=0.5).prop_map(ValSize::Share),
                1 => (0.0f64..=1.0).prop_map(ValSize::Share),
            ],
            sizes in prop_oneof![
                Just(default_sizes()),
                prop::collection::vec(0usize..=500, 1..8),
            ],
            seed in any::<u64>(),
            mix in any::<u64>(),
        ) -> (Vec<usize>, usize, SweepDesign) {
            let n_classes = counts.len();
            (make_targets(&counts, mix), n_classes, design(k, val, sizes, seed))
        }
    }

    /// `plan` for inputs that may legitimately leave no size; `None` then.
    fn try_plan(t: &[usize], nc: usize, d: &SweepDesign) -> Option<SweepPlan> {
        match plan(t, nc, d) {
            Ok(p) => Some(p),
            Err(e) => {
                assert!(
                    e.contains("no usable training-set size"),
                    "unexpected error: {e}"
                );
                None
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn folds_partition_every_sample((t, nc, d) in inputs()) {
            let Some(p) = try_plan(&t, nc, &d) else { return Ok(()) };
            prop_assert_eq!(p.folds.len(), d.k_folds);
            let mut tested = vec![0usize; t.len()];
            for (i, f) in p.folds.iter().enumerate() {
                prop_assert_eq!(f.fold, i);
                // test, val and pool are disjoint and together hold every sample.
                let mut seen = vec![0usize; t.len()];
                for &s in f.test.iter().chain(&f.val).chain(&f.pool) {
                    seen[s] += 1;
                }
                prop_assert!(seen.iter().all(|&n| n == 1), "fold {} is not a partition", i);
                for &s in &f.test {
                    tested[s] += 1;
                }
                prop_assert!(f.test.is_sorted() && f.val.is_sorted());
            }
            prop_assert!(tested.iter().all(|&n| n == 1), "not every sample tested once");
        }

        #[test]
        fn test_sets_are_stratified((t, nc, d) in inputs()) {
            let Some(p) = try_plan(&t, nc, &d) else { return Ok(()) };
            let per_fold: Vec<Vec<usize>> =
                p.folds.iter().map(|f| class_counts(&f.test, &t, nc)).collect();
            for c in 0..nc {
                let lo = per_fold.iter().map(|n| n[c]).min().unwrap();
                let hi = per_fold.iter().map(|n| n[c]).max().unwrap();
                prop_assert!(hi - lo <= 1, "class {}: test counts {}..{}", c, lo, hi);
                prop_assert!(lo >= 1);
            }
            let lo = p.folds.iter().map(|f| f.test.len()).min().unwrap();
            let hi = p.folds.iter().map(|f| f.test.len()).max().unwrap();
            prop_assert!(hi - lo <= 1, "fold sizes {}..{}", lo, hi);
        }

        #[test]
        fn sizes_are_valid_and_training_sets_nested((t, nc, d) in inputs()) {
            let Some(p) = try_plan(&t, nc, &d) else { return Ok(()) };
            let max = p.folds.iter().map(|f| f.pool.len()).min().unwrap();
            prop_assert!(!p.sizes.is_empty());
            prop_assert!(p.sizes.windows(2).all(|w| w[0] < w[1]), "{:?}", p.sizes);
            prop_assert!(p.sizes.iter().all(|&s| s >= nc && s <= max));
            // Every asked size ends up in the plan, clipped, unless it was too small.
            for &s in &d.sizes {
                if s.min(max) >= nc {
                    prop_assert!(p.sizes.contains(&s.min(max)));
                }
            }
            prop_assert_eq!(
                d.sizes.iter().any(|&s| s > max),
                p.notices.iter().any(|n| n.starts_with(&format!("sizes above {max} clipped to {max}")))
            );
            prop_assert_eq!(
                d.sizes.iter().any(|&s| s.min(max) < nc),
                p.notices.iter().any(|n| n.starts_with(&format!("sizes below {nc} dropped")))
            );
            for f in &p.folds {
                for &a in &p.sizes {
                    prop_assert_eq!(f.train_set(a).len(), a);
                    for &b in p.sizes.iter().filter(|&&b| b > a) {
                        prop_assert_eq!(f.train_set(a), &f.train_set(b)[..a]);
                    }
                }
                prop_assert_eq!(f.train_set(usize::MAX), &f.pool[..]);
            }
        }

        #[test]
        fn every_prefix_is_balanced((t, nc, d) in inputs()) {
            let Some(p) = try_plan(&t, nc, &d) else { return Ok(()) };
            for f in &p.folds {
                let avail = class_counts(&f.pool, &t, nc);
                prop_assert!(avail.iter().all(|&n| n >= 1), "a class has no training image");
                let mut n = vec![0usize; nc];
                for (len, &s) in f.pool.iter().enumerate() {
                    n[t[s]] += 1;
                    // Only an exhausted class may lag more than one behind another.
                    let hi = *n.iter().max().unwrap();
                    for c in 0..nc {
                        prop_assert!(
                            n[c] + 1 >= hi || n[c] == avail[c],
                            "fold {}, prefix {}: counts {:?}, available {:?}",
                            f.fold, len + 1, n, avail
                        );
                    }
                }
            }
        }

        #[test]
        fn val_sets_have_the_asked_size_and_are_stratified((t, nc, d) in inputs()) {
            let Some(p) = try_plan(&t, nc, &d) else { return Ok(()) };
            let mut clipped = 0;
            for f in &p.folds {
                let rest_idx: Vec<usize> = f.val.iter().chain(&f.pool).copied().collect();
                let rest = class_counts(&rest_idx, &t, nc);
                let total: usize = rest.iter().sum();
                let asked = match d.val {
                    ValSize::Count(n) => n,
                    ValSize::Share(s) => (s * total as f64).round() as usize,
                };
                let expect = asked.min(total - nc);
                prop_assert_eq!(f.val.len(), expect);
                let val = class_counts(&f.val, &t, nc);
                let capped = (0..nc).any(|c| val[c] == rest[c] - 1);
                for c in 0..nc {
                    prop_assert!(val[c] < rest[c], "class {} gives all its samples", c);
                    let floor = expect * rest[c] / total;
                    let ceil = floor + usize::from(!(expect * rest[c]).is_multiple_of(total));
                    prop_assert!(
                        val[c] >= floor.min(rest[c] - 1) && (val[c] <= ceil || capped),
                        "fold {} class {}: {} of {}, exact share {}/{}",
                        f.fold, c, val[c], rest[c], expect * rest[c], total
                    );
                }
                if asked > expect {
                    clipped += 1;
                }
            }
            let notice = p.notices.iter().find(|n| n.starts_with("validation sets"));
            prop_assert_eq!(clipped > 0, notice.is_some());
            if let Some(n) = notice {
                let head = format!("validation sets of {clipped} fold(s)");
                prop_assert!(n.starts_with(&head), "{}", n);
            }
        }

        #[test]
        fn plans_are_pure_functions_of_the_seed((t, nc, d) in inputs()) {
            let Some(p) = try_plan(&t, nc, &d) else { return Ok(()) };
            prop_assert_eq!(&p, &plan(&t, nc, &d).unwrap());
            let other = SweepDesign { seed: d.seed.wrapping_add(1), ..d.clone() };
            let q = plan(&t, nc, &other).unwrap();
            prop_assert_ne!(&p.folds, &q.folds);
            prop_assert!(p.folds.iter().zip(&q.folds).any(|(a, b)| a.test != b.test));
            // The test sets do not depend on the validation size or the sizes.
            let no_val = SweepDesign { val: ValSize::Count(0), sizes: vec![nc], ..d.clone() };
            let r = plan(&t, nc, &no_val).unwrap();
            for (a, b) in p.folds.iter().zip(&r.folds) {
                prop_assert_eq!(&a.test, &b.test);
            }
        }

        #[test]
        fn shards_partition_the_runs((t, nc, d) in inputs(), n in 1usize..=12) {
            let Some(p) = try_plan(&t, nc, &d) else { return Ok(()) };
            let all = runs(&p);
            prop_assert_eq!(all.len(), p.folds.len() * p.sizes.len());
            prop_assert!(all.is_sorted(), "runs are not fold-major");
            let mut union = Vec::new();
            let mut lens = Vec::new();
            for i in 1..=n {
                let s = shard(&all, i, n).unwrap();
                lens.push(s.len());
                union.extend(s);
            }
            union.sort();
            prop_assert_eq!(&union, &all, "shards are not disjoint or miss runs");
            prop_assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1);
        }
    }

    #[test]
    fn defaults() {
        let d = SweepDesign::default();
        assert_eq!(d.k_folds, 10);
        assert_eq!(d.val, ValSize::Count(25));
        assert_eq!(d.sizes, (10..=200).step_by(10).collect::<Vec<_>>());
        let partial: SweepDesign = ron::from_str("(seed: 7, val: Share(0.1))").unwrap();
        assert_eq!(
            partial,
            SweepDesign {
                seed: 7,
                val: ValSize::Share(0.1),
                ..SweepDesign::default()
            }
        );
    }

    #[test]
    fn paper_sized_sweep() {
        // 10 classes of 50 images, the default design.
        let t = make_targets(&[50; 10], 1);
        let p = plan(&t, 10, &SweepDesign::default()).unwrap();
        assert!(p.notices.is_empty(), "{:?}", p.notices);
        assert_eq!(p.sizes, default_sizes());
        for f in &p.folds {
            assert_eq!(f.test.len(), 50);
            assert_eq!(class_counts(&f.test, &t, 10), vec![5; 10]);
            assert_eq!(f.val.len(), 25);
            assert_eq!(f.pool.len(), 425);
            // 10 images: one per class; 200 images: 20 per class.
            assert_eq!(class_counts(f.train_set(10), &t, 10), vec![1; 10]);
            assert_eq!(class_counts(f.train_set(200), &t, 10), vec![20; 10]);
        }
        let all = runs(&p);
        assert_eq!(all.len(), 200);
        assert_eq!(all[0], RunKey { fold: 0, size: 10 });
        assert_eq!(all[1], RunKey { fold: 0, size: 20 });
        assert_eq!(all[20], RunKey { fold: 1, size: 10 });
        assert_eq!(p.train_set(all[21]), Some(p.folds[1].train_set(20)));
        assert_eq!(p.train_set(RunKey { fold: 10, size: 10 }), None);
        let back: SweepPlan = ron::from_str(&ron::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn class_order_varies_between_rounds() {
        // With a fixed class order, the first image of every fold would be of one class.
        let t = make_targets(&[40; 4], 2);
        let p = plan(&t, 4, &design(10, ValSize::Count(0), vec![4], 3)).unwrap();
        let firsts: BTreeSet<usize> = p.folds.iter().map(|f| t[f.pool[0]]).collect();
        assert!(firsts.len() > 1, "{firsts:?}");
    }

    #[test]
    fn exhausted_classes_drop_out() {
        // Class 1 has 3 non-test training images per fold; the others carry on.
        let t = make_targets(&[30, 4, 30], 4);
        let p = plan(&t, 3, &design(4, ValSize::Count(0), vec![60], 5)).unwrap();
        for f in &p.folds {
            let n = class_counts(f.train_set(9), &t, 3);
            assert_eq!(n, vec![3, 3, 3]);
            let n = class_counts(f.train_set(20), &t, 3);
            assert_eq!(n[1], 3);
            assert!(n[0].abs_diff(n[2]) <= 1 && n[0] + n[2] == 17, "{n:?}");
        }
    }

    #[test]
    fn sizes_are_clipped_deduplicated_and_sorted() {
        let t = make_targets(&[20, 20, 20], 6);
        // 5 folds: 48 non-test, 6 validation, 42 in the pool.
        let d = design(5, ValSize::Count(6), vec![500, 30, 2, 0, 30, 600, 10], 7);
        let p = plan(&t, 3, &d).unwrap();
        assert!(p.folds.iter().all(|f| f.pool.len() == 42));
        assert_eq!(p.sizes, vec![10, 30, 42]);
        assert_eq!(
            p.notices,
            vec![
                "sizes above 42 clipped to 42 (the smallest fold's training pool): 500, 600"
                    .to_string(),
                "sizes below 3 dropped (a training set must have at least one image per \
                 class): 2, 0"
                    .to_string(),
            ]
        );
    }

    #[test]
    fn validation_is_clipped_with_a_notice() {
        let t = make_targets(&[10, 10], 8);
        // 2 folds: 10 non-test samples (5 per class); at most 8 can validate.
        let p = plan(&t, 2, &design(2, ValSize::Count(100), vec![2], 9)).unwrap();
        for f in &p.folds {
            assert_eq!(f.val.len(), 8);
            assert_eq!(class_counts(&f.pool, &t, 2), vec![1, 1]);
        }
        assert_eq!(
            p.notices,
            vec![
                "validation sets of 2 fold(s) clipped from 100 to 8 images so that every class \
                 keeps at least one training image"
            ]
        );
        let p = plan(&t, 2, &design(2, ValSize::Share(0.5), vec![2], 9)).unwrap();
        assert!(p.folds.iter().all(|f| f.val.len() == 5));
        assert!(p.notices.is_empty());
        let p = plan(&t, 2, &design(2, ValSize::Share(1.0), vec![2], 9)).unwrap();
        assert!(p.folds.iter().all(|f| f.val.len() == 8));
        assert_eq!(p.notices.len(), 1);
    }

    #[test]
    fn errors() {
        let t = make_targets(&[12, 5, 9], 10);
        let ok = design(5, ValSize::Count(3), vec![10], 0);
        assert!(plan(&t, 3, &ok).is_ok());

        let e = plan(&[], 3, &ok).unwrap_err();
        assert!(e.contains("no samples"), "{e}");

        let mut bad = t.clone();
        bad[7] = 3;
        let e = plan(&bad, 3, &ok).unwrap_err();
        assert!(e.contains("sample 7 has class 3"), "{e}");
        assert!(plan(&t, 0, &ok).is_err());

        for k in [0, 1] {
            let e = plan(&t, 3, &design(k, ValSize::Count(3), vec![10], 0)).unwrap_err();
            assert!(e.contains("at least 2"), "{e}");
        }

        let e = plan(&t, 3, &design(6, ValSize::Count(3), vec![10], 0)).unwrap_err();
        assert!(
            e.contains("k_folds = 6") && e.contains("5 samples of class 1"),
            "{e}"
        );
        // A class without samples.
        let e = plan(&t, 4, &ok).unwrap_err();
        assert!(e.contains("0 samples of class 3"), "{e}");

        for s in [-0.1, 1.5, f64::NAN] {
            let e = plan(&t, 3, &design(5, ValSize::Share(s), vec![10], 0)).unwrap_err();
            assert!(e.contains("share"), "{e}");
        }

        let e = plan(&t, 3, &design(5, ValSize::Count(3), vec![0, 1, 2], 0)).unwrap_err();
        assert!(e.contains("no usable training-set size"), "{e}");
        let e = plan(&t, 3, &design(5, ValSize::Count(3), vec![], 0)).unwrap_err();
        assert!(e.contains("no training-set size"), "{e}");
    }

    #[test]
    fn shard_numbers() {
        let all: Vec<RunKey> = (0..2)
            .flat_map(|fold| [10, 20, 30].map(|size| RunKey { fold, size }))
            .collect();
        assert!(shard(&all, 1, 0).is_err());
        assert!(shard(&all, 0, 2).is_err());
        assert!(shard(&all, 3, 2).is_err());
        assert_eq!(shard(&all, 1, 1).unwrap(), all);
        assert_eq!(
            shard(&all, 2, 4).unwrap(),
            vec![all[1], all[5]],
            "round-robin by position"
        );
        assert_eq!(shard(&all, 4, 10).unwrap(), vec![all[3]]);
        assert!(shard(&all, 9, 10).unwrap().is_empty());
    }
}
