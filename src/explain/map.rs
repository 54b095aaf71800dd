//! A map over an image (saliency or relevance), one value per pixel, and its display scale.

/// A map over the image: one value per pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    pub width: usize,
    pub height: usize,
    /// Row-major, `width × height`.
    pub values: Vec<f32>,
    /// Signed (LRP: positive = for the class) or non-negative (saliency).
    pub signed: bool,
}

impl Map {
    /// The magnitude shown at full colour: the maximum for a non-negative map; for a signed map
    /// the 99.5th percentile of |value| (so that a few extreme pixels do not wash out the rest;
    /// the maximum if that percentile is 0). 0 for an all-zero map.
    pub fn scale(&self) -> f32 {
        let mut mags: Vec<f32> = self
            .values
            .iter()
            .map(|v| v.abs())
            .filter(|v| v.is_finite())
            .collect();
        if mags.is_empty() {
            return 0.0;
        }
        let max = mags.iter().copied().fold(0.0f32, f32::max);
        if !self.signed {
            return max;
        }
        let k = ((mags.len() as f64 * 0.995) as usize).min(mags.len() - 1);
        let (_, q, _) = mags.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
        if *q > 0.0 { *q } else { max }
    }

    /// Values divided by [`Map::scale`] and clamped to [0, 1] (or [−1, 1] when signed).
    pub fn normalised(&self) -> Vec<f32> {
        let s = self.scale();
        let lo = if self.signed { -1.0 } else { 0.0 };
        self.values
            .iter()
            .map(|&v| {
                if s > 0.0 && v.is_finite() {
                    (v / s).clamp(lo, 1.0)
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Whether every value is the same (nothing to see).
    pub fn is_constant(&self) -> bool {
        self.values.windows(2).all(|w| w[0] == w[1])
    }
}
