//! Summary statistics: mean ± standard deviation and box-plot statistics.
//!
//! Non-finite values (NaN and ±infinity) are ignored by every function here,
//! so results are always finite; `n` reports how many values were used.

use std::fmt;

/// Mean and sample standard deviation of a set of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanSd {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1 denominator); 0 when `n == 1`.
    pub sd: f64,
    /// Number of (finite) values used.
    pub n: usize,
}

/// Mean and sample standard deviation (n - 1 denominator, 0 for a single
/// value) of the finite entries of `values`; NaN and ±infinity are ignored.
///
/// Returns `None` when there is no finite value.
pub fn mean_sd(values: &[f64]) -> Option<MeanSd> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = finite.len();
    if n == 0 {
        return None;
    }
    let mean = finite.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    Some(MeanSd { mean, sd, n })
}

/// Formats as `"0.970 ± 0.020"`: three decimals by default, or the
/// formatter's precision if one is given (`format!("{:.1}", m)` → `"1.0 ± 0.0"`).
/// A single value has no spread to show: it formats as `"0.970 (n = 1)"`, not `"± 0.000"`.
impl fmt::Display for MeanSd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = f.precision().unwrap_or(3);
        if self.n == 1 {
            write!(f, "{:.p$} (n = 1)", self.mean)
        } else {
            write!(f, "{:.p$} ± {:.p$}", self.mean, self.sd)
        }
    }
}

/// Statistics for drawing a box plot (Tukey's 1.5 IQR convention).
#[derive(Debug, Clone, PartialEq)]
pub struct BoxStats {
    /// Median (50th percentile).
    pub median: f64,
    /// First quartile (25th percentile).
    pub q1: f64,
    /// Third quartile (75th percentile).
    pub q3: f64,
    /// Smallest value `>= q1 - 1.5 * (q3 - q1)`.
    pub whisker_low: f64,
    /// Largest value `<= q3 + 1.5 * (q3 - q1)`.
    pub whisker_high: f64,
    /// Values outside the whisker fences, in ascending order.
    pub outliers: Vec<f64>,
    /// Arithmetic mean of all (finite) values, outliers included.
    pub mean: f64,
    /// Number of (finite) values used.
    pub n: usize,
}

/// Percentile `p` (in `[0, 1]`) of ascending, non-empty `sorted`, by linear
/// interpolation between order statistics (numpy's default `"linear"`
/// method): position `p * (n - 1)`.
fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let pos = p * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = pos - lo as f64;
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// Box-plot statistics of the finite entries of `values`; NaN and ±infinity
/// are ignored.
///
/// Quartiles and median use numpy's default linear interpolation
/// (`np.percentile(values, [25, 50, 75])`). The whiskers are the most extreme
/// data points within 1.5 IQR of the quartiles; values beyond are outliers.
///
/// Returns `None` when there is no finite value.
pub fn box_stats(values: &[f64]) -> Option<BoxStats> {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let q1 = quantile_sorted(&v, 0.25);
    let median = quantile_sorted(&v, 0.5);
    let q3 = quantile_sorted(&v, 0.75);
    let iqr = q3 - q1;
    let (lo_fence, hi_fence) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
    // The quartiles lie within the data range and within the fences, so the
    // min/max are always taken over a non-empty set; fall back to q1/q3 anyway.
    let inside = || {
        v.iter()
            .copied()
            .filter(|&x| x >= lo_fence && x <= hi_fence)
    };
    let whisker_low = inside().next().unwrap_or(q1);
    let whisker_high = inside().next_back().unwrap_or(q3);
    let outliers = v
        .iter()
        .copied()
        .filter(|&x| x < lo_fence || x > hi_fence)
        .collect();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    Some(BoxStats {
        median,
        q1,
        q3,
        whisker_low,
        whisker_high,
        outliers,
        mean,
        n: v.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn mean_sd_hand_computed() {
        // 2 4 4 4 5 5 7 9: mean 5, squared deviations sum 32, sample var 32/7.
        let m = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert!(close(m.mean, 5.0));
        assert!(close(m.sd, (32.0f64 / 7.0).sqrt()));
        assert_eq!(m.n, 8);

        let one = mean_sd(&[0.97]).unwrap();
        assert_eq!((one.mean, one.sd, one.n), (0.97, 0.0, 1));

        // Non-finite values are ignored: 1, 3 -> mean 2, sd sqrt(2).
        let m = mean_sd(&[1.0, f64::NAN, 3.0, f64::INFINITY]).unwrap();
        assert!(close(m.mean, 2.0) && close(m.sd, 2f64.sqrt()) && m.n == 2);

        assert_eq!(mean_sd(&[]), None);
        assert_eq!(mean_sd(&[f64::NAN]), None);
    }

    #[test]
    fn mean_sd_display() {
        let m = MeanSd {
            mean: 0.97,
            sd: 0.02,
            n: 5,
        };
        assert_eq!(m.to_string(), "0.970 ± 0.020");
        assert_eq!(format!("{m:.1}"), "1.0 ± 0.0");
        let one = mean_sd(&[0.9]).unwrap();
        assert_eq!(one.to_string(), "0.900 (n = 1)");
    }

    #[test]
    fn box_one_to_nine() {
        // n = 9: positions 0.25·8 = 2, 4, 6 -> values 3, 5, 7. IQR 4, fences -3 and 13.
        let v: Vec<f64> = (1..=9).rev().map(f64::from).collect();
        let b = box_stats(&v).unwrap();
        assert_eq!((b.q1, b.median, b.q3), (3.0, 5.0, 7.0));
        assert_eq!((b.whisker_low, b.whisker_high), (1.0, 9.0));
        assert!(b.outliers.is_empty());
        assert_eq!((b.mean, b.n), (5.0, 9));
    }

    #[test]
    fn box_interpolated_quartiles() {
        // n = 4 (1 2 3 4): positions 0.75, 1.5, 2.25 -> 1.75, 2.5, 3.25 (np.percentile).
        let b = box_stats(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert!(close(b.q1, 1.75) && close(b.median, 2.5) && close(b.q3, 3.25));
        // n = 6 (10 20 30 40 50 60): positions 1.25, 2.5, 3.75 -> 22.5, 35, 47.5.
        let b = box_stats(&[10.0, 20.0, 30.0, 40.0, 50.0, 60.0]).unwrap();
        assert!(close(b.q1, 22.5) && close(b.median, 35.0) && close(b.q3, 47.5));
    }

    #[test]
    fn box_with_outliers() {
        // 1..=8 and 100 (n = 9): sorted positions 2, 4, 6 -> q1 3, median 5, q3 7.
        // IQR 4, fences -3 and 13: 100 is an outlier, upper whisker is 8.
        // Mean = (36 + 100) / 9.
        let mut v: Vec<f64> = (1..=8).map(f64::from).collect();
        v.push(100.0);
        v.push(f64::NAN); // ignored
        let b = box_stats(&v).unwrap();
        assert_eq!((b.q1, b.median, b.q3), (3.0, 5.0, 7.0));
        assert_eq!((b.whisker_low, b.whisker_high), (1.0, 8.0));
        assert_eq!(b.outliers, vec![100.0]);
        assert!(close(b.mean, 136.0 / 9.0));
        assert_eq!(b.n, 9);

        // Low outlier: -50, 10..=18 (n = 10): positions 2.25, 4.5, 6.75 ->
        // q1 11.25, median 13.5, q3 15.75; IQR 4.5, fences 4.5 and 22.5.
        let mut v: Vec<f64> = (10..=18).map(f64::from).collect();
        v.insert(3, -50.0);
        let b = box_stats(&v).unwrap();
        assert!(close(b.q1, 11.25) && close(b.median, 13.5) && close(b.q3, 15.75));
        assert_eq!((b.whisker_low, b.whisker_high), (10.0, 18.0));
        assert_eq!(b.outliers, vec![-50.0]);
    }

    #[test]
    fn box_degenerate() {
        assert_eq!(box_stats(&[]), None);
        assert_eq!(box_stats(&[f64::NAN, f64::NEG_INFINITY]), None);
        let b = box_stats(&[2.5]).unwrap();
        assert_eq!((b.q1, b.median, b.q3), (2.5, 2.5, 2.5));
        assert_eq!((b.whisker_low, b.whisker_high, b.n), (2.5, 2.5, 1));
        assert!(b.outliers.is_empty());
        // Constant data with one different value: IQR 0, the odd value is an outlier.
        let b = box_stats(&[1.0, 1.0, 1.0, 1.0, 2.0]).unwrap();
        assert_eq!((b.q1, b.q3, b.whisker_high), (1.0, 1.0, 1.0));
        assert_eq!(b.outliers, vec![2.0]);
    }
}
