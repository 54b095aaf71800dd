//! Paints the synthetic single-cell images of the demo data set.
//!
//! [`render_cell`] paints a crop of a May-Grünwald-Giemsa stained blood smear: a pale
//! pinkish-beige background, a few red blood cells around the border and one leukocyte
//! (or platelet cluster, or smudge cell) roughly in the centre, whose morphology follows
//! one of the ten [`DEMO_CLASSES`]. Every image is a pure function of its arguments, so
//! demo data sets and tests are reproducible without shipping real patient images.
//!
//! The rendering is deliberately simple: shapes are polar radius functions and capsule
//! chains (signed distances) perturbed by low-frequency value noise, chromatin and
//! cytoplasm textures are value noise, granules are small soft discs, and a little global
//! stain/brightness jitter plus pixel noise is added at the end.

use std::f32::consts::{PI, TAU};

use image::RgbImage;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Display names of the ten demo classes, indexed by class.
pub const DEMO_CLASSES: [&str; 10] = [
    "Lymphoblast",
    "Typical lymphocyte",
    "Atypical lymphocyte",
    "Monocyte",
    "Segmented neutrophil",
    "Band neutrophil",
    "Eosinophil",
    "Basophil",
    "Thrombocyte",
    "Smudge cell",
];

/// The default edge length of a demo image in pixels.
pub const DEMO_SIZE: u32 = 257;

/// Renders one synthetic cell image of `size`×`size` pixels.
///
/// `class` indexes [`DEMO_CLASSES`] (values above 9 wrap around). The result depends only
/// on the arguments. All geometry scales with `size` (designed for [`DEMO_SIZE`]); sizes
/// below 16 pixels are accepted but hardly show anything.
pub fn render_cell(class: usize, size: u32, seed: u64) -> RgbImage {
    let class = class % DEMO_CLASSES.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = size as usize;
    let s = size as f32 / DEMO_SIZE as f32;
    let style = Style::new(&mut rng);
    let mut cv = Canvas {
        w: n,
        h: n,
        px: vec![[0.0; 3]; n * n],
    };
    paint_background(&mut cv, &mut rng, &style, s);

    let half = size as f32 * 0.5;
    let cx = half + sym(&mut rng) * 5.0 * s;
    let cy = half + sym(&mut rng) * 5.0 * s;
    let cells = build_cells(class, &mut rng, s, &style, cx, cy);
    let bound = cells
        .iter()
        .map(|c| c.bound() + ((c.cx - cx).powi(2) + (c.cy - cy).powi(2)).sqrt())
        .fold(0.0f32, f32::max);
    paint_rbcs(&mut cv, &mut rng, s, (cx, cy), bound);
    for cell in &cells {
        cell.paint(&mut cv);
    }
    finish(&cv, &mut rng, &style)
}

// ---------------------------------------------------------------------------------------
// Small numeric helpers
// ---------------------------------------------------------------------------------------

type Rgb = [f32; 3];

fn uni(rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

fn sym(rng: &mut ChaCha8Rng) -> f32 {
    rng.random::<f32>() * 2.0 - 1.0
}

fn chance(rng: &mut ChaCha8Rng, p: f32) -> bool {
    rng.random::<f32>() < p
}

/// A colour with a common (brightness) and a per-channel (hue) jitter of about `amount`.
fn jit(rng: &mut ChaCha8Rng, c: Rgb, amount: f32) -> Rgb {
    let common = sym(rng) * amount;
    let mut out = c;
    for v in &mut out {
        *v = (*v + common + sym(rng) * amount * 0.5).clamp(0.0, 255.0);
    }
    out
}

#[inline]
fn lerp3(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

#[inline]
fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Coverage of a shape with signed distance `d` for an edge `width` pixels wide.
#[inline]
fn cover(d: f32, width: f32) -> f32 {
    (0.5 - d / width).clamp(0.0, 1.0)
}

/// Polynomial smooth minimum (hard minimum for `k <= 0`).
#[inline]
fn smin(a: f32, b: f32, k: f32) -> f32 {
    if k <= 0.0 {
        return a.min(b);
    }
    let h = (0.5 + 0.5 * (b - a) / k).clamp(0.0, 1.0);
    b + (a - b) * h - k * h * (1.0 - h)
}

/// atan2 with a maximum error of about 1e-5 rad, in [-pi, pi].
#[inline]
fn fast_atan2(y: f32, x: f32) -> f32 {
    let ax = x.abs();
    let ay = y.abs();
    let a = ax.min(ay) / (ax.max(ay) + 1e-30);
    let q = a * a;
    let mut r =
        ((((0.020_835_1 * q - 0.085_133) * q + 0.180_141) * q - 0.330_299_5) * q + 0.999_866) * a;
    if ay > ax {
        r = PI * 0.5 - r;
    }
    if x < 0.0 {
        r = PI - r;
    }
    if y < 0.0 { -r } else { r }
}

#[inline]
fn hash2(ix: i32, iy: i32, seed: u32) -> f32 {
    let mut h = (ix as u32).wrapping_mul(0x27D4_EB2D)
        ^ (iy as u32).wrapping_mul(0x1656_67B1)
        ^ seed.wrapping_mul(0x9E37_79B9);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297A_2D39);
    h ^= h >> 15;
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// `floor` without a libm call (exact for |x| < 2^31).
#[inline]
fn ffloor(x: f32) -> f32 {
    let t = x as i32 as f32;
    if t > x { t - 1.0 } else { t }
}

/// Smooth value noise in [0, 1] with one lattice cell per unit.
#[inline]
fn vnoise(x: f32, y: f32, seed: u32) -> f32 {
    let xf = ffloor(x);
    let yf = ffloor(y);
    let ix = xf as i32;
    let iy = yf as i32;
    let fx = x - xf;
    let fy = y - yf;
    let sx = fx * fx * (3.0 - 2.0 * fx);
    let sy = fy * fy * (3.0 - 2.0 * fy);
    let a = hash2(ix, iy, seed);
    let b = hash2(ix.wrapping_add(1), iy, seed);
    let c = hash2(ix, iy.wrapping_add(1), seed);
    let d = hash2(ix.wrapping_add(1), iy.wrapping_add(1), seed);
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

// ---------------------------------------------------------------------------------------
// Canvas and global style
// ---------------------------------------------------------------------------------------

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<Rgb>,
}

impl Canvas {
    /// Pixel index ranges `(x0, x1, y0, y1)` of the square of half-width `r` around a point.
    fn bbox(&self, cx: f32, cy: f32, r: f32) -> (usize, usize, usize, usize) {
        let x0 = (cx - r).floor().max(0.0) as usize;
        let y0 = (cy - r).floor().max(0.0) as usize;
        let x1 = ((cx + r).ceil().max(0.0) as usize).min(self.w);
        let y1 = ((cy + r).ceil().max(0.0) as usize).min(self.h);
        (x0, x1.max(x0), y0, y1.max(y0))
    }

    #[inline]
    fn blend(&mut self, x: usize, y: usize, c: Rgb, a: f32) {
        let p = &mut self.px[y * self.w + x];
        for i in 0..3 {
            p[i] += (c[i] - p[i]) * a;
        }
    }

    /// Soft disc in image coordinates.
    fn disc(&mut self, x: f32, y: f32, r: f32, edge: f32, c: Rgb, a: f32) {
        let (x0, x1, y0, y1) = self.bbox(x, y, r + edge);
        for py in y0..y1 {
            let dy = py as f32 + 0.5 - y;
            for px in x0..x1 {
                let dx = px as f32 + 0.5 - x;
                let cov = cover((dx * dx + dy * dy).sqrt() - r, edge);
                if cov > 0.0 {
                    self.blend(px, py, c, cov * a);
                }
            }
        }
    }
}

/// Per-image staining and illumination jitter.
struct Style {
    /// Stain intensity: scales the absorbance of cell colours.
    stain: f32,
    /// Shifts cell colours between reddish (>0) and bluish (<0).
    hue: f32,
    bright: f32,
    gain: Rgb,
    noise: f32,
    bg: Rgb,
}

impl Style {
    fn new(rng: &mut ChaCha8Rng) -> Self {
        Style {
            stain: uni(rng, 0.88, 1.12),
            hue: uni(rng, -0.07, 0.07),
            bright: uni(rng, 0.95, 1.04),
            gain: [
                1.0 + sym(rng) * 0.025,
                1.0 + sym(rng) * 0.025,
                1.0 + sym(rng) * 0.025,
            ],
            noise: uni(rng, 1.5, 3.5),
            bg: jit(rng, [236.0, 226.0, 222.0], 4.0),
        }
    }

    /// A stain colour after this image's stain intensity and hue jitter.
    fn ink(&self, c: Rgb) -> Rgb {
        let k = [
            self.stain * (1.0 - self.hue),
            self.stain,
            self.stain * (1.0 + self.hue),
        ];
        let mut out = c;
        for i in 0..3 {
            out[i] = (255.0 - (255.0 - c[i]) * k[i]).clamp(0.0, 255.0);
        }
        out
    }
}

fn paint_background(cv: &mut Canvas, rng: &mut ChaCha8Rng, st: &Style, s: f32) {
    let seed = rng.random::<u32>();
    let angle = uni(rng, 0.0, TAU);
    let (gy, gx) = angle.sin_cos();
    let grad = uni(rng, 0.0, 5.0) / (cv.w.max(1) as f32);
    let freq = 1.0 / (45.0 * s).max(1.0);
    let amp = uni(rng, 2.0, 6.0);
    let half = cv.w as f32 * 0.5;
    // Value noise evaluated column by column: the lattice values of a row are interpolated
    // in y once, then each pixel only interpolates in x.
    let cols = (cv.w as f32 * freq) as usize + 2;
    let mut column = vec![0.0f32; cols];
    for y in 0..cv.h {
        let fy = y as f32 - half;
        let ny = y as f32 * freq;
        let iy = ny as i32;
        let ty = ny - iy as f32;
        let sy = ty * ty * (3.0 - 2.0 * ty);
        for (j, c) in column.iter_mut().enumerate() {
            let a = hash2(j as i32, iy, seed);
            *c = a + (hash2(j as i32, iy + 1, seed) - a) * sy;
        }
        let row = &mut cv.px[y * cv.w..(y + 1) * cv.w];
        for (x, p) in row.iter_mut().enumerate() {
            let nx = x as f32 * freq;
            let ix = (nx as usize).min(cols - 2);
            let tx = nx - ix as f32;
            let sx = tx * tx * (3.0 - 2.0 * tx);
            let n = column[ix] + (column[ix + 1] - column[ix]) * sx;
            let l = (n - 0.5) * amp + ((x as f32 - half) * gx + fy * gy) * grad;
            *p = [st.bg[0] + l, st.bg[1] + l, st.bg[2] + l * 0.8];
        }
    }
}

/// Global brightness/colour jitter, pixel noise and quantisation.
fn finish(cv: &Canvas, rng: &mut ChaCha8Rng, st: &Style) -> RgbImage {
    let mut state = rng.random::<u64>() | 1;
    let k_lum = st.noise / 147.8;
    let k_chroma = st.noise * 0.35 / 127.5;
    let mut out = vec![0u8; cv.px.len() * 3];
    for (o, p) in out.chunks_exact_mut(3).zip(&cv.px) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let b = state;
        let lum = ((b & 0xFF) + ((b >> 8) & 0xFF) + ((b >> 16) & 0xFF) + ((b >> 24) & 0xFF)) as f32
            - 510.0;
        for i in 0..3 {
            let chroma = ((b >> (32 + 8 * i)) & 0xFF) as f32 - 127.5;
            let v = p[i] * st.bright * st.gain[i] + lum * k_lum + chroma * k_chroma;
            // Saturating cast after +0.5: rounding without a libm call.
            o[i] = (v + 0.5) as u8;
        }
    }
    let n = cv.w as u32;
    RgbImage::from_raw(n, cv.h as u32, out).unwrap_or_else(|| RgbImage::new(n, n))
}

// ---------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------

const LUT: usize = 128;

/// A star-shaped outline: radius as a function of angle, tabulated.
#[derive(Clone)]
struct Polar {
    lut: [f32; LUT + 1],
    rmin: f32,
    rmax: f32,
}

impl Polar {
    fn from_fn(f: impl Fn(f32) -> f32) -> Self {
        let mut lut = [0.0; LUT + 1];
        for (i, r) in lut.iter_mut().take(LUT).enumerate() {
            *r = f(i as f32 * TAU / LUT as f32).max(0.25);
        }
        lut[LUT] = lut[0];
        let mut p = Polar {
            lut,
            rmin: 0.0,
            rmax: 0.0,
        };
        p.update();
        p
    }

    /// An area-preserving ellipse of mean radius `r` and `aspect` (major along `rot`) with
    /// low-order harmonic irregularity of relative amplitude about `irregular`.
    fn blob(r: f32, aspect: f32, rot: f32, irregular: f32, rng: &mut ChaCha8Rng) -> Self {
        let harmonics: Vec<(f32, f32, f32)> = (2..=6)
            .map(|k| {
                let k = k as f32;
                (k, irregular * sym(rng) / k.powf(0.7), uni(rng, 0.0, TAU))
            })
            .collect();
        let a = r * aspect.max(1.0).sqrt();
        let b = r / aspect.max(1.0).sqrt();
        Polar::from_fn(|t| {
            let (sn, cs) = (t - rot).sin_cos();
            let re = a * b / ((b * cs).powi(2) + (a * sn).powi(2)).sqrt();
            let h: f32 = harmonics
                .iter()
                .map(|&(k, amp, ph)| amp * (k * t + ph).cos())
                .sum();
            re * (1.0 + h)
        })
    }

    fn update(&mut self) {
        self.rmin = self.lut.iter().copied().fold(f32::MAX, f32::min);
        self.rmax = self.lut.iter().copied().fold(0.0, f32::max);
    }

    /// Multiplies the radius at angle `t` by `f(t)`.
    fn modulate(&mut self, f: impl Fn(f32) -> f32) {
        for i in 0..LUT {
            let t = i as f32 * TAU / LUT as f32;
            self.lut[i] = (self.lut[i] * f(t)).max(0.25);
        }
        self.lut[LUT] = self.lut[0];
        self.update();
    }

    fn scale(&mut self, k: f32) {
        for r in &mut self.lut {
            *r *= k;
        }
        self.update();
    }

    #[inline]
    fn sdf(&self, x: f32, y: f32) -> f32 {
        let rho = (x * x + y * y).sqrt();
        let f = (fast_atan2(y, x) * (LUT as f32 / TAU)).rem_euclid(LUT as f32);
        let i = (f as usize).min(LUT - 1);
        let fr = f - i as f32;
        rho - (self.lut[i] + (self.lut[i + 1] - self.lut[i]) * fr)
    }
}

/// A line segment with rounded ends.
#[derive(Clone, Copy)]
struct Cap {
    ax: f32,
    ay: f32,
    bx: f32,
    by: f32,
    r: f32,
}

impl Cap {
    #[inline]
    fn sdf(&self, x: f32, y: f32) -> f32 {
        let (pax, pay) = (x - self.ax, y - self.ay);
        let (bax, bay) = (self.bx - self.ax, self.by - self.ay);
        let h = ((pax * bax + pay * bay) / (bax * bax + bay * bay).max(1e-6)).clamp(0.0, 1.0);
        let (dx, dy) = (pax - bax * h, pay - bay * h);
        (dx * dx + dy * dy).sqrt() - self.r
    }

    fn reach(&self) -> f32 {
        (self.ax.hypot(self.ay)).max(self.bx.hypot(self.by)) + self.r
    }
}

/// A nucleus: smooth union of blobs and capsules, hard union with thin strands, an
/// optional smooth notch, and a low-frequency wobble of the boundary.
struct Nuc {
    blobs: Vec<(f32, f32, Polar)>,
    caps: Vec<Cap>,
    smooth: f32,
    strands: Vec<Cap>,
    /// (x, y, radius, smoothness) of a disc carved out of the shape.
    notch: Option<(f32, f32, f32, f32)>,
    wobble: f32,
    wfreq: f32,
    seed: u32,
    edge: f32,
    reach: f32,
}

impl Nuc {
    fn new(rng: &mut ChaCha8Rng, s: f32) -> Self {
        Nuc {
            blobs: Vec::new(),
            caps: Vec::new(),
            smooth: 0.0,
            strands: Vec::new(),
            notch: None,
            wobble: 1.2 * s,
            wfreq: 1.0 / (12.0 * s).max(0.5),
            seed: rng.random(),
            edge: 1.3,
            reach: 0.0,
        }
    }

    /// Distance of the farthest boundary point from the local origin (without wobble).
    fn extent(&self) -> f32 {
        let b = self
            .blobs
            .iter()
            .map(|(x, y, p)| x.hypot(*y) + p.rmax)
            .fold(0.0f32, f32::max);
        let c = self
            .caps
            .iter()
            .chain(self.strands.iter())
            .map(Cap::reach)
            .fold(0.0f32, f32::max);
        b.max(c)
    }

    fn transform(&mut self, k: f32, dx: f32, dy: f32) {
        for (x, y, p) in &mut self.blobs {
            *x = *x * k + dx;
            *y = *y * k + dy;
            p.scale(k);
        }
        for c in self.caps.iter_mut().chain(self.strands.iter_mut()) {
            c.ax = c.ax * k + dx;
            c.ay = c.ay * k + dy;
            c.bx = c.bx * k + dx;
            c.by = c.by * k + dy;
            c.r *= k;
        }
        if let Some((x, y, r, sm)) = &mut self.notch {
            *x = *x * k + dx;
            *y = *y * k + dy;
            *r *= k;
            *sm *= k;
        }
        self.smooth *= k;
    }

    /// Shrinks the shape (about the origin) so that it reaches at most `limit`.
    fn fit(&mut self, limit: f32) {
        let e = self.extent();
        if e > limit && e > 0.0 {
            self.transform(limit / e, 0.0, 0.0);
        }
    }

    /// Moves the shape; call last, after which the reach is cached.
    fn place(&mut self, dx: f32, dy: f32) {
        self.transform(1.0, dx, dy);
        self.finalize();
    }

    fn finalize(&mut self) {
        self.reach = self.extent() + self.wobble + self.edge + 1.0;
    }

    #[inline]
    fn sdf(&self, x: f32, y: f32) -> f32 {
        let mut d = 1e9f32;
        for (ox, oy, p) in &self.blobs {
            d = smin(d, p.sdf(x - ox, y - oy), self.smooth);
        }
        for c in &self.caps {
            d = smin(d, c.sdf(x, y), self.smooth);
        }
        if let Some((nx, ny, nr, k)) = self.notch {
            let n = (x - nx).hypot(y - ny) - nr;
            d = -smin(-d, n, k);
        }
        for c in &self.strands {
            d = d.min(c.sdf(x, y));
        }
        if self.wobble > 0.0 {
            d += (vnoise(x * self.wfreq, y * self.wfreq, self.seed) - 0.5) * 2.0 * self.wobble;
        }
        d
    }
}

/// A chain of capsules through `pts` with half-width `w`.
fn chain_caps(pts: &[(f32, f32)], w: f32) -> Vec<Cap> {
    pts.windows(2)
        .map(|p| Cap {
            ax: p[0].0,
            ay: p[0].1,
            bx: p[1].0,
            by: p[1].1,
            r: w,
        })
        .collect()
}

/// Points along a curve of length `len` whose curvature at arc length `l` is `kappa(l)`,
/// centred on their mean.
fn curve(len: f32, steps: usize, start: f32, kappa: impl Fn(f32) -> f32) -> Vec<(f32, f32)> {
    let ds = len / steps as f32;
    let mut heading = start;
    let mut p = (0.0f32, 0.0f32);
    let mut pts = vec![p];
    for i in 0..steps {
        heading += kappa((i as f32 + 0.5) * ds) * ds;
        p = (p.0 + ds * heading.cos(), p.1 + ds * heading.sin());
        pts.push(p);
    }
    let n = pts.len() as f32;
    let mx = pts.iter().map(|p| p.0).sum::<f32>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f32>() / n;
    pts.iter().map(|p| (p.0 - mx, p.1 - my)).collect()
}

/// `n` lobes of radius in `r_range` spaced along a C- or S-shaped curve with gaps in
/// `gap`, consecutive lobes joined by strands of half-width `strand`.
fn lobe_chain(
    n: usize,
    r_range: (f32, f32),
    gap: (f32, f32),
    strand: f32,
    s: f32,
    rng: &mut ChaCha8Rng,
) -> Nuc {
    let mut nuc = Nuc::new(rng, s);
    let n = n.max(1);
    let radii: Vec<f32> = (0..n).map(|_| uni(rng, r_range.0, r_range.1)).collect();
    let mut pos = vec![0.0f32; n];
    for i in 1..n {
        pos[i] = pos[i - 1] + radii[i - 1] + radii[i] + uni(rng, gap.0, gap.1);
    }
    let len = pos[n - 1].max(1e-3);
    let sign = if chance(rng, 0.5) { 1.0 } else { -1.0 };
    let turning = match n {
        0..=2 => uni(rng, 0.3, 2.0),
        3 => uni(rng, 1.8, 3.8),
        4 => uni(rng, 3.0, 5.0),
        _ => uni(rng, 3.6, 5.4),
    };
    let kappa = sign * turning / len;
    let s_shape = n >= 3 && chance(rng, 0.35);
    let steps = 32;
    let pts = curve(len, steps, uni(rng, 0.0, TAU), |l| {
        if s_shape && l > len * 0.5 {
            -kappa
        } else {
            kappa
        }
    });
    let at = |l: f32| ((l / len * steps as f32).round() as usize).min(steps);
    let centres: Vec<(f32, f32)> = pos.iter().map(|&l| pts[at(l)]).collect();
    let mx = centres.iter().map(|c| c.0).sum::<f32>() / n as f32;
    let my = centres.iter().map(|c| c.1).sum::<f32>() / n as f32;
    for (i, &(x, y)) in centres.iter().enumerate() {
        let j = at(pos[i]);
        let (p0, p1) = (pts[j.saturating_sub(1)], pts[(j + 1).min(steps)]);
        let heading = (p1.1 - p0.1).atan2(p1.0 - p0.0);
        let across = if chance(rng, 0.5) { PI * 0.5 } else { 0.0 };
        let rot = heading + across + sym(rng) * 0.5;
        let blob = Polar::blob(radii[i], uni(rng, 1.0, 1.4), rot, 0.08, rng);
        nuc.blobs.push((x - mx, y - my, blob));
    }
    for w in centres.windows(2) {
        nuc.strands.push(Cap {
            ax: w[0].0 - mx,
            ay: w[0].1 - my,
            bx: w[1].0 - mx,
            by: w[1].1 - my,
            r: strand,
        });
    }
    nuc.wobble = 0.8 * s;
    nuc
}

/// A random point offset of length `len`.
fn offset(rng: &mut ChaCha8Rng, len: f32) -> (f32, f32) {
    let a = uni(rng, 0.0, TAU);
    (len * a.cos(), len * a.sin())
}

// ---------------------------------------------------------------------------------------
// Cells
// ---------------------------------------------------------------------------------------

/// Cytoplasm (or platelet / smudge body) shading.
struct Cyto {
    inner: Rgb,
    outer: Rgb,
    /// Width of the colour gradient from the outer edge inwards.
    grad: f32,
    alpha: f32,
    /// Granular texture: strength, frequency, colour and noise threshold.
    tex: f32,
    tfreq: f32,
    tex_col: Rgb,
    tex_lo: f32,
    /// Blotchy transparency (smudge cells) and anisotropy of the textures.
    blotch: f32,
    bfreq: f32,
    stretch: f32,
    /// Lighter zone around the nucleus: strength and width.
    halo: f32,
    halo_w: f32,
    seed: u32,
}

impl Cyto {
    fn new(inner: Rgb, outer: Rgb, grad: f32, rng: &mut ChaCha8Rng) -> Self {
        Cyto {
            inner,
            outer,
            grad: grad.max(0.5),
            alpha: 1.0,
            tex: 0.0,
            tfreq: 1.0,
            tex_col: inner,
            tex_lo: 0.5,
            blotch: 0.0,
            bfreq: 0.1,
            stretch: 1.0,
            halo: 0.0,
            halo_w: 1.0,
            seed: rng.random(),
        }
    }

    #[inline]
    fn shade(&self, u: f32, v: f32, d: f32, dn: f32) -> (Rgb, f32) {
        let mut c = lerp3(self.inner, self.outer, smoothstep(-self.grad, 0.0, d));
        let (su, sv) = (u * self.stretch, v / self.stretch);
        if self.tex > 0.0 {
            let n = vnoise(su * self.tfreq, sv * self.tfreq, self.seed);
            c = lerp3(c, self.tex_col, smoothstep(self.tex_lo, 1.0, n) * self.tex);
        }
        if self.halo > 0.0 && dn < self.halo_w {
            let h = (1.0 - dn / self.halo_w).clamp(0.0, 1.0) * self.halo;
            c = lerp3(c, [236.0, 236.0, 240.0], h);
        }
        let mut a = self.alpha;
        if self.blotch > 0.0 {
            let f = self.bfreq;
            let b = vnoise(su * f, sv * f, self.seed ^ 0x5A5A)
                + 0.5 * vnoise(su * f * 2.7 + 7.3, sv * f * 2.7 - 3.1, self.seed ^ 0xA5A5);
            a *= 1.0 - self.blotch * smoothstep(0.3, 0.75, b / 1.5);
        }
        (c, a)
    }
}

/// Nuclear chromatin shading.
struct Chrom {
    light: Rgb,
    dark: Rgb,
    base: f32,
    coarse: f32,
    cfreq: f32,
    /// Contrast boost of the coarse pattern (clumping).
    clump: f32,
    /// Ridged coarse pattern: a lacy network instead of blobs.
    lacy: bool,
    fine: f32,
    ffreq: f32,
    /// Darkening towards the nuclear membrane, over `edge_w` pixels.
    edge_dark: f32,
    edge_w: f32,
    alpha: f32,
    seed: u32,
}

impl Chrom {
    fn new(rng: &mut ChaCha8Rng, light: Rgb, dark: Rgb, s: f32) -> Self {
        Chrom {
            light,
            dark,
            base: 0.5,
            coarse: 0.2,
            cfreq: 1.0 / (6.0 * s).max(0.5),
            clump: 0.0,
            lacy: false,
            fine: 0.1,
            ffreq: 1.0 / (2.2 * s).max(0.5),
            edge_dark: 0.1,
            edge_w: (3.0 * s).max(0.5),
            alpha: 1.0,
            seed: rng.random(),
        }
    }

    #[inline]
    fn color(&self, u: f32, v: f32, d: f32) -> Rgb {
        let mut c = vnoise(u * self.cfreq, v * self.cfreq, self.seed);
        if self.lacy {
            c = 1.0 - (2.0 * c - 1.0).abs();
        }
        c = ((c - 0.5) * (1.0 + self.clump) + 0.5).clamp(0.0, 1.0);
        let f = vnoise(
            u * self.ffreq + 31.7,
            v * self.ffreq - 12.3,
            self.seed ^ 0xA5A5,
        );
        let e = (1.0 + d / self.edge_w).clamp(0.0, 1.0);
        let t = self.base
            + self.coarse * (c - 0.5) * 2.0
            + self.fine * (f - 0.5) * 2.0
            + self.edge_dark * e;
        lerp3(self.light, self.dark, t.clamp(0.0, 1.0))
    }
}

/// A soft disc in cell coordinates.
struct Dot {
    u: f32,
    v: f32,
    r: f32,
    edge: f32,
    col: Rgb,
    a: f32,
}

struct Cell {
    cx: f32,
    cy: f32,
    cos: f32,
    sin: f32,
    body: Polar,
    edge: f32,
    /// Low-frequency noise displacement of the outline (pixels) and its frequency.
    wobble: f32,
    wfreq: f32,
    cyto: Cyto,
    nuc: Option<(Nuc, Chrom)>,
    dots: Vec<Dot>,
}

impl Cell {
    fn new(rng: &mut ChaCha8Rng, cx: f32, cy: f32, body: Polar, cyto: Cyto) -> Self {
        let (sin, cos) = uni(rng, 0.0, TAU).sin_cos();
        Cell {
            cx,
            cy,
            cos,
            sin,
            body,
            edge: 1.4,
            wobble: 0.0,
            wfreq: 0.1,
            cyto,
            nuc: None,
            dots: Vec::new(),
        }
    }

    fn bound(&self) -> f32 {
        self.body.rmax + self.edge + self.wobble
    }

    #[inline]
    fn body_sdf(&self, u: f32, v: f32) -> f32 {
        let d = self.body.sdf(u, v);
        if self.wobble > 0.0 {
            let n = vnoise(u * self.wfreq, v * self.wfreq, self.cyto.seed ^ 0x3C3C);
            d + (n - 0.5) * 2.0 * self.wobble
        } else {
            d
        }
    }

    fn nuc_sdf(&self, u: f32, v: f32) -> f32 {
        self.nuc.as_ref().map_or(1e9, |(n, _)| n.sdf(u, v))
    }

    /// A random point (cell coordinates) satisfying `ok`, if one is found quickly.
    fn sample(
        &self,
        rng: &mut ChaCha8Rng,
        ok: impl Fn(&Cell, f32, f32) -> bool,
    ) -> Option<(f32, f32)> {
        let r = self.body.rmax;
        for _ in 0..24 {
            let (u, v) = (sym(rng) * r, sym(rng) * r);
            if ok(self, u, v) {
                return Some((u, v));
            }
        }
        None
    }

    /// Scatters about `n` granules of radius in `r` and colours between `cols.0` and
    /// `cols.1` (opacity `cols.2`) in the cytoplasm; a granule may lie over the nucleus
    /// with probability `over_nuc`.
    fn granules_over(
        &mut self,
        n: usize,
        r: (f32, f32),
        cols: (Rgb, Rgb, f32),
        over_nuc: f32,
        rng: &mut ChaCha8Rng,
    ) {
        for _ in 0..n {
            let gr = uni(rng, r.0, r.1);
            let accept = rng.random::<f32>();
            let p = self.sample(rng, |c, u, v| {
                c.body.sdf(u, v) < -gr * 0.7 && (accept < over_nuc || c.nuc_sdf(u, v) > 0.3)
            });
            if let Some((u, v)) = p {
                let col = lerp3(cols.0, cols.1, rng.random::<f32>());
                self.dots.push(Dot {
                    u,
                    v,
                    r: gr,
                    edge: 0.9,
                    col,
                    a: cols.2 * uni(rng, 0.8, 1.0),
                });
            }
        }
    }

    fn paint(&self, cv: &mut Canvas) {
        let (x0, x1, y0, y1) = cv.bbox(self.cx, self.cy, self.bound() + 1.0);
        let (cos, sin) = (self.cos, self.sin);
        for y in y0..y1 {
            let py = y as f32 + 0.5 - self.cy;
            for x in x0..x1 {
                let px = x as f32 + 0.5 - self.cx;
                let u = px * cos + py * sin;
                let v = -px * sin + py * cos;
                let d = self.body_sdf(u, v);
                let a = cover(d, self.edge);
                if a <= 0.0 {
                    continue;
                }
                let mut dn = 1e9;
                let mut nuc_col = None;
                if let Some((nuc, chrom)) = &self.nuc
                    && u * u + v * v < nuc.reach * nuc.reach
                {
                    dn = nuc.sdf(u, v);
                    let an = cover(dn, nuc.edge) * chrom.alpha;
                    if an > 0.0 {
                        nuc_col = Some((chrom.color(u, v, dn), an));
                    }
                }
                let (mut col, mut alpha) = self.cyto.shade(u, v, d, dn);
                alpha *= a;
                if let Some((nc, an)) = nuc_col {
                    col = lerp3(col, nc, an);
                    alpha += (a - alpha) * an;
                }
                cv.blend(x, y, col, alpha);
            }
        }
        for dot in &self.dots {
            let x = self.cx + dot.u * cos - dot.v * sin;
            let y = self.cy + dot.u * sin + dot.v * cos;
            cv.disc(x, y, dot.r, dot.edge, dot.col, dot.a);
        }
    }
}

fn build_cells(
    class: usize,
    rng: &mut ChaCha8Rng,
    s: f32,
    st: &Style,
    cx: f32,
    cy: f32,
) -> Vec<Cell> {
    match class {
        0 => vec![lymphoblast(rng, s, st, cx, cy)],
        1 => vec![typical_lymphocyte(rng, s, st, cx, cy)],
        2 => vec![atypical_lymphocyte(rng, s, st, cx, cy)],
        3 => vec![monocyte(rng, s, st, cx, cy)],
        4 | 5 => vec![neutrophil(rng, s, st, cx, cy, class == 5)],
        6 => vec![eosinophil(rng, s, st, cx, cy)],
        7 => vec![basophil(rng, s, st, cx, cy)],
        8 => thrombocytes(rng, s, st, cx, cy),
        _ => vec![smudge(rng, s, st, cx, cy)],
    }
}

/// Attaches a nucleus: fits it inside the body leaving a rim of at least `rim` and shifts
/// it off-centre by a random fraction `shift` of the remaining room.
fn attach(cell: &mut Cell, mut nuc: Nuc, chrom: Chrom, rim: f32, shift: f32, rng: &mut ChaCha8Rng) {
    let limit = (cell.body.rmin - rim - nuc.wobble).max(1.0);
    nuc.fit(limit);
    let room = (limit - nuc.extent()).max(0.0);
    let (dx, dy) = offset(rng, room * shift);
    nuc.place(dx, dy);
    cell.nuc = Some((nuc, chrom));
}

fn lymphoblast(rng: &mut ChaCha8Rng, s: f32, st: &Style, cx: f32, cy: f32) -> Cell {
    let r = uni(rng, 42.0, 54.0) * s;
    let body = Polar::blob(r, uni(rng, 1.0, 1.12), 0.0, 0.03, rng);
    let inner = st.ink(jit(rng, [138.0, 158.0, 214.0], 8.0));
    let outer = st.ink(jit(rng, [92.0, 118.0, 196.0], 8.0));
    let cyto = Cyto::new(inner, outer, r * 0.12, rng);
    let mut cell = Cell::new(rng, cx, cy, body, cyto);

    let rn = r * uni(rng, 0.8, 0.9);
    let mut nuc = Nuc::new(rng, s);
    let blob = Polar::blob(rn, uni(rng, 1.0, 1.15), 0.0, 0.05, rng);
    nuc.blobs.push((0.0, 0.0, blob));
    if chance(rng, 0.35) {
        let a = uni(rng, 0.0, TAU);
        let nr = rn * uni(rng, 0.2, 0.4);
        let d = rn + nr * 0.55;
        nuc.notch = Some((d * a.cos(), d * a.sin(), nr, 3.0 * s));
    }
    let light = st.ink(jit(rng, [172.0, 126.0, 192.0], 8.0));
    let dark = st.ink(jit(rng, [116.0, 70.0, 152.0], 8.0));
    let mut chrom = Chrom::new(rng, light, dark, s);
    chrom.base = uni(rng, 0.4, 0.55);
    chrom.coarse = 0.1;
    chrom.cfreq = 1.0 / (9.0 * s).max(0.5);
    chrom.fine = 0.14;
    chrom.ffreq = 1.0 / (1.8 * s).max(0.5);
    attach(&mut cell, nuc, chrom, 2.5 * s, uni(rng, 0.2, 0.9), rng);

    let nucleoli = rng.random_range(1..=3);
    for _ in 0..nucleoli {
        let nr = uni(rng, 3.5, 6.5) * s;
        let p = cell.sample(rng, |c, u, v| c.nuc_sdf(u, v) < -nr - 3.0 * s);
        if let Some((u, v)) = p {
            let col = st.ink(jit(rng, [186.0, 172.0, 214.0], 6.0));
            cell.dots.push(Dot {
                u,
                v,
                r: nr,
                edge: 1.8,
                col,
                a: 0.75,
            });
        }
    }
    cell
}

fn typical_lymphocyte(rng: &mut ChaCha8Rng, s: f32, st: &Style, cx: f32, cy: f32) -> Cell {
    let r = uni(rng, 25.0, 33.0) * s;
    let body = Polar::blob(r, uni(rng, 1.0, 1.12), 0.0, 0.03, rng);
    let inner = st.ink(jit(rng, [178.0, 194.0, 228.0], 8.0));
    let outer = st.ink(jit(rng, [150.0, 172.0, 222.0], 8.0));
    let cyto = Cyto::new(inner, outer, r * 0.15, rng);
    let mut cell = Cell::new(rng, cx, cy, body, cyto);

    let rn = r * uni(rng, 0.82, 0.92);
    let mut nuc = Nuc::new(rng, s);
    let blob = Polar::blob(rn, uni(rng, 1.0, 1.12), 0.0, 0.04, rng);
    nuc.blobs.push((0.0, 0.0, blob));
    if chance(rng, 0.25) {
        let a = uni(rng, 0.0, TAU);
        let nr = rn * uni(rng, 0.2, 0.35);
        let d = rn + nr * 0.6;
        nuc.notch = Some((d * a.cos(), d * a.sin(), nr, 2.0 * s));
    }
    let light = st.ink(jit(rng, [112.0, 72.0, 146.0], 8.0));
    let dark = st.ink(jit(rng, [48.0, 22.0, 78.0], 6.0));
    let mut chrom = Chrom::new(rng, light, dark, s);
    chrom.base = uni(rng, 0.55, 0.68);
    chrom.coarse = 0.38;
    chrom.cfreq = 1.0 / (4.2 * s).max(0.5);
    chrom.clump = 0.8;
    chrom.fine = 0.08;
    chrom.edge_dark = 0.15;
    attach(&mut cell, nuc, chrom, 1.5 * s, uni(rng, 0.3, 1.0), rng);
    cell
}

fn atypical_lymphocyte(rng: &mut ChaCha8Rng, s: f32, st: &Style, cx: f32, cy: f32) -> Cell {
    let r = uni(rng, 44.0, 60.0) * s;
    let mut body = Polar::blob(r, uni(rng, 1.0, 1.3), 0.0, 0.05, rng);
    let dents: Vec<(f32, f32, f32)> = (0..rng.random_range(2..=5))
        .map(|_| {
            (
                uni(rng, 0.0, TAU),
                uni(rng, 0.22, 0.5),
                uni(rng, 0.05, 0.14),
            )
        })
        .collect();
    let ruffle = (
        rng.random_range(7..=13) as f32,
        uni(rng, 0.005, 0.02),
        uni(rng, 0.0, TAU),
    );
    body.modulate(|t| {
        let mut f = 1.0 + ruffle.1 * (ruffle.0 * t + ruffle.2).cos();
        for &(phi, w, depth) in &dents {
            let dt = (t - phi + PI).rem_euclid(TAU) - PI;
            f *= 1.0 - depth * (-(dt / w).powi(2)).exp();
        }
        f
    });
    let deep = uni(rng, 0.0, 1.0);
    let inner = st.ink(jit(
        rng,
        lerp3([184.0, 198.0, 232.0], [140.0, 160.0, 216.0], deep),
        8.0,
    ));
    let outer = st.ink(jit(
        rng,
        lerp3([140.0, 160.0, 218.0], [84.0, 110.0, 192.0], deep),
        8.0,
    ));
    let mut cyto = Cyto::new(inner, outer, r * uni(rng, 0.3, 0.5), rng);
    cyto.halo = uni(rng, 0.0, 0.25);
    cyto.halo_w = 6.0 * s;
    let mut cell = Cell::new(rng, cx, cy, body, cyto);

    let rn = r * uni(rng, 0.4, 0.55);
    let mut nuc = Nuc::new(rng, s);
    let blob = Polar::blob(rn, uni(rng, 1.0, 1.3), uni(rng, 0.0, PI), 0.05, rng);
    nuc.blobs.push((0.0, 0.0, blob));
    let light = st.ink(jit(rng, [138.0, 96.0, 168.0], 8.0));
    let dark = st.ink(jit(rng, [72.0, 40.0, 108.0], 8.0));
    let mut chrom = Chrom::new(rng, light, dark, s);
    chrom.base = uni(rng, 0.45, 0.6);
    chrom.coarse = 0.25;
    chrom.cfreq = 1.0 / (5.5 * s).max(0.5);
    chrom.clump = 0.3;
    attach(&mut cell, nuc, chrom, 5.0 * s, uni(rng, 0.2, 0.7), rng);
    cell
}

fn monocyte(rng: &mut ChaCha8Rng, s: f32, st: &Style, cx: f32, cy: f32) -> Cell {
    let r = uni(rng, 50.0, 63.0) * s;
    let body = Polar::blob(r, uni(rng, 1.0, 1.2), 0.0, 0.06, rng);
    let inner = st.ink(jit(rng, [190.0, 184.0, 212.0], 8.0));
    let outer = st.ink(jit(rng, [172.0, 170.0, 206.0], 8.0));
    let mut cyto = Cyto::new(inner, outer, r * 0.3, rng);
    cyto.tex = 0.25;
    cyto.tfreq = 1.0 / (1.7 * s).max(0.5);
    cyto.tex_col = st.ink([196.0, 160.0, 196.0]);
    let mut cell = Cell::new(rng, cx, cy, body, cyto);

    let mut nuc = Nuc::new(rng, s);
    match rng.random_range(0..3) {
        0 => {
            // Kidney: an ellipse with a notch in one long side.
            let rn = r * uni(rng, 0.5, 0.6);
            let aspect = uni(rng, 1.15, 1.4);
            let blob = Polar::blob(rn, aspect, 0.0, 0.05, rng);
            let b = rn / aspect.sqrt();
            let nr = rn * uni(rng, 0.35, 0.6);
            nuc.notch = Some((
                sym(rng) * rn * 0.2,
                b + nr * uni(rng, 0.4, 0.8),
                nr,
                4.0 * s,
            ));
            nuc.blobs.push((0.0, 0.0, blob));
        }
        1 => {
            // Horseshoe: a thick arc.
            let rho = r * uni(rng, 0.28, 0.38);
            let span = uni(rng, 3.4, 4.4);
            let w = r * uni(rng, 0.19, 0.25);
            let pts = curve(rho * span, 16, uni(rng, 0.0, TAU), |_| 1.0 / rho);
            nuc.caps = chain_caps(&pts, w);
            nuc.smooth = w * 0.3;
        }
        _ => {
            // Folded: two overlapping lobes.
            let a = uni(rng, 0.0, TAU);
            let d = r * uni(rng, 0.16, 0.24);
            for sign in [-1.0f32, 1.0] {
                let rn = r * uni(rng, 0.3, 0.38);
                let blob = Polar::blob(rn, uni(rng, 1.1, 1.4), a + PI * 0.5, 0.07, rng);
                nuc.blobs
                    .push((sign * d * a.cos(), sign * d * a.sin(), blob));
            }
            nuc.smooth = 6.0 * s;
        }
    }
    nuc.wobble = 1.8 * s;
    let light = st.ink(jit(rng, [164.0, 128.0, 184.0], 8.0));
    let dark = st.ink(jit(rng, [100.0, 64.0, 136.0], 8.0));
    let mut chrom = Chrom::new(rng, light, dark, s);
    chrom.base = uni(rng, 0.4, 0.52);
    chrom.coarse = 0.32;
    chrom.cfreq = 1.0 / (5.0 * s).max(0.5);
    chrom.lacy = true;
    chrom.fine = 0.1;
    attach(&mut cell, nuc, chrom, 6.0 * s, uni(rng, 0.3, 1.0), rng);

    let vacuoles = rng.random_range(0..=5);
    for _ in 0..vacuoles {
        let vr = uni(rng, 1.8, 4.5) * s;
        let p = cell.sample(rng, |c, u, v| {
            c.body.sdf(u, v) < -vr - 2.0 * s && c.nuc_sdf(u, v) > vr + 1.0 * s
        });
        if let Some((u, v)) = p {
            cell.dots.push(Dot {
                u,
                v,
                r: vr,
                edge: 1.2,
                col: [236.0, 234.0, 242.0],
                a: 0.75,
            });
        }
    }
    cell
}

fn neutrophil(rng: &mut ChaCha8Rng, s: f32, st: &Style, cx: f32, cy: f32, band: bool) -> Cell {
    let r = uni(rng, 43.0, 52.0) * s;
    let body = Polar::blob(r, uni(rng, 1.0, 1.12), 0.0, 0.03, rng);
    let inner = st.ink(jit(rng, [232.0, 206.0, 216.0], 6.0));
    let outer = st.ink(jit(rng, [222.0, 196.0, 214.0], 6.0));
    let mut cyto = Cyto::new(inner, outer, r * 0.2, rng);
    cyto.tex = uni(rng, 0.35, 0.6);
    cyto.tfreq = 1.0 / (1.5 * s).max(0.5);
    cyto.tex_col = st.ink(jit(rng, [186.0, 140.0, 190.0], 6.0));
    cyto.tex_lo = 0.55;
    let mut cell = Cell::new(rng, cx, cy, body, cyto);

    let nuc = if band {
        let w = r * uni(rng, 0.14, 0.19);
        let start = uni(rng, 0.0, TAU);
        let pts = match rng.random_range(0..3) {
            0 => {
                let rho = r * uni(rng, 0.34, 0.46);
                curve(rho * uni(rng, 3.0, 4.3), 20, start, |_| 1.0 / rho)
            }
            1 => {
                let rho = r * uni(rng, 0.22, 0.3);
                let leg = r * uni(rng, 0.15, 0.35);
                let len = PI * rho + 2.0 * leg;
                curve(len, 20, start, move |l| {
                    if l > leg && l < len - leg {
                        1.0 / rho
                    } else {
                        0.0
                    }
                })
            }
            _ => {
                let rho = r * uni(rng, 0.24, 0.32);
                let half = rho * uni(rng, 2.2, 3.0);
                curve(2.0 * half, 20, start, move |l| {
                    if l < half { 1.0 / rho } else { -1.0 / rho }
                })
            }
        };
        let mut nuc = Nuc::new(rng, s);
        nuc.caps = chain_caps(&pts, w);
        nuc.smooth = w * 0.2;
        nuc.wobble = 0.8 * s;
        nuc
    } else {
        let n = match rng.random::<f32>() {
            x if x < 0.2 => 2,
            x if x < 0.6 => 3,
            x if x < 0.9 => 4,
            _ => 5,
        };
        let lr = r * (0.36 - 0.025 * n as f32);
        lobe_chain(
            n,
            (lr * 0.85, lr * 1.15),
            (1.5 * s, 4.5 * s),
            (0.9 * s).max(0.45),
            s,
            rng,
        )
    };
    let light = st.ink(jit(rng, [118.0, 76.0, 150.0], 8.0));
    let dark = st.ink(jit(rng, [62.0, 30.0, 98.0], 8.0));
    let mut chrom = Chrom::new(rng, light, dark, s);
    chrom.base = uni(rng, 0.55, 0.68);
    chrom.coarse = 0.28;
    chrom.cfreq = 1.0 / (4.5 * s).max(0.5);
    chrom.clump = 0.4;
    attach(&mut cell, nuc, chrom, 5.0 * s, uni(rng, 0.0, 0.6), rng);
    cell
}

fn eosinophil(rng: &mut ChaCha8Rng, s: f32, st: &Style, cx: f32, cy: f32) -> Cell {
    let r = uni(rng, 43.0, 52.0) * s;
    let body = Polar::blob(r, uni(rng, 1.0, 1.15), 0.0, 0.04, rng);
    let inner = st.ink(jit(rng, [236.0, 196.0, 178.0], 6.0));
    let outer = st.ink(jit(rng, [232.0, 186.0, 168.0], 6.0));
    let cyto = Cyto::new(inner, outer, r * 0.2, rng);
    let mut cell = Cell::new(rng, cx, cy, body, cyto);

    let n = if chance(rng, 0.85) { 2 } else { 3 };
    let lr = r * uni(rng, 0.27, 0.33);
    let nuc = lobe_chain(
        n,
        (lr * 0.85, lr * 1.15),
        (1.5 * s, 6.0 * s),
        (1.0 * s).max(0.45),
        s,
        rng,
    );
    let light = st.ink(jit(rng, [124.0, 76.0, 146.0], 8.0));
    let dark = st.ink(jit(rng, [70.0, 36.0, 98.0], 8.0));
    let mut chrom = Chrom::new(rng, light, dark, s);
    chrom.base = uni(rng, 0.45, 0.6);
    chrom.coarse = 0.25;
    chrom.cfreq = 1.0 / (5.0 * s).max(0.5);
    chrom.clump = 0.3;
    attach(&mut cell, nuc, chrom, 5.0 * s, uni(rng, 0.0, 0.6), rng);

    let gr = (uni(rng, 1.9, 2.4) * s).max(0.4);
    let area = PI * r * r;
    let count = (area / (PI * gr * gr) * uni(rng, 0.9, 1.2)) as usize;
    let c0 = st.ink(jit(rng, [236.0, 116.0, 64.0], 8.0));
    let c1 = st.ink(jit(rng, [206.0, 84.0, 52.0], 8.0));
    cell.granules_over(count, (gr * 0.85, gr * 1.15), (c0, c1, 0.9), 0.03, rng);
    cell
}

fn basophil(rng: &mut ChaCha8Rng, s: f32, st: &Style, cx: f32, cy: f32) -> Cell {
    let r = uni(rng, 36.0, 46.0) * s;
    let body = Polar::blob(r, uni(rng, 1.0, 1.15), 0.0, 0.05, rng);
    let inner = st.ink(jit(rng, [214.0, 192.0, 222.0], 6.0));
    let outer = st.ink(jit(rng, [204.0, 182.0, 218.0], 6.0));
    let cyto = Cyto::new(inner, outer, r * 0.2, rng);
    let mut cell = Cell::new(rng, cx, cy, body, cyto);

    let n = rng.random_range(2..=3);
    let lr = r * uni(rng, 0.27, 0.33);
    let mut nuc = lobe_chain(n, (lr * 0.85, lr * 1.15), (-lr * 0.8, 0.0), 2.0 * s, s, rng);
    nuc.smooth = 4.0 * s;
    nuc.wobble = 2.0 * s;
    let light = st.ink(jit(rng, [160.0, 120.0, 182.0], 8.0));
    let dark = st.ink(jit(rng, [112.0, 76.0, 146.0], 8.0));
    let mut chrom = Chrom::new(rng, light, dark, s);
    chrom.base = 0.45;
    attach(&mut cell, nuc, chrom, 4.0 * s, uni(rng, 0.0, 0.5), rng);

    let gr = (uni(rng, 2.0, 2.8) * s).max(0.4);
    let area = PI * r * r;
    let count = (area / (PI * gr * gr) * uni(rng, 0.45, 0.7)) as usize;
    let c0 = st.ink(jit(rng, [72.0, 30.0, 92.0], 8.0));
    let c1 = st.ink(jit(rng, [40.0, 14.0, 62.0], 6.0));
    cell.granules_over(count, (gr * 0.7, gr * 1.3), (c0, c1, 0.92), 1.0, rng);
    cell
}

fn thrombocytes(rng: &mut ChaCha8Rng, s: f32, st: &Style, cx: f32, cy: f32) -> Vec<Cell> {
    let n = match rng.random::<f32>() {
        x if x < 0.5 => 1,
        x if x < 0.8 => 2,
        _ => 3,
    };
    let mut cells: Vec<Cell> = Vec::with_capacity(n);
    let (mut px, mut py) = (cx, cy);
    for i in 0..n {
        let r = uni(rng, 7.0, 12.0) * s;
        if let Some(prev) = cells.last() {
            let a = uni(rng, 0.0, TAU);
            let d = prev.body.rmax + r * uni(rng, 0.6, 1.3);
            px = if i == 1 { cx } else { px } + d * a.cos();
            py = if i == 1 { cy } else { py } + d * a.sin();
        }
        let body = Polar::blob(r, uni(rng, 1.0, 1.5), 0.0, 0.14, rng);
        let inner = st.ink(jit(rng, [172.0, 142.0, 204.0], 8.0));
        let outer = st.ink(jit(rng, [196.0, 184.0, 222.0], 8.0));
        let mut cyto = Cyto::new(inner, outer, r * 0.6, rng);
        cyto.tex = 0.5;
        cyto.tfreq = 1.0 / (1.6 * s).max(0.5);
        cyto.tex_col = st.ink([120.0, 70.0, 150.0]);
        cyto.alpha = 0.92;
        let mut cell = Cell::new(rng, px, py, body, cyto);
        cell.edge = 1.2;
        let count = rng.random_range(4..=14);
        let c0 = st.ink(jit(rng, [128.0, 66.0, 156.0], 8.0));
        let c1 = st.ink(jit(rng, [92.0, 44.0, 128.0], 8.0));
        for _ in 0..count {
            let len = r * 0.55 * rng.random::<f32>().sqrt();
            let (u, v) = offset(rng, len);
            cell.dots.push(Dot {
                u,
                v,
                r: (uni(rng, 0.8, 1.5) * s).max(0.3),
                edge: 0.8,
                col: lerp3(c0, c1, rng.random::<f32>()),
                a: 0.85,
            });
        }
        cells.push(cell);
    }
    cells
}

fn smudge(rng: &mut ChaCha8Rng, s: f32, st: &Style, cx: f32, cy: f32) -> Cell {
    let r = uni(rng, 30.0, 50.0) * s;
    let body = Polar::blob(r, uni(rng, 1.1, 1.7), 0.0, 0.22, rng);
    let inner = st.ink(jit(rng, [160.0, 122.0, 186.0], 10.0));
    let outer = st.ink(jit(rng, [196.0, 170.0, 208.0], 8.0));
    let mut cyto = Cyto::new(inner, outer, r * 0.6, rng);
    cyto.alpha = uni(rng, 0.7, 0.95);
    cyto.tex = uni(rng, 0.3, 0.55);
    cyto.tfreq = 1.0 / (6.0 * s).max(0.5);
    cyto.tex_col = st.ink(jit(rng, [128.0, 88.0, 160.0], 8.0));
    cyto.tex_lo = 0.3;
    cyto.blotch = uni(rng, 0.4, 0.7);
    cyto.bfreq = 1.0 / (9.0 * s).max(0.5);
    cyto.stretch = uni(rng, 1.2, 1.9);
    let mut cell = Cell::new(rng, cx, cy, body, cyto);
    cell.edge = uni(rng, 4.0, 8.0) * s.max(0.1);
    cell.wobble = uni(rng, 5.0, 9.0) * s;
    cell.wfreq = 1.0 / (12.0 * s).max(0.5);
    cell
}

/// Scatters 3–8 red blood cells outside the disc of radius `bound` around `centre`.
fn paint_rbcs(cv: &mut Canvas, rng: &mut ChaCha8Rng, s: f32, centre: (f32, f32), bound: f32) {
    let want = rng.random_range(3..=8);
    let size = cv.w as f32;
    let mut placed: Vec<(f32, f32, f32)> = Vec::with_capacity(want);
    let rim = jit(rng, [214.0, 140.0, 140.0], 6.0);
    let pale = jit(rng, [232.0, 190.0, 184.0], 6.0);
    let pallor = uni(rng, 0.5, 0.95);
    let bg = [236.0f32, 226.0, 222.0];
    for _ in 0..200 {
        if placed.len() >= want {
            break;
        }
        let r = uni(rng, 25.0, 30.0) * s;
        let x = uni(rng, -0.15, 1.15) * size;
        let y = uni(rng, -0.15, 1.15) * size;
        let visible = x > -0.5 * r && y > -0.5 * r && x < size + 0.5 * r && y < size + 0.5 * r;
        let clear = (x - centre.0).hypot(y - centre.1) > bound + r + 4.0 * s;
        let apart = placed
            .iter()
            .all(|&(px, py, pr)| (x - px).hypot(y - py) > (r + pr) * 0.85);
        if !(visible && clear && apart) {
            continue;
        }
        placed.push((x, y, r));
        let shape = Polar::blob(r, uni(rng, 1.0, 1.12), uni(rng, 0.0, PI), 0.02, rng);
        let rim_t: Rgb = std::array::from_fn(|i| rim[i] / bg[i]);
        let pale_t: Rgb = std::array::from_fn(|i| pale[i] / bg[i]);
        let p = pallor * uni(rng, 0.8, 1.0);
        let (x0, x1, y0, y1) = cv.bbox(x, y, shape.rmax + 2.0);
        for py in y0..y1 {
            let dy = py as f32 + 0.5 - y;
            for px in x0..x1 {
                let dx = px as f32 + 0.5 - x;
                let d = shape.sdf(dx, dy);
                let a = cover(d, 1.5) * 0.95;
                if a <= 0.0 {
                    continue;
                }
                let t = (dx * dx + dy * dy).sqrt() / r;
                let c = p * (1.0 - smoothstep(0.1, 0.7, t));
                let tr = lerp3(rim_t, pale_t, c);
                let q = &mut cv.px[py * cv.w + px];
                for i in 0..3 {
                    q[i] *= 1.0 + (tr[i] - 1.0) * a;
                }
            }
        }
    }
}
