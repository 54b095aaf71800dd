//! Confident learning (Northcutt, Jiang, Chuang, *JAIR* 70, 2021: "Confident Learning:
//! Estimating Uncertainty in Dataset Labels"), as the `cleanlab` package (2.9) computes it, so
//! that the same inputs give the same issues in the same order (tested against fixtures made
//! with cleanlab, `tests/fixtures/cleanlab/`).
//!
//! Inputs are the given labels (`0..K`) and out-of-fold probabilities (one row of `K` per
//! sample). Steps:
//! 1. **Thresholds** `t_j`: the mean probability of class `j` over the samples given `j`.
//! 2. **Confident joint** `C[i][j]`: samples given `i` whose probability of `j` reaches `t_j`
//!    (when several classes do, the most probable; samples reaching none are not counted),
//!    with at least 1 on the diagonal; then **calibrated** so that row `i` sums to the number
//!    of samples given `i` and the whole sums to `n`, rounded preserving row totals.
//! 3. **Issues**, by one of two rules ([`Filter`]):
//!    - "prune by noise rate" (cleanlab's default): for every given class `k` and other class
//!      `j`, the `C[k][j]` samples given `k` with the largest margin `p_j − p_k` (after keeping
//!      at least one sample per class on the diagonal); then every sample whose given class is
//!      the most probable one (within 1e-6) is dropped;
//!    - "lowest scores" (cleanlab's `low_self_confidence` / `low_normalized_margin`): the
//!      samples with the lowest ranking score, as many as cleanlab's default count of issues
//!      (off-diagonal samples of the uncalibrated joint whose given class is not the most
//!      probable).
//! 4. **Ranking**: ascending self-confidence `p_given` (default) or normalised margin
//!    `(p_given − max_{other} p + 1) / 2`.
//! 5. **Estimated number of issues**: the off-diagonal share of the calibrated joint times `n`
//!    (the paper's estimate), beside cleanlab's default count (off-diagonal samples of the
//!    uncalibrated joint whose given class is not the most probable).

/// cleanlab's fuzzy comparison.
const FLOATING_POINT_COMPARISON: f64 = 1e-6;
/// cleanlab's lower bound of a threshold.
const THRESHOLD_LOWER_BOUND: f64 = 2.0 * FLOATING_POINT_COMPARISON;
/// cleanlab's clip against division by zero.
const TINY_VALUE: f64 = 1e-100;
/// The threshold of a class no sample is given (no sample can reach it).
const ABSENT_CLASS_THRESHOLD: f64 = 2.0;

/// How suspects are ordered (most suspicious first).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rank {
    /// Ascending probability of the given class.
    #[default]
    SelfConfidence,
    /// Ascending `(p_given − largest other probability + 1) / 2`.
    NormalizedMargin,
}

impl Rank {
    /// The label-quality score of one sample (lower is more suspicious).
    pub fn score(self, given: usize, probs: &[f64]) -> f64 {
        let own = probs[given];
        match self {
            Rank::SelfConfidence => own,
            Rank::NormalizedMargin => {
                let other = probs
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != given)
                    .map(|(_, &p)| p)
                    .fold(f64::NEG_INFINITY, f64::max);
                (own - other + 1.0) / 2.0
            }
        }
    }
}

/// Which samples are flagged as issues (the ranking then orders them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Filter {
    /// cleanlab's `prune_by_noise_rate` (its `find_label_issues` default, and ours: it sizes
    /// the flagged set well when the network is accurate; `benches/RESULTS.md`).
    #[default]
    PruneByNoiseRate,
    /// The `num_label_issues` samples with the lowest ranking score (cleanlab's
    /// `low_self_confidence` or `low_normalized_margin`, after the ranking). With a weak
    /// network (PBC's eight classes) it flags fewer correct labels and finds more flipped ones;
    /// with an accurate one it flags too few.
    LowestScores,
}

/// One likely label issue.
#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    /// Index of the sample in the inputs.
    pub index: usize,
    pub given: usize,
    /// The most probable class other than the given one.
    pub suggested: usize,
    /// The probability of the suggested class.
    pub probability: f64,
    /// The ranking score (lower is more suspicious).
    pub score: f64,
}

/// Everything confident learning found.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelIssues {
    /// Per-class thresholds (mean self-probability of each given class).
    pub thresholds: Vec<f64>,
    /// The confident joint before calibration, `[given][true]`.
    pub confident_joint_raw: Vec<Vec<usize>>,
    /// The calibrated confident joint, `[given][true]`.
    pub confident_joint: Vec<Vec<usize>>,
    /// The paper's estimate of the number of label issues (calibrated joint).
    pub estimated_issues: usize,
    /// cleanlab's default count (`num_label_issues`, "off_diagonal").
    pub off_diagonal_issues: usize,
    /// The issues, most suspicious first.
    pub ranked: Vec<Issue>,
}

/// [`find_label_issues_by`] with the default [`Filter`].
pub fn find_label_issues(
    labels: &[usize],
    probs: &[Vec<f64>],
    rank: Rank,
) -> Result<LabelIssues, String> {
    find_label_issues_by(labels, probs, rank, Filter::default())
}

/// Finds the likely label issues among `labels` with out-of-fold `probs`, flagged by `filter`
/// and ordered by `rank`; see the module documentation. Errors (never panics) on inputs of
/// different lengths, rows of different widths, fewer than two classes, a label out of range
/// or a probability that is not a finite non-negative number.
pub fn find_label_issues_by(
    labels: &[usize],
    probs: &[Vec<f64>],
    rank: Rank,
    filter: Filter,
) -> Result<LabelIssues, String> {
    let k = check_inputs(labels, probs)?;
    let thresholds = confident_thresholds(labels, probs, k);
    let (raw, off_diagonal) = confident_joint(labels, probs, &thresholds);
    let calibrated = calibrate(&raw, labels, k);
    let off_diagonal_issues = off_diagonal
        .iter()
        .filter(|&&i| !given_is_predicted(labels[i], &probs[i]))
        .count();
    let mask = match filter {
        Filter::PruneByNoiseRate => prune_by_noise_rate(labels, probs, &calibrated),
        Filter::LowestScores => lowest_scores(labels, probs, rank, off_diagonal_issues),
    };
    let ranked = rank_issues(labels, probs, &mask, rank);
    Ok(LabelIssues {
        estimated_issues: calibrated_estimate(&calibrated, labels, k),
        thresholds,
        confident_joint_raw: raw,
        confident_joint: calibrated,
        off_diagonal_issues,
        ranked,
    })
}

/// Checks the inputs; returns the number of classes.
fn check_inputs(labels: &[usize], probs: &[Vec<f64>]) -> Result<usize, String> {
    if labels.len() != probs.len() {
        return Err(format!(
            "{} labels but {} rows of probabilities",
            labels.len(),
            probs.len()
        ));
    }
    let k = probs.first().map_or(0, Vec::len);
    if labels.is_empty() {
        return Err("there are no samples".into());
    }
    if k < 2 {
        return Err(format!(
            "confident learning needs at least two classes (the probabilities have {k})"
        ));
    }
    for (i, (&l, row)) in labels.iter().zip(probs).enumerate() {
        if row.len() != k {
            return Err(format!(
                "sample {i} has {} probabilities, the first has {k}",
                row.len()
            ));
        }
        if l >= k {
            return Err(format!(
                "sample {i} has label {l}, but there are {k} classes"
            ));
        }
        if let Some(p) = row.iter().find(|p| !p.is_finite() || **p < 0.0) {
            return Err(format!("sample {i} has the probability {p}"));
        }
    }
    Ok(k)
}

/// The mean probability of each class over the samples given it (2 for a class no sample is
/// given), at least 2e-6.
pub fn confident_thresholds(labels: &[usize], probs: &[Vec<f64>], k: usize) -> Vec<f64> {
    (0..k)
        .map(|c| {
            let own: Vec<f64> = labels
                .iter()
                .zip(probs)
                .filter(|(l, _)| **l == c)
                .map(|(_, p)| p[c])
                .collect();
            let t = if own.is_empty() {
                ABSENT_CLASS_THRESHOLD
            } else {
                own.iter().sum::<f64>() / own.len() as f64
            };
            t.max(THRESHOLD_LOWER_BOUND)
        })
        .collect()
}

/// The first index of the largest value.
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// The uncalibrated confident joint `[given][true]` (diagonal at least 1) and the samples
/// counted off its diagonal.
fn confident_joint(
    labels: &[usize],
    probs: &[Vec<f64>],
    thresholds: &[f64],
) -> (Vec<Vec<usize>>, Vec<usize>) {
    let k = thresholds.len();
    let mut joint = vec![vec![0usize; k]; k];
    let mut off_diagonal = Vec::new();
    for (i, (&given, row)) in labels.iter().zip(probs).enumerate() {
        let confident: Vec<usize> = (0..k)
            .filter(|&j| row[j] >= thresholds[j] - FLOATING_POINT_COMPARISON)
            .collect();
        let guess = match confident.as_slice() {
            [] => continue,
            [only] => *only,
            _ => argmax(row),
        };
        joint[given][guess] += 1;
        if guess != given {
            off_diagonal.push(i);
        }
    }
    for (c, row) in joint.iter_mut().enumerate() {
        row[c] = row[c].max(1);
    }
    (joint, off_diagonal)
}

/// Scales each row of a joint to its class's sample count, then the whole to `n`, and rounds
/// preserving row totals (cleanlab's `calibrate_confident_joint`).
fn calibrate(joint: &[Vec<usize>], labels: &[usize], k: usize) -> Vec<Vec<usize>> {
    let mut counts = vec![0usize; k];
    for &l in labels {
        counts[l] += 1;
    }
    let scaled: Vec<Vec<f64>> = joint
        .iter()
        .zip(&counts)
        .map(|(row, &count)| {
            let sum = (row.iter().sum::<usize>() as f64).max(TINY_VALUE);
            row.iter().map(|&v| v as f64 / sum * count as f64).collect()
        })
        .collect();
    let total = scaled.iter().flatten().sum::<f64>().max(TINY_VALUE);
    let n = labels.len() as f64;
    scaled
        .iter()
        .map(|row| {
            let row: Vec<f64> = row.iter().map(|v| v / total * n).collect();
            round_preserving_sum(&row)
        })
        .collect()
}

/// Rounds (half to even) so that the integers add up to the rounded sum of the floats,
/// adjusting the entries with the largest (or, downwards, smallest) rounding remainders.
fn round_preserving_sum(floats: &[f64]) -> Vec<usize> {
    let mut ints: Vec<f64> = floats.iter().map(|v| v.round_ties_even()).collect();
    let orig_sum = floats.iter().sum::<f64>().round_ties_even();
    let mut int_sum = ints.iter().sum::<f64>().round_ties_even();
    while (int_sum - orig_sum).abs() > FLOATING_POINT_COMPARISON {
        let diff = (orig_sum - int_sum).round_ties_even();
        let increment = if diff < 0.0 { -1.0 } else { 1.0 };
        let changes = (diff.abs() as usize).min(floats.len());
        let mut order: Vec<usize> = (0..floats.len()).collect();
        order.sort_by(|&a, &b| (floats[a] - ints[a]).total_cmp(&(floats[b] - ints[b])));
        if increment > 0.0 {
            order.reverse();
        }
        for &i in order.iter().take(changes) {
            ints[i] += increment;
        }
        int_sum = ints.iter().sum::<f64>().round_ties_even();
    }
    ints.iter().map(|&v| v.max(0.0) as usize).collect()
}

/// cleanlab's `_keep_at_least_n_per_class` with n = 1: the prune-count matrix `[true][given]`
/// with at least one sample of every given class kept on the diagonal.
fn prune_counts(joint: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let k = joint.len();
    // Transposed: [true][given], so column c is given class c.
    let pcm: Vec<Vec<f64>> = (0..k)
        .map(|t| (0..k).map(|g| joint[g][t] as f64).collect())
        .collect();
    let new_diag: Vec<f64> = (0..k).map(|c| pcm[c][c].max(1.0)).collect();
    let per_col: Vec<f64> = (0..k)
        .map(|c| {
            let nonzero = (0..k).filter(|&r| pcm[r][c] != 0.0).count() as f64;
            (new_diag[c] - pcm[c][c]) / (nonzero - 1.0).max(1.0)
        })
        .collect();
    let adjusted: Vec<Vec<f64>> = (0..k)
        .map(|r| {
            (0..k)
                .map(|c| {
                    if r == c {
                        new_diag[c]
                    } else {
                        (pcm[r][c] - per_col[c]).max(0.0)
                    }
                })
                .collect()
        })
        .collect();
    adjusted
        .iter()
        .map(|row| round_preserving_sum(row))
        .collect()
}

/// The issue mask of "prune by noise rate", without the samples whose given class is the most
/// probable.
fn prune_by_noise_rate(labels: &[usize], probs: &[Vec<f64>], joint: &[Vec<usize>]) -> Vec<bool> {
    let k = joint.len();
    let pcm = prune_counts(joint);
    let mut mask = vec![false; labels.len()];
    for given in 0..k {
        let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == given).collect();
        if members.len() <= 1 {
            continue; // cleanlab keeps a class's only sample
        }
        for (other, counts) in pcm.iter().enumerate() {
            let n_prune = counts[given];
            if other == given || n_prune == 0 {
                continue;
            }
            let margin = |i: usize| probs[i][other] - probs[i][given];
            let mut order = members.clone();
            order.sort_by(|&a, &b| margin(b).total_cmp(&margin(a)));
            for &i in order.iter().take(n_prune) {
                mask[i] = true;
            }
        }
    }
    for (i, m) in mask.iter_mut().enumerate() {
        if given_is_predicted(labels[i], &probs[i]) {
            *m = false;
        }
    }
    mask
}

/// The mask of the `count` samples with the lowest `rank` score (ties by index).
fn lowest_scores(labels: &[usize], probs: &[Vec<f64>], rank: Rank, count: usize) -> Vec<bool> {
    let scores: Vec<f64> = labels
        .iter()
        .zip(probs)
        .map(|(&l, p)| rank.score(l, p))
        .collect();
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    let mut mask = vec![false; labels.len()];
    for &i in order.iter().take(count) {
        mask[i] = true;
    }
    mask
}

/// The most probable class other than `given` (the first of equals).
fn best_other(given: usize, probs: &[f64]) -> usize {
    let mut best = if given == 0 { 1 } else { 0 };
    for (j, &p) in probs.iter().enumerate() {
        if j != given && p > probs[best] {
            best = j;
        }
    }
    best
}

/// Whether the given class is the most probable (within 1e-6).
fn given_is_predicted(given: usize, probs: &[f64]) -> bool {
    let mut nudged = probs.to_vec();
    nudged[given] += FLOATING_POINT_COMPARISON;
    argmax(&nudged) == given
}

/// The masked samples as issues, most suspicious first (ties by index).
fn rank_issues(labels: &[usize], probs: &[Vec<f64>], mask: &[bool], rank: Rank) -> Vec<Issue> {
    let mut issues: Vec<Issue> = (0..labels.len())
        .filter(|&i| mask[i])
        .map(|i| {
            let suggested = best_other(labels[i], &probs[i]);
            Issue {
                index: i,
                given: labels[i],
                suggested,
                probability: probs[i][suggested],
                score: rank.score(labels[i], &probs[i]),
            }
        })
        .collect();
    issues.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.index.cmp(&b.index)));
    issues
}

/// The paper's estimate: `n` times the off-diagonal share of the (re-)calibrated joint,
/// rounded half to even (cleanlab's "off_diagonal_calibrated").
fn calibrated_estimate(joint: &[Vec<usize>], labels: &[usize], k: usize) -> usize {
    let again = calibrate(joint, labels, k);
    let total = again.iter().flatten().sum::<usize>() as f64;
    let trace = (0..k).map(|c| again[c][c]).sum::<usize>() as f64;
    let share = 1.0 - trace / total.max(TINY_VALUE);
    (share * labels.len() as f64).round_ties_even().max(0.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(r: &[[f64; 2]]) -> Vec<Vec<f64>> {
        r.iter().map(|x| x.to_vec()).collect()
    }

    #[test]
    fn a_hand_computed_binary_case() {
        // Given 0: p0 = .9, .8, .7, .1 → t0 = 0.625. Given 1: p1 = .9, .8, .4 → t1 = 0.7.
        let labels = [0, 0, 0, 0, 1, 1, 1];
        let probs = rows(&[
            [0.9, 0.1],
            [0.8, 0.2],
            [0.7, 0.3],
            [0.1, 0.9], // given 0, confidently 1
            [0.1, 0.9],
            [0.2, 0.8],
            [0.6, 0.4], // given 1, reaches neither threshold (0.6 < 0.625, 0.4 < 0.7)
        ]);
        let r = find_label_issues(&labels, &probs, Rank::SelfConfidence).unwrap();
        assert!((r.thresholds[0] - 0.625).abs() < 1e-12);
        assert!((r.thresholds[1] - 0.7).abs() < 1e-12);
        assert_eq!(r.confident_joint_raw, vec![vec![3, 1], vec![0, 2]]);
        // Row 0 scaled to 4 samples: [3, 1]; row 1 to 3: [0, 3]; total 7 = n.
        assert_eq!(r.confident_joint, vec![vec![3, 1], vec![0, 3]]);
        assert_eq!(r.estimated_issues, 1);
        assert_eq!(r.off_diagonal_issues, 1);
        assert_eq!(
            r.ranked,
            vec![Issue {
                index: 3,
                given: 0,
                suggested: 1,
                probability: 0.9,
                score: 0.1
            }]
        );
    }

    /// The two filters differ: one sample off the joint's diagonal (f, given 2, confidently 0),
    /// so "lowest scores" flags the one lowest self-confidence, which is b (given 0 at 0.28,
    /// the most probable but reaching no threshold), suggesting the most probable other class;
    /// "prune by noise rate" flags f.
    #[test]
    fn lowest_scores_flag_the_least_confident_and_suggest_the_best_other_class() {
        let labels = [0, 0, 1, 1, 2, 2, 3, 3];
        let probs = vec![
            vec![0.97, 0.01, 0.01, 0.01],
            vec![0.28, 0.24, 0.24, 0.24], // b
            vec![0.01, 0.97, 0.01, 0.01],
            vec![0.01, 0.97, 0.01, 0.01],
            vec![0.01, 0.01, 0.97, 0.01],
            vec![0.70, 0.01, 0.29, 0.00], // f
            vec![0.01, 0.01, 0.01, 0.97],
            vec![0.01, 0.01, 0.01, 0.97],
        ];
        // t0 = (0.97 + 0.28) / 2 = 0.625, t2 = (0.97 + 0.29) / 2 = 0.63: f reaches t0.
        let low = find_label_issues_by(&labels, &probs, Rank::SelfConfidence, Filter::LowestScores)
            .unwrap();
        assert_eq!(low.off_diagonal_issues, 1);
        let b = Issue {
            index: 1,
            given: 0,
            suggested: 1,
            probability: 0.24,
            score: 0.28,
        };
        assert_eq!(low.ranked, vec![b]);
        let pruned = find_label_issues_by(
            &labels,
            &probs,
            Rank::SelfConfidence,
            Filter::PruneByNoiseRate,
        )
        .unwrap();
        let f = Issue {
            index: 5,
            given: 2,
            suggested: 0,
            probability: 0.70,
            score: 0.29,
        };
        assert_eq!(pruned.ranked, vec![f]);
    }

    #[test]
    fn normalized_margin_orders_by_the_gap_to_the_best_other_class() {
        assert!((Rank::NormalizedMargin.score(0, &[0.2, 0.5, 0.3]) - 0.35).abs() < 1e-12);
        assert!((Rank::NormalizedMargin.score(1, &[0.2, 0.5, 0.3]) - 0.6).abs() < 1e-12);
        assert_eq!(Rank::SelfConfidence.score(2, &[0.2, 0.5, 0.3]), 0.3);
    }

    #[test]
    fn rounding_keeps_the_row_total() {
        assert_eq!(round_preserving_sum(&[0.5, 0.5, 1.0]), vec![0, 1, 1]);
        // Largest remainder first; of equal remainders, the later one (numpy's reversed order).
        assert_eq!(round_preserving_sum(&[1.4, 1.4, 1.2]), vec![1, 2, 1]);
        assert_eq!(round_preserving_sum(&[2.6, 2.6, 0.8]), vec![2, 3, 1]);
    }

    #[test]
    fn bad_inputs_are_errors_in_words() {
        let e = find_label_issues(&[0], &[vec![1.0]], Rank::default()).unwrap_err();
        assert!(e.contains("at least two classes"), "{e}");
        let e = find_label_issues(&[2], &[vec![0.5, 0.5]], Rank::default()).unwrap_err();
        assert!(e.contains("label 2"), "{e}");
        let e = find_label_issues(&[0], &[vec![f64::NAN, 0.5]], Rank::default()).unwrap_err();
        assert!(e.contains("NaN"), "{e}");
        let e = find_label_issues(&[0, 1], &[vec![0.5, 0.5]], Rank::default()).unwrap_err();
        assert!(e.contains("2 labels but 1"), "{e}");
    }
}
