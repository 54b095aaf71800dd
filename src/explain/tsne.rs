//! t-SNE (van der Maaten & Hinton 2008), exact: every pair of points is used in every
//! iteration (O(n²) time per iteration and O(n²) memory for the affinities), which is fine for
//! the few thousand points of a project. Seeded (ChaCha8), so a seed gives the same picture.
//!
//! The optimiser follows the reference implementation: early exaggeration 12 for the first 250
//! iterations, momentum 0.5 then 0.8, per-coordinate gains, learning rate max(n / 48, 50).
//!
//! (The `bhtsne` crate would also offer Barnes–Hut for large sets, but adding it changes the
//! features of crates burn is built with, which means rebuilding burn; see the project notes.)

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Most points [`tsne`] accepts (the affinity matrix takes n² × 4 bytes).
pub const MAX_POINTS: usize = 5_000;

/// Settings of a t-SNE run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TsneParams {
    /// Effective number of neighbours; lowered to (n − 1) / 3 for small sets.
    pub perplexity: f64,
    pub iterations: usize,
    pub seed: u64,
    /// `None`: max(n / 48, 50) (n / early exaggeration / 4).
    pub learning_rate: Option<f64>,
}

impl Default for TsneParams {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            iterations: 1000,
            seed: 2021,
            learning_rate: None,
        }
    }
}

/// The result of a t-SNE run.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    /// One 2-d point per input point, centred on 0.
    pub points: Vec<[f32; 2]>,
    /// Iterations done.
    pub iterations: usize,
    /// The callback asked to stop; `points` is the embedding at that moment.
    pub cancelled: bool,
    /// The perplexity used (after clamping).
    pub perplexity: f64,
}

const EXAGGERATION: f64 = 12.0;
const EXAGGERATION_ITERS: usize = 250;
const MOMENTUM_SWITCH: usize = 250;

/// The perplexity used for `n` points: the requested one, at most (n − 1) / 3 (the most that
/// n points allow), and at least 1 (a point with one or two neighbours).
pub fn effective_perplexity(requested: f64, n: usize) -> f64 {
    let most = n.saturating_sub(1) as f64 / 3.0;
    requested.min(most).max(1.0)
}

/// Embeds `points` (all of the same dimension) in 2-d. `on_iter(iteration, points)` is called
/// after every iteration (1-based) with the current embedding; returning `false` stops early.
pub fn tsne<P: AsRef<[f32]>>(
    points: &[P],
    params: &TsneParams,
    mut on_iter: impl FnMut(usize, &[[f32; 2]]) -> bool,
) -> Result<Embedding, String> {
    let n = points.len();
    if n > MAX_POINTS {
        return Err(format!(
            "t-SNE is limited to {MAX_POINTS} points here ({n} given); use a subset"
        ));
    }
    let d = points.first().map(|p| p.as_ref().len()).unwrap_or(0);
    if points.iter().any(|p| p.as_ref().len() != d) {
        return Err("the points do not all have the same dimension".into());
    }
    if points
        .iter()
        .any(|p| p.as_ref().iter().any(|v| !v.is_finite()))
    {
        return Err("a point has a non-finite coordinate".into());
    }
    if params.perplexity.is_nan() || params.perplexity <= 0.0 {
        return Err("the perplexity must be positive".into());
    }
    let perplexity = effective_perplexity(params.perplexity, n);
    if n < 2 {
        return Ok(Embedding {
            points: vec![[0.0, 0.0]; n],
            iterations: 0,
            cancelled: false,
            perplexity,
        });
    }
    let p = affinities(points, perplexity);
    let lr = params
        .learning_rate
        .unwrap_or_else(|| (n as f64 / EXAGGERATION / 4.0).max(50.0));

    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut y: Vec<f64> = (0..2 * n).map(|_| 1e-4 * gaussian(&mut rng)).collect();
    let mut update = vec![0.0f64; 2 * n];
    let mut gains = vec![1.0f64; 2 * n];
    let mut grad = vec![0.0f64; 2 * n];
    let mut view = vec![[0f32; 2]; n];
    let mut done = 0;
    let mut cancelled = false;
    for it in 0..params.iterations {
        let exaggeration = if it < EXAGGERATION_ITERS {
            EXAGGERATION
        } else {
            1.0
        };
        let momentum = if it < MOMENTUM_SWITCH { 0.5 } else { 0.8 };
        gradient(&p, &y, exaggeration, &mut grad);
        for k in 0..2 * n {
            // Delta-bar-delta gains: grow when the step keeps its direction.
            gains[k] = if (grad[k] > 0.0) != (update[k] > 0.0) {
                gains[k] + 0.2
            } else {
                (gains[k] * 0.8).max(0.01)
            };
            update[k] = momentum * update[k] - lr * gains[k] * grad[k];
            y[k] += update[k];
        }
        centre(&mut y);
        done = it + 1;
        for (v, c) in view.iter_mut().zip(y.chunks_exact(2)) {
            *v = [c[0] as f32, c[1] as f32];
        }
        if !on_iter(done, &view) {
            cancelled = true;
            break;
        }
    }
    for (v, c) in view.iter_mut().zip(y.chunks_exact(2)) {
        *v = [c[0] as f32, c[1] as f32];
    }
    Ok(Embedding {
        points: view,
        iterations: done,
        cancelled,
        perplexity,
    })
}

/// A standard normal value (Box–Muller).
fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn centre(y: &mut [f64]) {
    let n = (y.len() / 2) as f64;
    let (mx, my) = y
        .chunks_exact(2)
        .fold((0.0, 0.0), |(a, b), c| (a + c[0], b + c[1]));
    for c in y.chunks_exact_mut(2) {
        c[0] -= mx / n;
        c[1] -= my / n;
    }
}

/// The symmetric joint probabilities `p_ij` (row-major n × n, zero diagonal, summing to 1),
/// each row's Gaussian width found by bisection so that its perplexity is `perplexity`.
fn affinities<P: AsRef<[f32]>>(points: &[P], perplexity: f64) -> Vec<f32> {
    let n = points.len();
    let target = perplexity.ln();
    let mut cond = vec![0.0f64; n * n];
    let mut dist = vec![0.0f64; n];
    for i in 0..n {
        let a = points[i].as_ref();
        for (j, dj) in dist.iter_mut().enumerate() {
            let b = points[j].as_ref();
            *dj = a
                .iter()
                .zip(b)
                .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                .sum();
        }
        // Distances relative to the nearest neighbour keep exp() in range.
        let dmin = dist
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, &d)| d)
            .fold(f64::INFINITY, f64::min);
        let row = &mut cond[i * n..(i + 1) * n];
        let (mut beta, mut lo, mut hi) = (1.0f64, 0.0f64, f64::INFINITY);
        // Scale the starting width to the data.
        let mean: f64 = dist.iter().sum::<f64>() / (n - 1) as f64;
        if mean > 0.0 {
            beta = 1.0 / mean;
        }
        for _ in 0..200 {
            let mut sum = 0.0;
            let mut hsum = 0.0;
            for j in 0..n {
                if j == i {
                    row[j] = 0.0;
                    continue;
                }
                let dj = dist[j] - dmin;
                let v = (-beta * dj).exp();
                row[j] = v;
                sum += v;
                hsum += beta * dj * v;
            }
            // Entropy H = ln(sum) + beta·E[d].
            let h = sum.ln() + hsum / sum;
            if (h - target).abs() < 1e-5 {
                break;
            }
            if h > target {
                lo = beta;
                beta = if hi.is_finite() {
                    (beta + hi) / 2.0
                } else {
                    beta * 2.0
                };
            } else {
                hi = beta;
                beta = (beta + lo) / 2.0;
            }
        }
        let sum: f64 = row.iter().sum();
        if sum > 0.0 {
            row.iter_mut().for_each(|v| *v /= sum);
        }
    }
    let mut p = vec![0.0f32; n * n];
    let norm = 2.0 * n as f64;
    for i in 0..n {
        for j in 0..n {
            p[i * n + j] = ((cond[i * n + j] + cond[j * n + i]) / norm).max(1e-12) as f32;
        }
        p[i * n + i] = 0.0;
    }
    p
}

/// The gradient of KL(P ‖ Q) with respect to the embedding `y` (interleaved x, y).
/// Rows are split over the cores; each row is computed in a fixed order, so the result does
/// not depend on the number of threads.
fn gradient(p: &[f32], y: &[f64], exaggeration: f64, grad: &mut [f64]) {
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .min(y.len() / 2 / 256)
        .max(1);
    gradient_on(p, y, exaggeration, grad, threads);
}

fn gradient_on(p: &[f32], y: &[f64], exaggeration: f64, grad: &mut [f64], threads: usize) {
    let n = y.len() / 2;
    // Per row: attractive force (x, y), unnormalised repulsion (x, y), and Σ_j q̃_ij.
    let mut rows = vec![[0.0f64; 5]; n];
    let row = |i: usize, out: &mut [f64; 5]| {
        let (yi0, yi1) = (y[2 * i], y[2 * i + 1]);
        let pr = &p[i * n..(i + 1) * n];
        let mut acc = [0.0f64; 5];
        for j in 0..n {
            if j == i {
                continue;
            }
            let (d0, d1) = (yi0 - y[2 * j], yi1 - y[2 * j + 1]);
            let q = 1.0 / (1.0 + d0 * d0 + d1 * d1);
            let pq = pr[j] as f64 * exaggeration * q;
            acc[0] += pq * d0;
            acc[1] += pq * d1;
            let qq = q * q;
            acc[2] += qq * d0;
            acc[3] += qq * d1;
            acc[4] += q;
        }
        *out = acc;
    };
    if threads == 1 {
        for (i, r) in rows.iter_mut().enumerate() {
            row(i, r);
        }
    } else {
        let per = n.div_ceil(threads);
        std::thread::scope(|s| {
            for (k, chunk) in rows.chunks_mut(per).enumerate() {
                let row = &row;
                s.spawn(move || {
                    for (o, r) in chunk.iter_mut().enumerate() {
                        row(k * per + o, r);
                    }
                });
            }
        });
    }
    let z: f64 = rows
        .iter()
        .map(|r| r[4])
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    for (i, r) in rows.iter().enumerate() {
        grad[2 * i] = 4.0 * (r[0] - r[2] / z);
        grad[2 * i + 1] = 4.0 * (r[1] - r[3] / z);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three Gaussian clusters in 32-d, `per` points each; returns points and labels.
    fn clusters(per: usize, seed: u64) -> (Vec<[f32; 32]>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centres: Vec<[f32; 32]> = (0..3)
            .map(|_| std::array::from_fn(|_| rng.random_range(-5.0..5.0f32)))
            .collect();
        let mut pts = Vec::new();
        let mut labels = Vec::new();
        for (c, centre) in centres.iter().enumerate() {
            for _ in 0..per {
                pts.push(std::array::from_fn(|k| {
                    centre[k] + gaussian(&mut rng) as f32
                }));
                labels.push(c);
            }
        }
        (pts, labels)
    }

    /// Share of the k nearest neighbours (in 2-d) that have the point's own label.
    fn knn_purity(e: &[[f32; 2]], labels: &[usize], k: usize) -> f64 {
        let mut same = 0;
        for i in 0..e.len() {
            let mut d: Vec<(f32, usize)> = (0..e.len())
                .filter(|&j| j != i)
                .map(|j| {
                    let (a, b) = (e[i][0] - e[j][0], e[i][1] - e[j][1]);
                    (a * a + b * b, j)
                })
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            same += d[..k]
                .iter()
                .filter(|(_, j)| labels[*j] == labels[i])
                .count();
        }
        same as f64 / (e.len() * k) as f64
    }

    /// Median nearest-neighbour distance divided by the largest distance from the centre.
    fn nn_to_extent(e: &[[f32; 2]]) -> f32 {
        let d = |a: [f32; 2], b: [f32; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        let mut nn: Vec<f32> = (0..e.len())
            .map(|i| {
                (0..e.len())
                    .filter(|&j| j != i)
                    .map(|j| d(e[i], e[j]))
                    .fold(f32::INFINITY, f32::min)
            })
            .collect();
        nn.sort_by(f32::total_cmp);
        let extent = e.iter().map(|&p| d(p, [0.0, 0.0])).fold(0.0f32, f32::max);
        nn[nn.len() / 2] / extent
    }

    #[test]
    fn separated_clusters_stay_separated_and_the_seed_fixes_the_result() {
        let (pts, labels) = clusters(40, 7);
        let params = TsneParams {
            iterations: 500,
            ..Default::default()
        };
        let mut calls = 0;
        let e = tsne(&pts, &params, |it, view| {
            calls += 1;
            assert_eq!(it, calls);
            assert_eq!(view.len(), 120);
            true
        })
        .unwrap();
        assert_eq!((calls, e.iterations, e.cancelled), (500, 500, false));
        assert_eq!(e.perplexity, 30.0);
        assert!(
            e.points
                .iter()
                .all(|p| p[0].is_finite() && p[1].is_finite())
        );
        let purity = knn_purity(&e.points, &labels, 5);
        assert!(purity >= 0.9, "5-NN purity {purity}");
        // The points of a cluster are spread out, not collapsed onto one spot: the median
        // nearest-neighbour distance is not vanishingly small next to the extent (it is ~1e-5
        // when the points collapse, ~1e-2 here).
        let ratio = nn_to_extent(&e.points);
        assert!(
            ratio > 1e-3,
            "median nearest-neighbour distance / extent = {ratio}"
        );

        let again = tsne(&pts, &params, |_, _| true).unwrap();
        assert_eq!(again, e, "same seed, same embedding");
        let other = tsne(&pts, &TsneParams { seed: 99, ..params }, |_, _| true).unwrap();
        assert_ne!(other.points, e.points);

        // Random labels are not separated: the purity check can fail.
        let shuffled: Vec<usize> = (0..120).map(|i| (i * 7) % 3).collect();
        assert!(knn_purity(&e.points, &shuffled, 5) < 0.6);
    }

    #[test]
    fn the_gradient_does_not_depend_on_the_number_of_threads() {
        let (pts, _) = clusters(200, 3);
        let p = affinities(&pts, 30.0);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let y: Vec<f64> = (0..2 * pts.len()).map(|_| gaussian(&mut rng)).collect();
        let mut one = vec![0.0; y.len()];
        let mut three = vec![0.0; y.len()];
        gradient_on(&p, &y, 12.0, &mut one, 1);
        gradient_on(&p, &y, 12.0, &mut three, 3);
        assert_eq!(one, three);
        assert!(one.iter().any(|g| *g != 0.0));
        // The affinities are a symmetric probability distribution.
        let n = pts.len();
        let total: f64 = p.iter().map(|&v| v as f64).sum();
        assert!((total - 1.0).abs() < 1e-4, "{total}");
        assert!(
            (0..n)
                .all(|i| p[i * n + i] == 0.0 && p[i * n + (i + 1) % n] == p[((i + 1) % n) * n + i])
        );
    }

    #[test]
    fn cancelling_small_sets_and_bad_input() {
        let (pts, _) = clusters(4, 1);
        // 12 points: the perplexity is lowered to 11 / 3.
        let e = tsne(&pts, &TsneParams::default(), |it, _| it < 10).unwrap();
        assert!(e.cancelled);
        assert_eq!(e.iterations, 10);
        assert!((e.perplexity - 11.0 / 3.0).abs() < 1e-12);
        assert_eq!(e.points.len(), 12);

        let one = tsne(&pts[..1], &TsneParams::default(), |_, _| true).unwrap();
        assert_eq!(one.points, vec![[0.0, 0.0]]);
        let none: Vec<[f32; 32]> = Vec::new();
        assert!(
            tsne(&none, &TsneParams::default(), |_, _| true)
                .unwrap()
                .points
                .is_empty()
        );
        let two = tsne(&pts[..2], &TsneParams::default(), |_, _| true).unwrap();
        assert!(
            two.points
                .iter()
                .all(|p| p[0].is_finite() && p[1].is_finite())
        );

        let ragged = vec![vec![0.0f32, 1.0], vec![1.0]];
        assert!(tsne(&ragged, &TsneParams::default(), |_, _| true).is_err());
        let nan = vec![vec![0.0f32, f32::NAN], vec![1.0, 2.0]];
        assert!(tsne(&nan, &TsneParams::default(), |_, _| true).is_err());
        // Identical points do not produce NaN.
        let same = vec![[1.0f32; 4]; 20];
        let e = tsne(&same, &TsneParams::default(), |_, _| true).unwrap();
        assert!(
            e.points
                .iter()
                .all(|p| p[0].is_finite() && p[1].is_finite())
        );
    }
}
