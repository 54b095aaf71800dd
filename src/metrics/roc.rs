//! Receiver operating characteristic (ROC) curves and the area under them.
//!
//! # Conventions
//!
//! * A sample is predicted positive at threshold `t` when `score >= t`.
//! * **Ties** are handled exactly: all samples sharing a score enter the curve
//!   together, so a group of tied positives and negatives produces a single
//!   diagonal step rather than an order-dependent staircase.
//! * **NaN scores** are treated as the *lowest* possible score, below every
//!   number including `-inf`; all NaN scores tie with one another. They are
//!   therefore never rejected with a panic and count as "least confident"
//!   predictions. In [`roc_curve`] the point that admits the NaN group carries
//!   the threshold `f64::NEG_INFINITY` (never NaN). [`auc`] and the trapezoidal
//!   area of [`roc_curve`] use the same rule and agree.
//! * Inputs whose `scores` and `positives` lengths differ are rejected:
//!   [`roc_curve`] returns an empty curve and [`auc`] returns `None`.

use std::cmp::Ordering;

/// One point of a ROC curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RocPoint {
    /// False positive rate, `FP / N`, in `[0, 1]`.
    pub fpr: f64,
    /// True positive rate (sensitivity), `TP / P`, in `[0, 1]`.
    pub tpr: f64,
    /// Decision threshold: samples with `score >= threshold` are called
    /// positive. `+inf` for the initial point (nothing called positive).
    pub threshold: f64,
}

/// Compares two scores with NaN ordered below every number (NaN == NaN).
fn cmp_score(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        // Neither is NaN, so `partial_cmp` always succeeds (and -0.0 == 0.0).
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Per-score-group counts, in descending score order: `(score, positives, negatives)`.
fn descending_groups(scores: &[f64], positives: &[bool]) -> Vec<(f64, u64, u64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| cmp_score(scores[j], scores[i]));
    let mut groups: Vec<(f64, u64, u64)> = Vec::new();
    for i in order {
        let s = scores[i];
        let (p, n) = if positives[i] { (1, 0) } else { (0, 1) };
        match groups.last_mut() {
            Some(last) if cmp_score(last.0, s) == Ordering::Equal => {
                last.1 += p;
                last.2 += n;
            }
            _ => groups.push((s, p, n)),
        }
    }
    groups
}

/// Computes the ROC curve of `scores` against the true labels `positives`
/// (`true` = positive class).
///
/// The returned points are sorted by descending threshold (and so by
/// non-decreasing `fpr` and `tpr`). The first point is `(0, 0)` with threshold
/// `+inf`; then there is exactly one point per distinct score (tied scores
/// give one diagonal step), with that score as threshold; the last point is
/// `(1, 1)`. No intermediate collinear points are dropped.
///
/// NaN scores are the lowest scores (see the [module docs](self)); their point
/// has threshold `-inf`. Thresholds are therefore strictly decreasing except
/// that a `+inf` score repeats the initial `+inf` threshold and a NaN group
/// repeats the `-inf` threshold of a `-inf` score.
///
/// Returns an empty vector when the lengths of `scores` and `positives`
/// differ, or when either class is absent (the curve is undefined then).
pub fn roc_curve(scores: &[f64], positives: &[bool]) -> Vec<RocPoint> {
    if scores.len() != positives.len() {
        return Vec::new();
    }
    let n_pos = positives.iter().filter(|&&p| p).count() as u64;
    let n_neg = positives.len() as u64 - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Vec::new();
    }
    let groups = descending_groups(scores, positives);
    let mut points = Vec::with_capacity(groups.len() + 1);
    points.push(RocPoint {
        fpr: 0.0,
        tpr: 0.0,
        threshold: f64::INFINITY,
    });
    let (mut tp, mut fp) = (0u64, 0u64);
    for (score, p, n) in groups {
        tp += p;
        fp += n;
        points.push(RocPoint {
            fpr: fp as f64 / n_neg as f64,
            tpr: tp as f64 / n_pos as f64,
            threshold: if score.is_nan() {
                f64::NEG_INFINITY
            } else {
                score
            },
        });
    }
    points
}

/// Area under the ROC curve, computed exactly from the Mann–Whitney U
/// statistic: the fraction of (positive, negative) pairs in which the positive
/// scores higher, with tied pairs counted as 1/2.
///
/// This equals the trapezoidal area under the tie-aware [`roc_curve`]
/// (`auc_trapezoid(&roc_curve(s, y))` up to rounding). It is 1.0 for a perfect
/// ranking, 0.0 for an inverted one and 0.5 when all scores tie.
///
/// NaN scores are the lowest scores (see the [module docs](self)).
///
/// Returns `None` when either class is absent (including empty input) or the
/// lengths of `scores` and `positives` differ.
pub fn auc(scores: &[f64], positives: &[bool]) -> Option<f64> {
    if scores.len() != positives.len() {
        return None;
    }
    let n_pos = positives.iter().filter(|&&p| p).count() as u64;
    let n_neg = positives.len() as u64 - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    // Walk groups from the lowest score upwards; `neg_below` counts negatives
    // with strictly lower scores. Twice U is accumulated in integers (exact).
    let mut twice_u: u128 = 0;
    let mut neg_below: u128 = 0;
    for (_, p, n) in descending_groups(scores, positives).into_iter().rev() {
        twice_u += 2 * p as u128 * neg_below + p as u128 * n as u128;
        neg_below += n as u128;
    }
    Some(twice_u as f64 / (2.0 * n_pos as f64 * n_neg as f64))
}

/// Trapezoidal area under a curve given as points ordered by `fpr`
/// (as returned by [`roc_curve`]): `sum (fpr[i+1] - fpr[i]) * (tpr[i] + tpr[i+1]) / 2`.
///
/// Returns 0.0 for fewer than two points.
pub fn auc_trapezoid(points: &[RocPoint]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].fpr - w[0].fpr) * (w[0].tpr + w[1].tpr) / 2.0)
        .sum()
}

/// Two false positive rates closer than this are considered equal by
/// [`interpolate_tpr`] (guards against `0.1` vs `0.1000000000000000056`).
const FPR_EPS: f64 = 1e-12;

/// Evaluates a ROC curve at each false positive rate of `fpr_grid`.
///
/// `points` must be ordered by non-decreasing `fpr` (as from [`roc_curve`]).
/// For each grid value `x`:
///
/// * if the curve has points at `x` (within 1e-12), e.g. a vertical segment,
///   the **highest** of their `tpr` is returned;
/// * otherwise the `tpr` is interpolated linearly between the neighbouring
///   points on either side, which follows diagonal (tied) steps exactly;
/// * values below the first point's `fpr` (and NaN grid values) get the first
///   point's `tpr`, values above the last point's `fpr` get the last `tpr`.
///
/// The result has the same length as `fpr_grid`. An empty curve yields 0.0
/// everywhere.
pub fn interpolate_tpr(points: &[RocPoint], fpr_grid: &[f64]) -> Vec<f64> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return vec![0.0; fpr_grid.len()];
    };
    fpr_grid
        .iter()
        .map(|&x| {
            let lo = points.partition_point(|p| p.fpr < x - FPR_EPS);
            let hi = points.partition_point(|p| p.fpr <= x + FPR_EPS);
            if hi > lo {
                points[lo..hi]
                    .iter()
                    .map(|p| p.tpr)
                    .fold(f64::NEG_INFINITY, f64::max)
            } else if lo == 0 {
                first.tpr
            } else if lo >= points.len() {
                last.tpr
            } else {
                let (a, b) = (&points[lo - 1], &points[lo]);
                let dx = b.fpr - a.fpr;
                if dx > 0.0 {
                    a.tpr + (b.tpr - a.tpr) * (x - a.fpr) / dx
                } else {
                    a.tpr.max(b.tpr)
                }
            }
        })
        .collect()
}

/// A mean ROC curve over several curves (e.g. cross-validation folds),
/// evaluated on a common, evenly spaced false positive rate grid.
///
/// All vectors have the same length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MeanRoc {
    /// The grid of false positive rates, from 0 to 1 inclusive.
    pub fpr: Vec<f64>,
    /// Mean true positive rate at each grid point.
    pub mean_tpr: Vec<f64>,
    /// Sample standard deviation (n - 1 denominator; 0 for a single curve) of
    /// the true positive rate at each grid point.
    pub sd_tpr: Vec<f64>,
    /// `mean_tpr - sd_tpr`, clamped to `[0, 1]`.
    pub lower: Vec<f64>,
    /// `mean_tpr + sd_tpr`, clamped to `[0, 1]`.
    pub upper: Vec<f64>,
}

/// Averages ROC curves on a grid of `grid_points` evenly spaced false positive
/// rates from 0 to 1 (`grid_points` below 2 is raised to 2).
///
/// Each curve is evaluated with [`interpolate_tpr`]; then, as in the usual
/// cross-validated ROC plot, every curve's value is pinned to 0 at `fpr = 0`
/// and to 1 at `fpr = 1`, so `mean_tpr` starts at 0, ends at 1 and the band
/// has zero width at both ends. Elsewhere the mean of identical curves equals
/// the curve (with the highest `tpr` on vertical segments).
///
/// Empty curves (e.g. from a fold with one class only) are skipped. If no
/// non-empty curve remains, every vector of the result is empty.
pub fn mean_roc(curves: &[Vec<RocPoint>], grid_points: usize) -> MeanRoc {
    let curves: Vec<&Vec<RocPoint>> = curves.iter().filter(|c| !c.is_empty()).collect();
    if curves.is_empty() {
        return MeanRoc::default();
    }
    let m = grid_points.max(2);
    let fpr: Vec<f64> = (0..m).map(|i| i as f64 / (m - 1) as f64).collect();
    let tprs: Vec<Vec<f64>> = curves
        .iter()
        .map(|c| {
            let mut t = interpolate_tpr(c, &fpr);
            t[0] = 0.0;
            t[m - 1] = 1.0;
            t
        })
        .collect();
    let k = tprs.len() as f64;
    let mut out = MeanRoc {
        fpr,
        ..MeanRoc::default()
    };
    for i in 0..m {
        let mean = tprs.iter().map(|t| t[i]).sum::<f64>() / k;
        let sd = if tprs.len() > 1 {
            (tprs.iter().map(|t| (t[i] - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt()
        } else {
            0.0
        };
        out.mean_tpr.push(mean);
        out.sd_tpr.push(sd);
        out.lower.push((mean - sd).clamp(0.0, 1.0));
        out.upper.push((mean + sd).clamp(0.0, 1.0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: bool = true;
    const F: bool = false;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// Tiny xorshift64 PRNG so the tests need no crates.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Brute-force AUC: every (positive, negative) pair, ties count 1/2, NaN
    /// lowest. Independent of the implementation's sorting.
    fn pairwise_auc(scores: &[f64], pos: &[bool]) -> Option<f64> {
        // Map to a key where NaN is below everything.
        let beats = |a: f64, b: f64| -> f64 {
            match (a.is_nan(), b.is_nan()) {
                (true, true) => 0.5,
                (true, false) => 0.0,
                (false, true) => 1.0,
                _ if a > b => 1.0,
                _ if a == b => 0.5,
                _ => 0.0,
            }
        };
        let (mut sum, mut pairs) = (0.0, 0u64);
        for i in 0..scores.len() {
            for j in 0..scores.len() {
                if pos[i] && !pos[j] {
                    sum += beats(scores[i], scores[j]);
                    pairs += 1;
                }
            }
        }
        (pairs > 0).then(|| sum / pairs as f64)
    }

    fn random_case(rng: &mut XorShift) -> (Vec<f64>, Vec<bool>) {
        let n = 1 + rng.below(40) as usize;
        let levels = 1 + rng.below(6); // few distinct values => many ties
        let scores = (0..n)
            .map(|_| match rng.below(20) {
                0 => f64::NAN,
                1 => f64::NEG_INFINITY,
                _ => rng.below(levels) as f64 / 4.0,
            })
            .collect();
        let pos = (0..n).map(|_| rng.below(2) == 1).collect();
        (scores, pos)
    }

    #[test]
    fn hand_computed_curve_and_auc() {
        let s = [0.1, 0.4, 0.35, 0.8];
        let y = [F, F, T, T];
        // Descending: 0.8(T) -> (0, .5); 0.4(F) -> (.5, .5); 0.35(T) -> (.5, 1); 0.1(F) -> (1, 1).
        let expected = [
            (0.0, 0.0, f64::INFINITY),
            (0.0, 0.5, 0.8),
            (0.5, 0.5, 0.4),
            (0.5, 1.0, 0.35),
            (1.0, 1.0, 0.1),
        ];
        let roc = roc_curve(&s, &y);
        assert_eq!(roc.len(), expected.len());
        for (p, &(fpr, tpr, thr)) in roc.iter().zip(&expected) {
            assert_eq!((p.fpr, p.tpr, p.threshold), (fpr, tpr, thr));
        }
        // Pairs (pos, neg): (.35,.1)=1 (.35,.4)=0 (.8,.1)=1 (.8,.4)=1 -> 3/4.
        assert_eq!(auc(&s, &y), Some(0.75));
        assert!(close(auc_trapezoid(&roc), 0.75));
    }

    #[test]
    fn ties_perfect_inverted() {
        assert_eq!(auc(&[0.5; 4], &[T, F, T, F]), Some(0.5));
        let tied = roc_curve(&[0.5; 4], &[T, F, T, F]);
        // One diagonal step from (0,0) to (1,1).
        assert_eq!(tied.len(), 2);
        assert_eq!(
            (tied[1].fpr, tied[1].tpr, tied[1].threshold),
            (1.0, 1.0, 0.5)
        );
        assert!(close(auc_trapezoid(&tied), 0.5));

        let s = [0.1, 0.2, 0.8, 0.9];
        assert_eq!(auc(&s, &[F, F, T, T]), Some(1.0));
        assert_eq!(auc(&s, &[T, T, F, F]), Some(0.0));
        assert!(close(auc_trapezoid(&roc_curve(&s, &[F, F, T, T])), 1.0));
        assert!(close(auc_trapezoid(&roc_curve(&s, &[T, T, F, F])), 0.0));

        // Partial tie: pos {0.9, 0.5}, neg {0.5, 0.1}: pairs 1 + 1 + 0.5 + 1 = 3.5 / 4.
        assert_eq!(auc(&[0.9, 0.5, 0.5, 0.1], &[T, T, F, F]), Some(0.875));
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(auc(&[], &[]), None);
        assert_eq!(auc(&[0.1, 0.2], &[T, T]), None);
        assert_eq!(auc(&[0.1, 0.2], &[F, F]), None);
        assert_eq!(auc(&[0.1, 0.2], &[T]), None);
        assert!(roc_curve(&[], &[]).is_empty());
        assert!(roc_curve(&[0.1, 0.2], &[T, T]).is_empty());
        assert!(roc_curve(&[0.1], &[T, F]).is_empty());
        assert_eq!(auc_trapezoid(&[]), 0.0);
        assert_eq!(interpolate_tpr(&[], &[0.0, 0.5]), vec![0.0, 0.0]);
        assert_eq!(mean_roc(&[], 11), MeanRoc::default());
        assert_eq!(mean_roc(&[Vec::new()], 11), MeanRoc::default());
    }

    #[test]
    fn nan_is_lowest_score() {
        // NaN positive below every negative: pairs (NaN,0.2)=0, (0.9,0.2)=1 -> 0.5.
        let s = [f64::NAN, 0.9, 0.2];
        let y = [T, T, F];
        assert_eq!(auc(&s, &y), Some(0.5));
        let roc = roc_curve(&s, &y);
        assert!(roc.iter().all(|p| !p.fpr.is_nan() && !p.tpr.is_nan()));
        assert!(roc.iter().all(|p| !p.threshold.is_nan()));
        let last = roc.last().unwrap();
        assert_eq!(
            (last.fpr, last.tpr, last.threshold),
            (1.0, 1.0, f64::NEG_INFINITY)
        );
        assert!(close(auc_trapezoid(&roc), 0.5));
        // NaN negative: ranked below -inf positive -> perfect.
        assert_eq!(auc(&[f64::NEG_INFINITY, f64::NAN], &[T, F]), Some(1.0));
        // All NaN: all tied.
        assert_eq!(auc(&[f64::NAN; 3], &[T, F, F]), Some(0.5));
    }

    #[test]
    fn random_inputs_match_pairwise_oracle_and_trapezoid() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut checked = 0;
        for _ in 0..3000 {
            let (s, y) = random_case(&mut rng);
            let oracle = pairwise_auc(&s, &y);
            let got = auc(&s, &y);
            assert_eq!(got.is_some(), oracle.is_some(), "{s:?} {y:?}");
            let roc = roc_curve(&s, &y);
            let Some(a) = got else {
                assert!(roc.is_empty());
                continue;
            };
            checked += 1;
            let oracle = oracle.unwrap();
            assert!(close(a, oracle), "auc {a} vs oracle {oracle}: {s:?} {y:?}");
            let trap = auc_trapezoid(&roc);
            assert!(close(a, trap), "auc {a} vs trapezoid {trap}: {s:?} {y:?}");

            // Shape: starts at (0,0,+inf), ends at (1,1), monotone, one point
            // per distinct score (NaNs counted as one value).
            assert_eq!(
                (roc[0].fpr, roc[0].tpr, roc[0].threshold),
                (0.0, 0.0, f64::INFINITY)
            );
            let end = roc.last().unwrap();
            assert_eq!((end.fpr, end.tpr), (1.0, 1.0));
            for w in roc.windows(2) {
                // Strict, except the documented -inf (score) then -inf (NaN group).
                assert!(
                    w[1].threshold < w[0].threshold || w[1].threshold == f64::NEG_INFINITY,
                    "{roc:?}"
                );
                assert!(w[1].fpr >= w[0].fpr && w[1].tpr >= w[0].tpr);
            }
            let mut distinct: Vec<u64> = s
                .iter()
                .map(|v| if v.is_nan() { u64::MAX } else { v.to_bits() })
                .collect();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(roc.len(), distinct.len() + 1);
        }
        assert!(checked > 1000, "only {checked} two-class cases");
    }

    #[test]
    fn interpolation_is_step_aware() {
        // Curve (0,0) (0,.5) (.5,.5) (.5,1) (1,1) from the hand-computed case.
        let roc = roc_curve(&[0.1, 0.4, 0.35, 0.8], &[F, F, T, T]);
        let got = interpolate_tpr(&roc, &[0.0, 0.25, 0.5, 0.75, 1.0, -1.0, 2.0]);
        assert_eq!(got, vec![0.5, 0.5, 1.0, 1.0, 1.0, 0.0, 1.0]);
        // Diagonal step from ties: tpr == fpr.
        let diag = roc_curve(&[0.5; 4], &[T, F, T, F]);
        let got = interpolate_tpr(&diag, &[0.3, 0.7]);
        assert!(close(got[0], 0.3) && close(got[1], 0.7));
        // Grid value off by rounding still hits the top of a vertical segment.
        let got = interpolate_tpr(&roc, &[0.5 - 1e-15, 0.1 + 0.2]);
        assert_eq!(got[0], 1.0);
        assert!(close(got[1], 0.5));
    }

    #[test]
    fn mean_of_identical_curves() {
        let mut rng = XorShift(12345);
        let (s, y) = loop {
            let (s, y) = random_case(&mut rng);
            if s.len() > 10 && auc(&s, &y).is_some() {
                break (s, y);
            }
        };
        let roc = roc_curve(&s, &y);
        let m = mean_roc(&[roc.clone(), roc.clone(), roc.clone()], 101);
        assert_eq!(m.fpr.len(), 101);
        assert_eq!(m.mean_tpr.len(), 101);
        let single = interpolate_tpr(&roc, &m.fpr);
        assert_eq!(m.mean_tpr[0], 0.0);
        assert_eq!(m.mean_tpr[100], 1.0);
        for (i, &x) in m.fpr.iter().enumerate() {
            assert!(close(x, i as f64 / 100.0));
            assert!(m.sd_tpr[i].abs() < 1e-12);
            if i > 0 {
                assert!(close(m.mean_tpr[i], single[i]));
            }
            assert!(close(m.lower[i], m.mean_tpr[i]) && close(m.upper[i], m.mean_tpr[i]));
        }

        // Hand-computed curve (0,0) (0,.5) (.5,.5) (.5,1) (1,1) on a 5-point grid:
        // fpr 0 is pinned to 0, then .5 (flat), 1 (top of the vertical at .5), 1, 1.
        let roc = roc_curve(&[0.1, 0.4, 0.35, 0.8], &[F, F, T, T]);
        let m = mean_roc(&[roc.clone(), roc], 5);
        assert_eq!(m.fpr, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(m.mean_tpr, vec![0.0, 0.5, 1.0, 1.0, 1.0]);
        assert_eq!(m.sd_tpr, vec![0.0; 5]);
        assert_eq!(
            (m.lower.clone(), m.upper.clone()),
            (m.mean_tpr.clone(), m.mean_tpr)
        );
    }

    #[test]
    fn mean_of_two_curves() {
        // Perfect curve: tpr 1 for fpr > 0. Chance curve (all tied): tpr = fpr.
        let perfect = roc_curve(&[0.9, 0.1], &[T, F]);
        let chance = roc_curve(&[0.5, 0.5], &[T, F]);
        let m = mean_roc(&[perfect, chance], 3);
        assert_eq!(m.fpr, vec![0.0, 0.5, 1.0]);
        // At fpr .5: values 1 and .5 -> mean .75, sample sd sqrt(2 * .25^2 / 1) = .353553...
        assert_eq!(m.mean_tpr, vec![0.0, 0.75, 1.0]);
        let sd = (0.125f64).sqrt();
        assert!(close(m.sd_tpr[1], sd));
        assert_eq!((m.sd_tpr[0], m.sd_tpr[2]), (0.0, 0.0));
        assert!(close(m.lower[1], 0.75 - sd));
        assert_eq!(m.upper[1], 1.0); // .75 + .354 clamped
        // grid_points < 2 is raised to 2.
        assert_eq!(
            mean_roc(&[roc_curve(&[0.9, 0.1], &[T, F])], 0).fpr,
            vec![0.0, 1.0]
        );
    }
}
