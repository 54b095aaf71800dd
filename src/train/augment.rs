//! Seeded augmentation on planar CHW images (any pixel type, u8 in the training cache): random horizontal and vertical flips and a
//! rotation by 0–359° with nearest-neighbour sampling and "nearest" fill (pixels that come
//! from outside the image take the value of the closest edge pixel), as in the paper.

use rand::RngExt;

/// The random choices for one augmented sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AugmentParams {
    pub flip_h: bool,
    pub flip_v: bool,
    /// Rotation in degrees, [0, 360).
    pub degrees: f32,
}

impl AugmentParams {
    pub const IDENTITY: Self = Self {
        flip_h: false,
        flip_v: false,
        degrees: 0.0,
    };

    pub fn random(rng: &mut impl rand::Rng) -> Self {
        Self {
            flip_h: rng.random_bool(0.5),
            flip_v: rng.random_bool(0.5),
            degrees: rng.random_range(0..360) as f32,
        }
    }
}

/// Writes the augmented version of `src` (C×side×side, planar) into `dst` (same shape).
pub fn augment_into<T: Copy>(
    src: &[T],
    dst: &mut [T],
    channels: usize,
    side: usize,
    p: AugmentParams,
) {
    let n = side * side;
    debug_assert_eq!(src.len(), channels * n);
    debug_assert_eq!(dst.len(), channels * n);
    if p == AugmentParams::IDENTITY {
        dst.copy_from_slice(src);
        return;
    }
    let (s, c) = (p.degrees.to_radians() as f64).sin_cos();
    let centre = (side as f64 - 1.0) / 2.0;
    let max = side as f64 - 1.0;
    for y in 0..side {
        for x in 0..side {
            // Inverse mapping: output pixel → source pixel (rotation, then flips).
            let dx = x as f64 - centre;
            let dy = y as f64 - centre;
            let mut sx = c * dx + s * dy + centre;
            let mut sy = -s * dx + c * dy + centre;
            if p.flip_h {
                sx = max - sx;
            }
            if p.flip_v {
                sy = max - sy;
            }
            // Nearest pixel, clamped to the image: round-half-up by truncating v + 0.5 ≥ 0
            // (`round` is a library call on the baseline x86-64 target, and this loop runs for
            // every pixel of every training image).
            let sx = ((sx + 0.5).max(0.0) as usize).min(side - 1);
            let sy = ((sy + 0.5).max(0.0) as usize).min(side - 1);
            let si = sy * side + sx;
            let di = y * side + x;
            for ch in 0..channels {
                dst[ch * n + di] = src[ch * n + si];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(side: usize) -> Vec<f32> {
        (0..3 * side * side).map(|i| i as f32).collect()
    }

    #[test]
    fn identity_and_flips() {
        let side = 5;
        let src = ramp(side);
        let mut dst = vec![0.0; src.len()];
        augment_into(&src, &mut dst, 3, side, AugmentParams::IDENTITY);
        assert_eq!(src, dst);
        let p = AugmentParams {
            flip_h: true,
            flip_v: false,
            degrees: 0.0,
        };
        augment_into(&src, &mut dst, 3, side, p);
        assert_eq!(dst[0], src[4]);
        assert_eq!(dst[side * side + 6], src[side * side + 8]);
        let p = AugmentParams {
            flip_h: false,
            flip_v: true,
            degrees: 0.0,
        };
        augment_into(&src, &mut dst, 3, side, p);
        assert_eq!(dst[0], src[20]);
    }

    #[test]
    fn rotation_by_90_moves_corners_and_360_is_identity() {
        let side = 4;
        let src = ramp(side);
        let mut dst = vec![0.0; src.len()];
        let p = AugmentParams {
            flip_h: false,
            flip_v: false,
            degrees: 90.0,
        };
        augment_into(&src, &mut dst, 3, side, p);
        // Every value of a 90° rotation comes from the source (a permutation within each channel).
        let mut a: Vec<f32> = dst[..16].to_vec();
        a.sort_by(f32::total_cmp);
        assert_eq!(a, src[..16].to_vec());
        assert_ne!(dst, src);
        let p = AugmentParams {
            flip_h: false,
            flip_v: false,
            degrees: 360.0,
        };
        augment_into(&src, &mut dst, 3, side, p);
        assert_eq!(dst, src);
    }

    #[test]
    fn rotation_fills_corners_with_nearest_edge_values() {
        let side = 9;
        let src = ramp(side);
        let mut dst = vec![-1.0; src.len()];
        let p = AugmentParams {
            flip_h: false,
            flip_v: false,
            degrees: 45.0,
        };
        augment_into(&src, &mut dst, 3, side, p);
        assert!(dst.iter().all(|v| *v >= 0.0), "no pixel left unfilled");
        // The centre stays put.
        assert_eq!(dst[4 * side + 4], src[4 * side + 4]);
    }
}
