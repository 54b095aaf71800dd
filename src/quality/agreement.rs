//! Agreement between annotators: Cohen's κ for two (Cohen 1960), Fleiss' κ for more (Fleiss
//! 1971), with the per-class agreement matrix and a κ per class (that class against all
//! others). Pure functions over class indices `0..k`.

/// How far raters agree beyond chance.
#[derive(Clone, Debug, PartialEq)]
pub struct Agreement {
    /// Number of raters per item.
    pub raters: usize,
    /// Number of items every rater labelled.
    pub items: usize,
    /// Observed agreement (Cohen: share of items with equal labels; Fleiss: mean pairwise
    /// agreement per item).
    pub observed: f64,
    /// Agreement expected by chance.
    pub expected: f64,
    /// κ = (observed − expected) / (1 − expected); `None` when chance agreement is 1 (every
    /// label the same class).
    pub kappa: Option<f64>,
    /// `[a][b]`: Cohen, items the first rater gave `a` and the second `b`; Fleiss, ordered
    /// pairs of different raters of one item who gave `a` and `b` (symmetric).
    pub matrix: Vec<Vec<usize>>,
    /// κ of each class against all others (`None` when no rater, or every rater, used it).
    pub per_class: Vec<Option<f64>>,
}

/// κ from observed and expected agreement, `None` when chance agreement is total.
fn kappa(observed: f64, expected: f64) -> Option<f64> {
    (expected < 1.0 - 1e-12).then(|| (observed - expected) / (1.0 - expected))
}

/// Cohen's κ of two raters who labelled the same items (`a[i]` and `b[i]`, classes `0..k`).
pub fn cohen(a: &[usize], b: &[usize], k: usize) -> Result<Agreement, String> {
    if a.len() != b.len() {
        return Err(format!(
            "the two raters labelled {} and {} items",
            a.len(),
            b.len()
        ));
    }
    check_classes(a.iter().chain(b), k)?;
    if a.is_empty() {
        return Err("no item was labelled by both annotators".into());
    }
    let n = a.len() as f64;
    let mut matrix = vec![vec![0usize; k]; k];
    for (&x, &y) in a.iter().zip(b) {
        matrix[x][y] += 1;
    }
    let (observed, expected) = cohen_parts(&matrix, n);
    let per_class = (0..k)
        .map(|c| {
            let binary = one_vs_rest(&matrix, c);
            let (o, e) = cohen_parts(&binary, n);
            kappa(o, e)
        })
        .collect();
    Ok(Agreement {
        raters: 2,
        items: a.len(),
        observed,
        expected,
        kappa: kappa(observed, expected),
        matrix,
        per_class,
    })
}

/// Observed and chance agreement of a two-rater matrix over `n` items.
fn cohen_parts(matrix: &[Vec<usize>], n: f64) -> (f64, f64) {
    let k = matrix.len();
    let observed = (0..k).map(|c| matrix[c][c]).sum::<usize>() as f64 / n;
    let expected = (0..k)
        .map(|c| {
            let row = matrix[c].iter().sum::<usize>() as f64;
            let col = matrix.iter().map(|r| r[c]).sum::<usize>() as f64;
            row / n * (col / n)
        })
        .sum();
    (observed, expected)
}

/// The 2 × 2 matrix of class `c` (index 0) against every other class (index 1).
fn one_vs_rest(matrix: &[Vec<usize>], c: usize) -> Vec<Vec<usize>> {
    let mut out = vec![vec![0usize; 2]; 2];
    for (a, row) in matrix.iter().enumerate() {
        for (b, &v) in row.iter().enumerate() {
            out[usize::from(a != c)][usize::from(b != c)] += v;
        }
    }
    out
}

/// Fleiss' κ of items that each got one label from each of the same number of raters
/// (`ratings[i]`: the labels of item `i`, classes `0..k`).
pub fn fleiss(ratings: &[Vec<usize>], k: usize) -> Result<Agreement, String> {
    let raters = ratings.first().map_or(0, Vec::len);
    if ratings.is_empty() {
        return Err("no item was labelled by every annotator".into());
    }
    if raters < 2 {
        return Err("agreement needs at least two annotators per item".into());
    }
    if let Some(i) = ratings.iter().position(|r| r.len() != raters) {
        return Err(format!(
            "item {i} has {} labels, the first has {raters}",
            ratings[i].len()
        ));
    }
    check_classes(ratings.iter().flatten(), k)?;
    let counts: Vec<Vec<usize>> = ratings
        .iter()
        .map(|r| {
            let mut c = vec![0usize; k];
            for &x in r {
                c[x] += 1;
            }
            c
        })
        .collect();
    let mut agreement = fleiss_counts(&counts, raters)?;
    agreement.matrix = pair_matrix(ratings, k);
    Ok(agreement)
}

/// Fleiss' κ from the number of raters who gave each class to each item (`counts[i][j]`,
/// every row summing to `raters`). The matrix is left empty (it needs the single ratings).
pub fn fleiss_counts(counts: &[Vec<usize>], raters: usize) -> Result<Agreement, String> {
    let k = counts.first().map_or(0, Vec::len);
    if let Some(i) = counts
        .iter()
        .position(|r| r.len() != k || r.iter().sum::<usize>() != raters)
    {
        return Err(format!("item {i} does not have {raters} labels"));
    }
    if counts.is_empty() || raters < 2 {
        return Err("agreement needs items with at least two labels each".into());
    }
    let items = counts.len() as f64;
    let r = raters as f64;
    let observed = counts
        .iter()
        .map(|row| (row.iter().map(|&x| (x * x) as f64).sum::<f64>() - r) / (r * (r - 1.0)))
        .sum::<f64>()
        / items;
    let share: Vec<f64> = (0..k)
        .map(|j| counts.iter().map(|row| row[j]).sum::<usize>() as f64 / (items * r))
        .collect();
    let expected = share.iter().map(|p| p * p).sum();
    let per_class = (0..k)
        .map(|j| {
            let spread = share[j] * (1.0 - share[j]);
            (spread > 1e-12).then(|| {
                let disagree: f64 = counts
                    .iter()
                    .map(|row| (row[j] * (raters - row[j])) as f64)
                    .sum();
                1.0 - disagree / (items * r * (r - 1.0) * spread)
            })
        })
        .collect();
    Ok(Agreement {
        raters,
        items: counts.len(),
        observed,
        expected,
        kappa: kappa(observed, expected),
        matrix: Vec::new(),
        per_class,
    })
}

/// Ordered pairs of different raters of one item, by their two labels.
fn pair_matrix(ratings: &[Vec<usize>], k: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0usize; k]; k];
    for r in ratings {
        for (i, &a) in r.iter().enumerate() {
            for (j, &b) in r.iter().enumerate() {
                if i != j {
                    m[a][b] += 1;
                }
            }
        }
    }
    m
}

fn check_classes<'a>(mut labels: impl Iterator<Item = &'a usize>, k: usize) -> Result<(), String> {
    match labels.find(|&&c| c >= k) {
        Some(c) => Err(format!("label {c} is not one of the {k} classes")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two raters with a 2 × 2 table `[[yy, yn], [ny, nn]]` as label lists.
    fn from_table(t: [[usize; 2]; 2]) -> (Vec<usize>, Vec<usize>) {
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (x, row) in t.iter().enumerate() {
            for (y, &n) in row.iter().enumerate() {
                a.extend(std::iter::repeat_n(x, n));
                b.extend(std::iter::repeat_n(y, n));
            }
        }
        (a, b)
    }

    #[test]
    fn cohen_textbook_cases() {
        // 50 proposals read by two readers: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no.
        // p_o = 0.7, p_e = 0.5·0.6 + 0.5·0.4 = 0.5, κ = 0.4.
        let (a, b) = from_table([[20, 5], [10, 15]]);
        let r = cohen(&a, &b, 2).unwrap();
        assert!((r.observed - 0.7).abs() < 1e-12);
        assert!((r.expected - 0.5).abs() < 1e-12);
        assert!((r.kappa.unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(r.matrix, vec![vec![20, 5], vec![10, 15]]);
        // With two classes, each class against the rest is the whole table.
        assert!((r.per_class[0].unwrap() - 0.4).abs() < 1e-12);
        // Equal agreement (60 %), different marginals: κ 0.1304 and 0.2593.
        let (a, b) = from_table([[45, 15], [25, 15]]);
        assert!((cohen(&a, &b, 2).unwrap().kappa.unwrap() - 0.130_434_78).abs() < 1e-7);
        let (a, b) = from_table([[25, 35], [5, 35]]);
        assert!((cohen(&a, &b, 2).unwrap().kappa.unwrap() - 0.259_259_26).abs() < 1e-7);
    }

    #[test]
    fn cohen_of_perfect_and_constant_raters() {
        let r = cohen(&[0, 1, 2, 2], &[0, 1, 2, 2], 3).unwrap();
        assert_eq!(r.kappa, Some(1.0));
        // Everyone says class 1: chance agreement is total, κ is undefined.
        let r = cohen(&[1, 1], &[1, 1], 3).unwrap();
        assert_eq!((r.observed, r.kappa), (1.0, None));
        assert_eq!(r.per_class, vec![None, None, None]);
        assert!(cohen(&[0], &[3], 3).unwrap_err().contains("label 3"));
        assert!(cohen(&[], &[], 3).unwrap_err().contains("no item"));
    }

    #[test]
    fn fleiss_textbook_case() {
        // Fleiss' κ worked example (10 items, 14 raters, 5 categories; Wikipedia "Fleiss'
        // kappa"): P̄ = 0.378, P̄e = 0.213, κ = 0.210.
        let counts: Vec<Vec<usize>> = [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
        .iter()
        .map(|r| r.to_vec())
        .collect();
        let r = fleiss_counts(&counts, 14).unwrap();
        assert!((r.observed - 0.378).abs() < 5e-4, "{}", r.observed);
        assert!((r.expected - 0.213).abs() < 5e-4, "{}", r.expected);
        assert!((r.kappa.unwrap() - 0.210).abs() < 5e-4);
        // The same items as single ratings give the same κ and a symmetric pair matrix with
        // 14·13 ordered pairs per item.
        let ratings: Vec<Vec<usize>> = counts
            .iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .flat_map(|(c, &n)| std::iter::repeat_n(c, n))
                    .collect()
            })
            .collect();
        let s = fleiss(&ratings, 5).unwrap();
        assert_eq!(s.kappa, r.kappa);
        assert_eq!(s.matrix.iter().flatten().sum::<usize>(), 10 * 14 * 13);
        assert_eq!(s.matrix[4][4], 14 * 13 + 2 + 6 * 5 + 2 + 7 * 6);
        for a in 0..5 {
            for b in 0..5 {
                assert_eq!(s.matrix[a][b], s.matrix[b][a]);
            }
        }
    }

    #[test]
    fn fleiss_per_class_kappa_of_two_classes_is_the_overall_kappa() {
        let ratings = vec![vec![0, 0, 1], vec![1, 1, 1], vec![0, 1, 0], vec![0, 0, 0]];
        let r = fleiss(&ratings, 2).unwrap();
        let k = r.kappa.unwrap();
        assert!((r.per_class[0].unwrap() - k).abs() < 1e-12);
        assert!((r.per_class[1].unwrap() - k).abs() < 1e-12);
        assert!(
            fleiss(&[vec![0, 1], vec![0]], 2)
                .unwrap_err()
                .contains("item 1")
        );
    }
}
