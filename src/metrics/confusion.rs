//! Multi-class confusion matrices and per-class precision, recall and F1.
//!
//! Undefined ratios (a zero denominator) are reported as 0, like
//! scikit-learn's `zero_division=0`.

/// A confusion matrix: `counts[t][p]` is the number of samples of true class
/// `t` predicted as class `p` (rows = truth, columns = prediction).
///
/// `counts` is `n_classes × n_classes` when built by [`from_pairs`](Self::from_pairs).
/// The fields are public; the methods do not panic on a hand-built matrix of
/// another shape (missing cells count as 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    /// Number of classes; class labels are `0..n_classes`.
    pub n_classes: usize,
    /// `counts[true_class][predicted_class]`.
    pub counts: Vec<Vec<u64>>,
}

/// Precision, recall, F1 and support of one class (one-vs-rest).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassScores {
    /// `TP / (TP + FP)`, or 0 when the class is never predicted.
    pub precision: f64,
    /// `TP / (TP + FN)`, or 0 when the class never occurs in the truth.
    pub recall: f64,
    /// `2 TP / (2 TP + FP + FN)` (the harmonic mean of precision and recall),
    /// or 0 when that denominator is 0.
    pub f1: f64,
    /// Number of samples whose true class is this class (`TP + FN`).
    pub support: u64,
}

/// `num / den`, or 0 when `den` is 0.
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl ConfusionMatrix {
    /// Builds the matrix from paired true and predicted class labels.
    ///
    /// # Errors
    ///
    /// Returns an error message when `truth` and `pred` have different
    /// lengths, or when a label is not below `n_classes`. Empty input gives an
    /// all-zero matrix.
    pub fn from_pairs(n_classes: usize, truth: &[usize], pred: &[usize]) -> Result<Self, String> {
        if truth.len() != pred.len() {
            return Err(format!(
                "length mismatch: {} true labels but {} predictions",
                truth.len(),
                pred.len()
            ));
        }
        let mut counts = vec![vec![0u64; n_classes]; n_classes];
        for (i, (&t, &p)) in truth.iter().zip(pred).enumerate() {
            if t >= n_classes || p >= n_classes {
                return Err(format!(
                    "sample {i}: label out of range (true {t}, predicted {p}, {n_classes} classes)"
                ));
            }
            counts[t][p] += 1;
        }
        Ok(Self { n_classes, counts })
    }

    /// Total number of samples.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Each row as percentages (0–100) of its row total, i.e. how the samples
    /// of each true class were distributed over the predictions. A row with no
    /// samples is all zeros.
    pub fn row_percentages(&self) -> Vec<Vec<f64>> {
        self.counts
            .iter()
            .map(|row| {
                let sum: u64 = row.iter().sum();
                row.iter().map(|&c| 100.0 * ratio(c, sum)).collect()
            })
            .collect()
    }

    /// Fraction of samples on the diagonal; `None` when the matrix is empty.
    pub fn accuracy(&self) -> Option<f64> {
        let total = self.total();
        let correct: u64 = (0..self.n_classes).map(|i| self.cell(i, i)).sum();
        (total > 0).then(|| correct as f64 / total as f64)
    }

    /// `counts[t][p]`, or 0 when that cell does not exist.
    fn cell(&self, t: usize, p: usize) -> u64 {
        self.counts
            .get(t)
            .and_then(|row| row.get(p))
            .copied()
            .unwrap_or(0)
    }

    /// Number of samples predicted as class `c` (column sum).
    fn predicted(&self, c: usize) -> u64 {
        self.counts.iter().filter_map(|row| row.get(c)).sum()
    }

    /// Number of samples of true class `c` (row sum).
    fn support(&self, c: usize) -> u64 {
        self.counts.get(c).map_or(0, |row| row.iter().sum())
    }

    /// One-vs-rest scores for every class, in class order. Undefined values
    /// are 0 (scikit-learn's `zero_division=0`).
    pub fn per_class(&self) -> Vec<ClassScores> {
        (0..self.n_classes)
            .map(|c| {
                let tp = self.cell(c, c);
                let support = self.support(c);
                let predicted = self.predicted(c);
                let (fn_, fp) = (support - tp, predicted - tp);
                ClassScores {
                    precision: ratio(tp, predicted),
                    recall: ratio(tp, support),
                    f1: ratio(2 * tp, 2 * tp + fp + fn_),
                    support,
                }
            })
            .collect()
    }

    /// Support-weighted mean of the per-class F1 scores, as scikit-learn's
    /// `f1_score(average="weighted", zero_division=0)`. `None` when the matrix
    /// is empty.
    pub fn weighted_f1(&self) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| {
            self.per_class()
                .iter()
                .map(|s| s.f1 * s.support as f64)
                .sum::<f64>()
                / total as f64
        })
    }

    /// Unweighted mean of the per-class F1 scores over the classes that occur
    /// in the truth or in the predictions, as scikit-learn's
    /// `f1_score(average="macro", zero_division=0)` with its default labels.
    /// Classes absent from both are left out. `None` when the matrix is empty.
    pub fn macro_f1(&self) -> Option<f64> {
        let scores = self.per_class();
        let present: Vec<f64> = scores
            .iter()
            .enumerate()
            .filter(|&(c, s)| s.support > 0 || self.predicted(c) > 0)
            .map(|(_, s)| s.f1)
            .collect();
        (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// truth: 0 0 0 0 1 1 1 2 2 2
    /// pred:  0 0 1 2 1 1 0 2 2 2
    ///
    /// Matrix (rows true, columns predicted):
    ///   [2 1 1]   row sums (support) 4, 3, 3
    ///   [1 2 0]   column sums        3, 3, 4
    ///   [0 0 3]   diagonal 2 + 2 + 3 = 7 of 10 -> accuracy 0.7
    ///
    /// class 0: TP 2, FP 1, FN 2 -> P 2/3, R 1/2, F1 = 4/7
    /// class 1: TP 2, FP 1, FN 1 -> P 2/3, R 2/3, F1 = 4/6 = 2/3
    /// class 2: TP 3, FP 1, FN 0 -> P 3/4, R 1,   F1 = 6/7
    /// weighted F1 = (4·4/7 + 3·2/3 + 3·6/7) / 10 = (16/7 + 2 + 18/7) / 10 = 48/70 = 24/35
    /// macro F1    = (4/7 + 2/3 + 6/7) / 3 = (12 + 14 + 18) / 63 = 44/63
    fn example() -> ConfusionMatrix {
        let truth = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
        let pred = [0, 0, 1, 2, 1, 1, 0, 2, 2, 2];
        ConfusionMatrix::from_pairs(3, &truth, &pred).unwrap()
    }

    #[test]
    fn hand_computed_three_classes() {
        let cm = example();
        assert_eq!(cm.counts, vec![vec![2, 1, 1], vec![1, 2, 0], vec![0, 0, 3]]);
        assert_eq!(cm.total(), 10);
        assert!(close(cm.accuracy().unwrap(), 0.7));

        let s = cm.per_class();
        let expected = [
            (2.0 / 3.0, 0.5, 4.0 / 7.0, 4),
            (2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 3),
            (0.75, 1.0, 6.0 / 7.0, 3),
        ];
        assert_eq!(s.len(), 3);
        for (got, &(p, r, f, n)) in s.iter().zip(&expected) {
            assert!(close(got.precision, p), "{got:?}");
            assert!(close(got.recall, r), "{got:?}");
            assert!(close(got.f1, f), "{got:?}");
            assert_eq!(got.support, n);
        }
        assert!(close(cm.weighted_f1().unwrap(), 24.0 / 35.0));
        assert!(close(cm.macro_f1().unwrap(), 44.0 / 63.0));

        let pct = cm.row_percentages();
        let expected = [
            [50.0, 25.0, 25.0],
            [100.0 / 3.0, 200.0 / 3.0, 0.0],
            [0.0, 0.0, 100.0],
        ];
        for (row, exp) in pct.iter().zip(&expected) {
            for (a, b) in row.iter().zip(exp) {
                assert!(close(*a, *b), "{pct:?}");
            }
        }
    }

    #[test]
    fn zero_division_and_absent_classes() {
        // 4 classes; class 2 is only predicted (never true), class 3 never seen.
        // truth 0 0 1 1, pred 0 2 1 1:
        // class 0: TP 1, FP 0, FN 1 -> P 1, R 1/2, F1 2/3, support 2
        // class 1: TP 2, FP 0, FN 0 -> P 1, R 1, F1 1, support 2
        // class 2: TP 0, FP 1, FN 0 -> P 0, R 0 (undefined), F1 0, support 0
        // class 3: nothing -> all 0
        // weighted = (2·2/3 + 2·1) / 4 = 5/6; macro over classes {0,1,2} = (2/3 + 1 + 0) / 3 = 5/9
        let cm = ConfusionMatrix::from_pairs(4, &[0, 0, 1, 1], &[0, 2, 1, 1]).unwrap();
        let s = cm.per_class();
        assert!(close(s[0].f1, 2.0 / 3.0) && close(s[0].recall, 0.5) && s[0].precision == 1.0);
        assert_eq!(
            (s[2].precision, s[2].recall, s[2].f1, s[2].support),
            (0.0, 0.0, 0.0, 0)
        );
        assert_eq!(
            (s[3].precision, s[3].recall, s[3].f1, s[3].support),
            (0.0, 0.0, 0.0, 0)
        );
        assert!(close(cm.weighted_f1().unwrap(), 5.0 / 6.0));
        assert!(close(cm.macro_f1().unwrap(), 5.0 / 9.0));
        assert_eq!(cm.row_percentages()[3], vec![0.0; 4]);
    }

    #[test]
    fn errors_and_empty() {
        assert!(ConfusionMatrix::from_pairs(3, &[0, 1], &[0]).is_err());
        assert!(ConfusionMatrix::from_pairs(3, &[0, 3], &[0, 1]).is_err());
        assert!(ConfusionMatrix::from_pairs(3, &[0, 1], &[0, 7]).is_err());
        assert!(ConfusionMatrix::from_pairs(0, &[0], &[0]).is_err());

        let empty = ConfusionMatrix::from_pairs(3, &[], &[]).unwrap();
        assert_eq!(empty.total(), 0);
        assert_eq!(empty.accuracy(), None);
        assert_eq!(empty.weighted_f1(), None);
        assert_eq!(empty.macro_f1(), None);
        assert_eq!(empty.row_percentages(), vec![vec![0.0; 3]; 3]);
        assert!(
            empty
                .per_class()
                .iter()
                .all(|s| s.f1 == 0.0 && s.support == 0)
        );

        let none = ConfusionMatrix::from_pairs(0, &[], &[]).unwrap();
        assert_eq!(none.total(), 0);
        assert!(none.per_class().is_empty());
        assert_eq!(none.accuracy(), None);

        // Hand-built matrix of the wrong shape: no panic, missing cells are 0.
        let odd = ConfusionMatrix {
            n_classes: 3,
            counts: vec![vec![1], vec![]],
        };
        assert_eq!(odd.total(), 1);
        assert_eq!(odd.accuracy(), Some(1.0));
        assert_eq!(odd.per_class().len(), 3);
    }

    #[test]
    fn perfect_prediction() {
        let cm = ConfusionMatrix::from_pairs(2, &[0, 1, 1], &[0, 1, 1]).unwrap();
        assert_eq!(cm.accuracy(), Some(1.0));
        assert_eq!(cm.weighted_f1(), Some(1.0));
        assert_eq!(cm.macro_f1(), Some(1.0));
    }
}
