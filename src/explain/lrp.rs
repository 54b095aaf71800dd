//! Layer-wise relevance propagation (LRP) for the paper network, computed on the host.
//!
//! The weights are copied out of the burn model into `f64` vectors ([`HostNet`]), the forward
//! pass is recomputed on the host, and relevance flows back from the chosen class's logit
//! (relevance = the logit at that class, 0 at the others) to the input pixels. Computing it on
//! the host keeps it exact (`f64`) and the same on every backend.
//!
//! Every convolution and dense layer is a linear map `z_j = Σ_i x_i w_ij + b_j`
//! ([`LinearLayer`]); the rules ([`Rule`]) are written once for that form, with the "modified
//! weights" trick of Montavon et al. (2019, *Layer-wise relevance propagation: an overview*):
//! a rule is a forward pass with modified weights, a division, and a transposed pass.
//! ReLU passes relevance through unchanged, max-pooling gives each pooled relevance to the
//! window's winner, and flattening only reorders.

use super::input::check_image;
use crate::nn::{FILTERS, PaperCnn, final_side};

/// Stabiliser that keeps the denominators of the non-ε rules away from zero.
const TINY: f64 = 1e-9;

/// One LRP rule for a linear layer (`x` its input, `w` its weights, `z` its pre-activations,
/// `R` relevance; `⁺`/`⁻` are the positive and negative parts).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// LRP-0: `R_i = Σ_j x_i w_ij / z_j · R_j`.
    Zero,
    /// LRP-ε: LRP-0 with `z_j + ε·sign(z_j)`: weak, contradictory contributions are absorbed.
    Epsilon(f64),
    /// LRP-ε with ε = factor × the root mean square of the layer's `z` (scale-free; the
    /// "ε = 0.25 · std" of Montavon et al.'s tutorial).
    EpsilonRms(f64),
    /// LRP-γ: weights `w + γ·w⁺` (and bias `b + γ·b⁺`): positive contributions favoured.
    Gamma(f64),
    /// LRP-αβ: `R_i = Σ_j (α (x_i w_ij)⁺ / z_j⁺ − β (x_i w_ij)⁻ / z_j⁻) R_j`; α − β = 1 conserves
    /// relevance; α = 1, β = 0 is the z⁺ rule.
    AlphaBeta { alpha: f64, beta: f64 },
    /// zᴮ for inputs bounded by `[low, high]` (the first layer, pixels in [0, 1]).
    ZBox { low: f64, high: f64 },
    /// Flat: relevance spread evenly over each output's receptive field (input and weights
    /// ignored).
    Flat,
}

impl Rule {
    /// Short human-readable name.
    pub fn label(&self) -> String {
        match *self {
            Rule::Zero => "LRP-0".into(),
            Rule::Epsilon(e) => format!("ε = {e}"),
            Rule::EpsilonRms(f) => format!("ε = {f}·rms(z)"),
            Rule::Gamma(g) => format!("γ = {g}"),
            Rule::AlphaBeta { alpha, beta } => format!("α{alpha}β{beta}"),
            Rule::ZBox { low, high } => format!("z^B [{low}, {high}]"),
            Rule::Flat => "flat".into(),
        }
    }
}

/// Which rule each kind of layer uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerRules {
    /// The first convolution (sees the pixels).
    pub first: Rule,
    /// The other five convolutions.
    pub conv: Rule,
    /// The two dense layers (hidden and output).
    pub dense: Rule,
}

impl LayerRules {
    /// The same rule everywhere.
    pub fn uniform(rule: Rule) -> Self {
        Self {
            first: rule,
            conv: rule,
            dense: rule,
        }
    }
}

/// The rule combinations offered to users.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Preset {
    /// ε = 1 in every layer, as in the paper's figures.
    Paper,
    /// Dense layers ε = 0.25·rms(z), convolutions γ = 0.25, the first convolution zᴮ with
    /// pixel bounds [0, 1] (the composite recommended by Montavon et al. 2019).
    #[default]
    EpsGammaZb,
    /// Dense layers ε = 0.25·rms(z), convolutions α1β0 (z⁺), the first convolution flat.
    EpsAlphaFlat,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::Paper, Preset::EpsGammaZb, Preset::EpsAlphaFlat];

    /// Name shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Preset::Paper => "Paper (ε = 1 everywhere)",
            Preset::EpsGammaZb => "ε / γ=0.25 / z^B",
            Preset::EpsAlphaFlat => "ε / α1β0 / flat",
        }
    }

    /// Name on the command line.
    pub fn cli_name(self) -> &'static str {
        match self {
            Preset::Paper => "paper",
            Preset::EpsGammaZb => "eps-gamma-zb",
            Preset::EpsAlphaFlat => "eps-alpha-flat",
        }
    }

    pub fn from_cli_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.cli_name().eq_ignore_ascii_case(s.trim()))
    }

    /// The rules of the preset.
    pub fn rules(self) -> LayerRules {
        match self {
            Preset::Paper => LayerRules::uniform(Rule::Epsilon(1.0)),
            Preset::EpsGammaZb => LayerRules {
                first: Rule::ZBox {
                    low: 0.0,
                    high: 1.0,
                },
                conv: Rule::Gamma(0.25),
                dense: Rule::EpsilonRms(0.25),
            },
            Preset::EpsAlphaFlat => LayerRules {
                first: Rule::Flat,
                conv: Rule::AlphaBeta {
                    alpha: 1.0,
                    beta: 0.0,
                },
                dense: Rule::EpsilonRms(0.25),
            },
        }
    }
}

/// The shape of a linear layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Input `[n_in]`, output `[n_out]`, weights `[n_in, n_out]` row-major (burn's `Linear`).
    Dense { n_in: usize, n_out: usize },
    /// Input `[c_in, h, w]`, output `[c_out, h − 2, w − 2]` (3×3, stride 1, no padding),
    /// weights `[c_out, c_in, 3, 3]` (burn's `Conv2d`).
    Conv3x3 {
        c_in: usize,
        c_out: usize,
        h: usize,
        w: usize,
    },
}

/// A dense layer or a valid 3×3 convolution: `z_j = Σ_i x_i w_ij + b_j`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearLayer {
    pub shape: Shape,
    pub weight: Vec<f64>,
    /// One per output unit (per filter for a convolution).
    pub bias: Vec<f64>,
}

impl LinearLayer {
    /// A dense layer with weights `[n_in, n_out]`.
    pub fn dense(
        n_in: usize,
        n_out: usize,
        weight: Vec<f64>,
        bias: Vec<f64>,
    ) -> Result<Self, String> {
        Self::checked(Shape::Dense { n_in, n_out }, weight, bias)
    }

    /// A valid 3×3 convolution of a `[c_in, h, w]` input with weights `[c_out, c_in, 3, 3]`.
    pub fn conv3x3(
        c_in: usize,
        c_out: usize,
        h: usize,
        w: usize,
        weight: Vec<f64>,
        bias: Vec<f64>,
    ) -> Result<Self, String> {
        if h < 3 || w < 3 {
            return Err(format!(
                "a 3×3 convolution needs at least 3×3 inputs, not {h}×{w}"
            ));
        }
        Self::checked(Shape::Conv3x3 { c_in, c_out, h, w }, weight, bias)
    }

    fn checked(shape: Shape, weight: Vec<f64>, bias: Vec<f64>) -> Result<Self, String> {
        let (nw, nb) = match shape {
            Shape::Dense { n_in, n_out } => (n_in * n_out, n_out),
            Shape::Conv3x3 { c_in, c_out, .. } => (c_out * c_in * 9, c_out),
        };
        if weight.len() != nw || bias.len() != nb {
            return Err(format!(
                "{shape:?}: expected {nw} weights and {nb} biases, got {} and {}",
                weight.len(),
                bias.len()
            ));
        }
        Ok(Self {
            shape,
            weight,
            bias,
        })
    }

    pub fn n_in(&self) -> usize {
        match self.shape {
            Shape::Dense { n_in, .. } => n_in,
            Shape::Conv3x3 { c_in, h, w, .. } => c_in * h * w,
        }
    }

    pub fn n_out(&self) -> usize {
        match self.shape {
            Shape::Dense { n_out, .. } => n_out,
            Shape::Conv3x3 { c_out, h, w, .. } => c_out * (h - 2) * (w - 2),
        }
    }

    /// Output units per bias entry (1 for dense, the output plane for a convolution).
    fn plane(&self) -> usize {
        match self.shape {
            Shape::Dense { .. } => 1,
            Shape::Conv3x3 { h, w, .. } => (h - 2) * (w - 2),
        }
    }

    /// `Σ_i x_i v_ij` for weights `v` laid out like `self.weight` (no bias).
    pub fn apply(&self, v: &[f64], x: &[f64]) -> Vec<f64> {
        debug_assert_eq!(x.len(), self.n_in());
        let mut z = vec![0.0; self.n_out()];
        match self.shape {
            Shape::Dense { n_in, n_out } => {
                for i in 0..n_in {
                    let xi = x[i];
                    if xi == 0.0 {
                        continue;
                    }
                    let row = &v[i * n_out..(i + 1) * n_out];
                    for (zj, &w) in z.iter_mut().zip(row) {
                        *zj += xi * w;
                    }
                }
            }
            Shape::Conv3x3 { c_in, c_out, h, w } => {
                let (h2, w2) = (h - 2, w - 2);
                for f in 0..c_out {
                    let out = &mut z[f * h2 * w2..(f + 1) * h2 * w2];
                    for c in 0..c_in {
                        let plane = &x[c * h * w..(c + 1) * h * w];
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let wv = v[((f * c_in + c) * 3 + ky) * 3 + kx];
                                if wv == 0.0 {
                                    continue;
                                }
                                for oy in 0..h2 {
                                    let src = &plane[(oy + ky) * w + kx..(oy + ky) * w + kx + w2];
                                    let dst = &mut out[oy * w2..(oy + 1) * w2];
                                    for (d, &s) in dst.iter_mut().zip(src) {
                                        *d += wv * s;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        z
    }

    /// `Σ_j v_ij s_j` (the transposed map; for LRP-0 with `s = R / z` it gives `R_i / x_i`).
    pub fn apply_t(&self, v: &[f64], s: &[f64]) -> Vec<f64> {
        debug_assert_eq!(s.len(), self.n_out());
        let mut g = vec![0.0; self.n_in()];
        match self.shape {
            Shape::Dense { n_in, n_out } => {
                for (i, gi) in g.iter_mut().enumerate().take(n_in) {
                    let row = &v[i * n_out..(i + 1) * n_out];
                    *gi = row.iter().zip(s).map(|(w, s)| w * s).sum();
                }
            }
            Shape::Conv3x3 { c_in, c_out, h, w } => {
                let (h2, w2) = (h - 2, w - 2);
                for f in 0..c_out {
                    let sf = &s[f * h2 * w2..(f + 1) * h2 * w2];
                    for c in 0..c_in {
                        let plane = &mut g[c * h * w..(c + 1) * h * w];
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let wv = v[((f * c_in + c) * 3 + ky) * 3 + kx];
                                if wv == 0.0 {
                                    continue;
                                }
                                for oy in 0..h2 {
                                    let src = &sf[oy * w2..(oy + 1) * w2];
                                    let dst =
                                        &mut plane[(oy + ky) * w + kx..(oy + ky) * w + kx + w2];
                                    for (d, &s) in dst.iter_mut().zip(src) {
                                        *d += wv * s;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        g
    }

    /// Adds a per-unit bias (from a per-output-unit vector `b`, one value per filter for a
    /// convolution) to `z`.
    fn add_bias(&self, z: &mut [f64], b: &[f64]) {
        let p = self.plane();
        for (k, bk) in b.iter().enumerate() {
            for v in &mut z[k * p..(k + 1) * p] {
                *v += bk;
            }
        }
    }

    /// The pre-activations `z = W x + b`.
    pub fn forward(&self, x: &[f64]) -> Vec<f64> {
        let mut z = self.apply(&self.weight, x);
        self.add_bias(&mut z, &self.bias);
        z
    }

    /// The relevance of the inputs `x` given the relevance `r` of the outputs, by `rule`.
    pub fn relevance(&self, x: &[f64], r: &[f64], rule: Rule) -> Vec<f64> {
        assert_eq!(x.len(), self.n_in(), "input size");
        assert_eq!(r.len(), self.n_out(), "relevance size");
        let pos = |v: &[f64]| v.iter().map(|w| w.max(0.0)).collect::<Vec<f64>>();
        let neg = |v: &[f64]| v.iter().map(|w| w.min(0.0)).collect::<Vec<f64>>();
        match rule {
            Rule::Zero | Rule::Epsilon(_) | Rule::EpsilonRms(_) | Rule::Gamma(_) => {
                let gamma = if let Rule::Gamma(g) = rule { g } else { 0.0 };
                let (v, b) = if gamma != 0.0 {
                    let v: Vec<f64> = self.weight.iter().map(|w| w + gamma * w.max(0.0)).collect();
                    let b: Vec<f64> = self.bias.iter().map(|b| b + gamma * b.max(0.0)).collect();
                    (v, b)
                } else {
                    (self.weight.clone(), self.bias.clone())
                };
                let mut z = self.apply(&v, x);
                self.add_bias(&mut z, &b);
                let eps = match rule {
                    Rule::Epsilon(e) => e,
                    Rule::EpsilonRms(f) => f * rms(&z),
                    Rule::Gamma(_) => TINY,
                    _ => 0.0,
                };
                let s = ratio(r, &z, eps);
                let c = self.apply_t(&v, &s);
                x.iter().zip(c).map(|(x, c)| x * c).collect()
            }
            Rule::AlphaBeta { alpha, beta } => {
                let (wp, wn) = (pos(&self.weight), neg(&self.weight));
                let (xp, xn) = (pos(x), neg(x));
                let has_neg = xn.iter().any(|&v| v != 0.0);
                let mut zp = self.apply(&wp, &xp);
                let mut zn = self.apply(&wn, &xp);
                if has_neg {
                    add(&mut zp, &self.apply(&wn, &xn));
                    add(&mut zn, &self.apply(&wp, &xn));
                }
                self.add_bias(&mut zp, &pos(&self.bias));
                self.add_bias(&mut zn, &neg(&self.bias));
                let sp = ratio(r, &zp, 0.0);
                let sn = ratio(r, &zn, 0.0);
                let mut out: Vec<f64> = xp
                    .iter()
                    .zip(self.apply_t(&wp, &sp))
                    .map(|(x, c)| alpha * x * c)
                    .collect();
                if beta != 0.0 {
                    for (o, (x, c)) in out.iter_mut().zip(xp.iter().zip(self.apply_t(&wn, &sn))) {
                        *o -= beta * x * c;
                    }
                }
                if has_neg {
                    for (o, (x, c)) in out.iter_mut().zip(xn.iter().zip(self.apply_t(&wn, &sp))) {
                        *o += alpha * x * c;
                    }
                    if beta != 0.0 {
                        for (o, (x, c)) in out.iter_mut().zip(xn.iter().zip(self.apply_t(&wp, &sn)))
                        {
                            *o -= beta * x * c;
                        }
                    }
                }
                out
            }
            Rule::ZBox { low, high } => {
                let (wp, wn) = (pos(&self.weight), neg(&self.weight));
                let ones = vec![1.0; x.len()];
                let mut z = self.apply(&self.weight, x);
                let zl = self.apply(&wp, &ones);
                let zh = self.apply(&wn, &ones);
                for ((z, l), h) in z.iter_mut().zip(&zl).zip(&zh) {
                    *z -= low * l + high * h;
                }
                let s = ratio(r, &z, TINY);
                let c = self.apply_t(&self.weight, &s);
                let cl = self.apply_t(&wp, &s);
                let ch = self.apply_t(&wn, &s);
                (0..x.len())
                    .map(|i| x[i] * c[i] - low * cl[i] - high * ch[i])
                    .collect()
            }
            Rule::Flat => {
                let ones_w = vec![1.0; self.weight.len()];
                let ones_x = vec![1.0; x.len()];
                let z = self.apply(&ones_w, &ones_x);
                let s = ratio(r, &z, 0.0);
                self.apply_t(&ones_w, &s)
            }
        }
    }
}

fn add(a: &mut [f64], b: &[f64]) {
    for (a, b) in a.iter_mut().zip(b) {
        *a += b;
    }
}

fn rms(z: &[f64]) -> f64 {
    if z.is_empty() {
        return 0.0;
    }
    (z.iter().map(|v| v * v).sum::<f64>() / z.len() as f64).sqrt()
}

/// `r_j / (z_j + ε·sign(z_j))`, with sign(0) = +1 and 0 where the denominator is 0.
fn ratio(r: &[f64], z: &[f64], eps: f64) -> Vec<f64> {
    r.iter()
        .zip(z)
        .map(|(&r, &z)| {
            let d = if z >= 0.0 { z + eps } else { z - eps };
            if d == 0.0 || r == 0.0 { 0.0 } else { r / d }
        })
        .collect()
}

/// 2×2 max-pooling with stride 2 (rows and columns beyond an even size are dropped, as in
/// burn). Returns the pooled `[c, h/2, w/2]` values and, per pooled value, the index of the
/// window's winner in `x` (the first maximum in row order).
pub fn maxpool2(x: &[f64], c: usize, h: usize, w: usize) -> (Vec<f64>, Vec<usize>) {
    let (h2, w2) = (h / 2, w / 2);
    let mut out = Vec::with_capacity(c * h2 * w2);
    let mut arg = Vec::with_capacity(c * h2 * w2);
    for ch in 0..c {
        for oy in 0..h2 {
            for ox in 0..w2 {
                let mut best = ch * h * w + 2 * oy * w + 2 * ox;
                for (dy, dx) in [(0, 1), (1, 0), (1, 1)] {
                    let i = ch * h * w + (2 * oy + dy) * w + 2 * ox + dx;
                    if x[i] > x[best] {
                        best = i;
                    }
                }
                out.push(x[best]);
                arg.push(best);
            }
        }
    }
    (out, arg)
}

/// Winner-take-all relevance of max-pooling: each pooled relevance goes to its window's winner.
pub fn maxpool2_relevance(r: &[f64], winners: &[usize], n_in: usize) -> Vec<f64> {
    let mut out = vec![0.0; n_in];
    for (&rv, &i) in r.iter().zip(winners) {
        out[i] += rv;
    }
    out
}

/// The paper network's weights on the host, in `f64`.
#[derive(Clone, Debug)]
pub struct HostNet {
    /// Input side in pixels.
    pub side: usize,
    /// The six convolutions (each followed by ReLU and 2×2 max-pooling).
    pub convs: Vec<LinearLayer>,
    /// Dense 32 (followed by ReLU).
    pub dense: LinearLayer,
    /// The output layer (logits).
    pub out: LinearLayer,
}

/// Everything the host forward pass computed.
#[derive(Clone, Debug)]
pub struct HostTrace {
    /// Input of each convolution (the image, then each pooled block output).
    pub conv_in: Vec<Vec<f64>>,
    /// Per block, the winners of the max-pooling (indices into the conv output).
    pub winners: Vec<Vec<usize>>,
    /// Flattened input of the dense layer.
    pub flat: Vec<f64>,
    /// The 32-d hidden layer (after ReLU).
    pub hidden: Vec<f64>,
    pub logits: Vec<f64>,
}

fn host_vec(t: burn::tensor::Tensor<1>) -> Result<Vec<f64>, String> {
    t.try_into_vec_as::<f32>()
        .map(|v| v.into_iter().map(f64::from).collect())
        .map_err(|e| format!("reading the network's weights failed: {e:?}"))
}

impl HostNet {
    /// Copies the weights of `model` for inputs of `side` pixels.
    pub fn from_model(model: &PaperCnn, side: usize) -> Result<Self, String> {
        if final_side(side as u32) == 0 {
            return Err(format!(
                "an input of {side} px is too small for the network"
            ));
        }
        if model.blocks.len() != FILTERS.len() {
            return Err("the network does not have the paper's six blocks".into());
        }
        let mut convs = Vec::with_capacity(FILTERS.len());
        let (mut c_in, mut s) = (3usize, side);
        for b in &model.blocks {
            let dims = b.conv.weight.dims();
            let [c_out, ci, kh, kw] = dims;
            if ci != c_in || kh != 3 || kw != 3 {
                return Err(format!("unexpected convolution weights {dims:?}"));
            }
            let w = host_vec(b.conv.weight.val().reshape([c_out * c_in * 9]))?;
            let bias = match &b.conv.bias {
                Some(p) => host_vec(p.val())?,
                None => vec![0.0; c_out],
            };
            convs.push(LinearLayer::conv3x3(c_in, c_out, s, s, w, bias)?);
            c_in = c_out;
            s = (s - 2) / 2;
        }
        let lin = |l: &burn::nn::Linear| -> Result<LinearLayer, String> {
            let [n_in, n_out] = l.weight.dims();
            let w = host_vec(l.weight.val().reshape([n_in * n_out]))?;
            let b = match &l.bias {
                Some(p) => host_vec(p.val())?,
                None => vec![0.0; n_out],
            };
            LinearLayer::dense(n_in, n_out, w, b)
        };
        let dense = lin(&model.dense)?;
        let out = lin(&model.out)?;
        if dense.n_in() != c_in * s * s {
            return Err(format!(
                "the network was made for another input size than {side} px ({} inputs to the dense layer, {} here)",
                dense.n_in(),
                c_in * s * s
            ));
        }
        Ok(Self {
            side,
            convs,
            dense,
            out,
        })
    }

    pub fn n_classes(&self) -> usize {
        self.out.n_out()
    }

    /// The forward pass on a `[3, side, side]` input.
    pub fn forward(&self, x: &[f64]) -> HostTrace {
        let mut conv_in = Vec::with_capacity(self.convs.len());
        let mut winners = Vec::with_capacity(self.convs.len());
        let mut a = x.to_vec();
        for conv in &self.convs {
            let Shape::Conv3x3 { c_out, h, w, .. } = conv.shape else {
                unreachable!("convs are convolutions")
            };
            let z: Vec<f64> = conv.forward(&a).into_iter().map(|v| v.max(0.0)).collect();
            let (p, win) = maxpool2(&z, c_out, h - 2, w - 2);
            conv_in.push(std::mem::replace(&mut a, p));
            winners.push(win);
        }
        let flat = a;
        let hidden: Vec<f64> = self
            .dense
            .forward(&flat)
            .into_iter()
            .map(|v| v.max(0.0))
            .collect();
        let logits = self.out.forward(&hidden);
        HostTrace {
            conv_in,
            winners,
            flat,
            hidden,
            logits,
        }
    }
}

/// The result of LRP for one image.
#[derive(Clone, Debug)]
pub struct Relevance {
    pub side: usize,
    /// Relevance of every input value `[3, side, side]`.
    pub per_channel: Vec<f32>,
    /// Relevance per pixel (sum over the colour channels), `side × side` row-major; positive
    /// = evidence for the class, negative = against.
    pub map: Vec<f32>,
    /// The logits of the image.
    pub logits: Vec<f32>,
    /// Total relevance at each stage from the top: the start (the logit), the hidden layer,
    /// the flattened features, then the input of each convolution from the sixth to the first
    /// (the last entry is the image). Conservative rules keep these equal.
    pub layer_sums: Vec<f64>,
}

/// LRP of `image` (`[3, side, side]`, values in [0, 1]) for output `class` with the given rules.
pub fn lrp_host(
    net: &HostNet,
    image: &[f32],
    class: usize,
    rules: &LayerRules,
) -> Result<Relevance, String> {
    let side = net.side;
    if image.len() != 3 * side * side {
        return Err(format!(
            "the image has {} values; the network expects 3 × {side} × {side}",
            image.len()
        ));
    }
    if class >= net.n_classes() {
        return Err(format!(
            "class {class} does not exist (the network has {} outputs)",
            net.n_classes()
        ));
    }
    let x: Vec<f64> = image.iter().map(|&v| v as f64).collect();
    let t = net.forward(&x);
    let mut r = vec![0.0; net.n_classes()];
    r[class] = t.logits[class];
    let mut sums = vec![r.iter().sum::<f64>()];
    let r_hidden = net.out.relevance(&t.hidden, &r, rules.dense);
    sums.push(r_hidden.iter().sum());
    let mut r = net.dense.relevance(&t.flat, &r_hidden, rules.dense);
    sums.push(r.iter().sum());
    for (l, conv) in net.convs.iter().enumerate().rev() {
        // Pooling (winner-take-all) and ReLU (identity) back to the conv output.
        let r_conv = maxpool2_relevance(&r, &t.winners[l], conv.n_out());
        let rule = if l == 0 { rules.first } else { rules.conv };
        r = conv.relevance(&t.conv_in[l], &r_conv, rule);
        sums.push(r.iter().sum());
    }
    let n = side * side;
    let map: Vec<f32> = (0..n)
        .map(|i| (r[i] + r[n + i] + r[2 * n + i]) as f32)
        .collect();
    Ok(Relevance {
        side,
        per_channel: r.iter().map(|&v| v as f32).collect(),
        map,
        logits: t.logits.iter().map(|&v| v as f32).collect(),
        layer_sums: sums,
    })
}

/// LRP of `image` for `class` with a burn model (its weights are copied to the host).
pub fn lrp(
    model: &PaperCnn,
    image: &[f32],
    class: usize,
    rules: &LayerRules,
) -> Result<Relevance, String> {
    let side = check_image(image)?;
    let net = HostNet::from_model(model, side)?;
    lrp_host(&net, image, class, rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::saliency::input_gradient;
    use crate::nn::ModelSpec;
    use burn::module::Param;
    use burn::tensor::{Device, Tensor, TensorData};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const S: usize = 190;

    fn net(seed: u64, n_classes: usize) -> PaperCnn {
        let spec = ModelSpec {
            input_size: S as u32,
            n_classes,
        };
        PaperCnn::new(spec, seed, &Device::flex()).unwrap()
    }

    /// A random image in [0, 1] (smooth blobs plus noise, so the activations are varied).
    fn image(seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (cx, cy) = (
            rng.random_range(60.0..130.0f32),
            rng.random_range(60.0..130.0f32),
        );
        let mut v = Vec::with_capacity(3 * S * S);
        for c in 0..3 {
            for y in 0..S {
                for x in 0..S {
                    let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                    let base = if d < 40.0 { 0.3 + 0.1 * c as f32 } else { 0.8 };
                    v.push((base + rng.random_range(-0.15..0.15f32)).clamp(0.0, 1.0));
                }
            }
        }
        v
    }

    /// Sets every bias of the network to small random values.
    fn with_random_biases(mut m: PaperCnn, seed: u64) -> PaperCnn {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let dev = Device::flex();
        let mut rand_param = |n: usize| {
            let v: Vec<f32> = (0..n).map(|_| rng.random_range(-0.05..0.05f32)).collect();
            Param::from_data(TensorData::new(v, [n]), &dev)
        };
        for b in &mut m.blocks {
            let f = b.conv.weight.dims()[0];
            b.conv.bias = Some(rand_param(f));
        }
        m.dense.bias = Some(rand_param(m.dense.weight.dims()[1]));
        m.out.bias = Some(rand_param(m.out.weight.dims()[1]));
        m
    }

    fn rel_err(a: &[f64], b: &[f64]) -> f64 {
        let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
        let den: f64 = b.iter().map(|y| y * y).sum();
        (num / den).sqrt()
    }

    #[test]
    fn host_forward_equals_burn_forward() {
        let m = with_random_biases(net(3, 3), 4);
        let img = image(1);
        let hn = HostNet::from_model(&m, S).unwrap();
        let t = hn.forward(&img.iter().map(|&v| v as f64).collect::<Vec<_>>());
        let dev = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(img, [1, 3, S, S]), &dev);
        let burn_logits = m.forward(x).try_into_vec_as::<f32>().unwrap();
        for (h, b) in t.logits.iter().zip(&burn_logits) {
            assert!((h - *b as f64).abs() < 1e-4 * (1.0 + h.abs()), "{h} vs {b}");
        }
        assert!(HostNet::from_model(&m, 257).is_err(), "wrong input size");
    }

    /// LRP-0 (and LRP-ε with ε → 0) through ReLU and max-pooling equals gradient × input.
    #[test]
    fn lrp_zero_equals_gradient_times_input() {
        for (m, what) in [
            (net(11, 2), "zero biases"),
            (with_random_biases(net(12, 2), 5), "random biases"),
        ] {
            let img = image(2);
            let class = 1;
            let g = input_gradient(&m, &img, class).unwrap();
            let gxi: Vec<f64> = g.iter().zip(&img).map(|(g, x)| (g * x) as f64).collect();
            for rule in [Rule::Zero, Rule::Epsilon(1e-9)] {
                let r = lrp(&m, &img, class, &LayerRules::uniform(rule)).unwrap();
                let rv: Vec<f64> = r.per_channel.iter().map(|&v| v as f64).collect();
                let e = rel_err(&rv, &gxi);
                assert!(e < 1e-4, "{what}, {rule:?}: relative error {e}");
            }
            // A rule that is not LRP-0 gives something else (the comparison can fail).
            let r = lrp(&m, &img, class, &LayerRules::uniform(Rule::Gamma(0.25))).unwrap();
            let rv: Vec<f64> = r.per_channel.iter().map(|&v| v as f64).collect();
            assert!(rel_err(&rv, &gxi) > 1e-2, "{what}: γ should differ");
        }
    }

    /// Conservative rules (with zero biases) keep the total relevance at every layer; ε does not.
    #[test]
    fn relevance_is_conserved_layer_by_layer() {
        let m = net(21, 3);
        let img = image(3);
        let hn = HostNet::from_model(&m, S).unwrap();
        let zb = Rule::ZBox {
            low: 0.0,
            high: 1.0,
        };
        let a1b0 = Rule::AlphaBeta {
            alpha: 1.0,
            beta: 0.0,
        };
        let a2b1 = Rule::AlphaBeta {
            alpha: 2.0,
            beta: 1.0,
        };
        let cases = [
            LayerRules::uniform(Rule::Zero),
            LayerRules {
                first: zb,
                conv: Rule::Zero,
                dense: Rule::Zero,
            },
            LayerRules {
                first: zb,
                conv: a1b0,
                dense: Rule::Zero,
            },
            LayerRules {
                first: Rule::Flat,
                conv: a2b1,
                dense: a1b0,
            },
            LayerRules {
                first: zb,
                conv: Rule::Gamma(0.25),
                dense: Rule::Zero,
            },
        ];
        for class in 0..3 {
            for rules in &cases {
                let r = lrp_host(&hn, &img, class, rules).unwrap();
                assert_eq!(r.layer_sums.len(), 9);
                let start = r.layer_sums[0];
                assert!(start.abs() > 1e-6, "a non-trivial logit");
                for (k, s) in r.layer_sums.iter().enumerate() {
                    assert!(
                        (s - start).abs() < 1e-6 * start.abs().max(1.0),
                        "{rules:?} class {class}: stage {k} sums to {s}, expected {start}"
                    );
                }
                let map_sum: f64 = r.map.iter().map(|&v| v as f64).sum();
                assert!((map_sum - start).abs() < 1e-4 * start.abs().max(1.0));
            }
        }
        // A large ε absorbs relevance: the check above would notice.
        let r = lrp_host(&hn, &img, 0, &LayerRules::uniform(Rule::Epsilon(1.0))).unwrap();
        let (first, last) = (r.layer_sums[0], r.layer_sums[8]);
        assert!(
            (first - last).abs() > 1e-3 * first.abs(),
            "{first} vs {last}"
        );
    }

    /// A 2-2-1 dense toy, computed by hand.
    #[test]
    fn dense_rules_on_a_hand_computed_toy() {
        // x = (1, 2), weights [n_in, n_out] = [[1, 2], [3, −1]], bias (0, 1):
        // w = [[1, 2], [3, −1]] → z = (1·1 + 2·3, 1·2 + 2·(−1)) = (7, 0) + bias (0, 1) = (7, 1).
        let l = LinearLayer::dense(2, 2, vec![1.0, 2.0, 3.0, -1.0], vec![0.0, 1.0]).unwrap();
        let x = [1.0, 2.0];
        assert_eq!(l.forward(&x), vec![7.0, 1.0]);
        let r = [7.0, 2.0];
        // LRP-0: R_i = x_i Σ_j w_ij R_j / z_j; R/z = (1, 2).
        // R_0 = 1·(1·1 + 2·2) = 5; R_1 = 2·(3·1 + (−1)·2) = 2.
        let r0 = l.relevance(&x, &r, Rule::Zero);
        close(&r0, &[5.0, 2.0]);
        // ε = 1: R/(z+1) = (7/8, 1).
        // R_0 = 1·(7/8 + 2) = 2.875; R_1 = 2·(3·7/8 − 1) = 3.25.
        close(&l.relevance(&x, &r, Rule::Epsilon(1.0)), &[2.875, 3.25]);
        // γ = 1: w' = [[2, 4], [6, −1]], b' = (0, 2); z' = (2 + 12, 4 − 2 + 2) = (14, 4);
        // R/z' = (0.5, 0.5). R_0 = 1·(2·0.5 + 4·0.5) = 3; R_1 = 2·(6·0.5 − 0.5) = 5.
        close(&l.relevance(&x, &r, Rule::Gamma(1.0)), &[3.0, 5.0]);
        // α1β0: z⁺ = (1 + 6, 2 + 0 + b⁺ 1) = (7, 3); R/z⁺ = (1, 2/3).
        // R_0 = 1·(1·1 + 2·2/3) = 7/3; R_1 = 2·(3·1 + 0) = 6.
        let ab = Rule::AlphaBeta {
            alpha: 1.0,
            beta: 0.0,
        };
        close(&l.relevance(&x, &r, ab), &[7.0 / 3.0, 6.0]);
        // α2β1: z⁻ = (0, −2 + b⁻ 0) = (0, −2); R/z⁻ = (0 (z⁻ = 0), −1).
        // R_0 = 2·7/3 − 0 = 14/3; R_1 = 2·6 − 1·(2·(−1)·(−1)) = 12 − 2 = 10.
        let ab21 = Rule::AlphaBeta {
            alpha: 2.0,
            beta: 1.0,
        };
        close(&l.relevance(&x, &r, ab21), &[14.0 / 3.0, 10.0]);
        // Flat: each output's relevance split evenly over its 2 inputs: (4.5, 4.5).
        close(&l.relevance(&x, &r, Rule::Flat), &[4.5, 4.5]);
        // zᴮ on [0, 3]: z = Wx − 0·W⁺1 − 3·W⁻1 = (7, 0 + 3) = (7, 3) (bias ignored);
        // R/z = (1, 2/3). R_i = x_i (W s)_i − 3 (W⁻ s)_i:
        // R_0 = 1·(1 + 4/3) − 0 = 7/3; R_1 = 2·(3 − 2/3) − 3·(−2/3) = 14/3 + 2 = 20/3.
        let zb = Rule::ZBox {
            low: 0.0,
            high: 3.0,
        };
        let rz = l.relevance(&x, &r, zb);
        close(&rz, &[7.0 / 3.0, 20.0 / 3.0]);
        assert!((rz.iter().sum::<f64>() - 9.0).abs() < 1e-8, "zᴮ conserves");
    }

    /// A 1-channel 4×4 input, one 3×3 filter (→ 2×2), then 2×2 max-pooling, by hand. The taps
    /// are not symmetric, so a transposed or mirrored kernel would be noticed.
    #[test]
    fn conv_and_pool_on_a_hand_computed_case() {
        #[rustfmt::skip]
        let x = vec![
            0.0, 1.0, 0.0, 3.0,
            0.0, 2.0, 1.0, 0.0,
            0.5, 0.0, 0.0, 0.0,
            0.0, 1.0, 1.0, 0.0,
        ];
        // Taps (row, col): (0,1) +1, (1,1) +1, (2,0) −1; bias 0.5. So
        // z(oy, ox) = x(oy, ox+1) + x(oy+1, ox+1) − x(oy+2, ox) + 0.5:
        // z(0,0) = 1 + 2 − 0.5 + 0.5 = 3, z(0,1) = 0 + 1 − 0 + 0.5 = 1.5,
        // z(1,0) = 2 + 0 − 0 + 0.5 = 2.5, z(1,1) = 1 + 0 − 1 + 0.5 = 0.5.
        let mut w = vec![0.0; 9];
        w[1] = 1.0;
        w[4] = 1.0;
        w[6] = -1.0;
        let l = LinearLayer::conv3x3(1, 1, 4, 4, w, vec![0.5]).unwrap();
        let z = l.forward(&x);
        assert_eq!(z, vec![3.0, 1.5, 2.5, 0.5]);
        let (p, win) = maxpool2(&z, 1, 2, 2);
        assert_eq!((p, win.clone()), (vec![3.0], vec![0]));
        // Winner-take-all: the pooled relevance 3 goes to output (0,0) only.
        let r = maxpool2_relevance(&[3.0], &win, 4);
        assert_eq!(r, vec![3.0, 0.0, 0.0, 0.0]);
        let at = |v: &[(usize, usize, f64)]| {
            let mut m = vec![0.0; 16];
            for &(y, x, val) in v {
                m[y * 4 + x] = val;
            }
            m
        };
        // LRP-0: R/z = 1; contributions x·w: (0,1) 1, (1,1) 2, (2,0) −0.5 (the bias keeps 0.5).
        close(
            &l.relevance(&x, &r, Rule::Zero),
            &at(&[(0, 1, 1.0), (1, 1, 2.0), (2, 0, -0.5)]),
        );
        // γ = 1: taps 2, 2, −1, bias 1; z' = 2 + 4 − 0.5 + 1 = 6.5; s = 3 / 6.5.
        let s = 3.0 / 6.5;
        close(
            &l.relevance(&x, &r, Rule::Gamma(1.0)),
            &at(&[(0, 1, 2.0 * s), (1, 1, 4.0 * s), (2, 0, -0.5 * s)]),
        );
        // α1β0: z⁺ = 1 + 2 + 0.5 = 3.5; s = 3 / 3.5; the negative tap gets nothing.
        let s = 3.0 / 3.5;
        let ab = Rule::AlphaBeta {
            alpha: 1.0,
            beta: 0.0,
        };
        close(&l.relevance(&x, &r, ab), &at(&[(0, 1, s), (1, 1, 2.0 * s)]));
        // zᴮ on [0, 3]: z = (1 + 2 − 0.5) − 3·(−1) = 5.5 (no bias); s = 3 / 5.5;
        // R = x·w·s − 3·w⁻·s: (0,1) s, (1,1) 2s, (2,0) −0.5s + 3s = 2.5s (sum 5.5s = 3).
        let s = 3.0 / 5.5;
        let zb = Rule::ZBox {
            low: 0.0,
            high: 3.0,
        };
        close(
            &l.relevance(&x, &r, zb),
            &at(&[(0, 1, s), (1, 1, 2.0 * s), (2, 0, 2.5 * s)]),
        );
        // Flat: 3 / 9 on each pixel of the 3×3 window of output (0,0) (rows, cols 0..3).
        let mut flat = vec![0.0; 16];
        for y in 0..3 {
            for x in 0..3 {
                flat[y * 4 + x] = 3.0 / 9.0;
            }
        }
        close(&l.relevance(&x, &r, Rule::Flat), &flat);
        // Relevance 1 at output (1,1) (z = 0.5, s = 2): x·w·s at (1,2) 2, (3,1) −2.
        close(
            &l.relevance(&x, &[0.0, 0.0, 0.0, 1.0], Rule::Zero),
            &at(&[(1, 2, 2.0), (3, 1, -2.0)]),
        );
        // Floor pooling: a 5×5 plane pools to 2×2; the last row and column never win.
        let mut odd = vec![0.0; 25];
        odd[24] = 9.0;
        odd[6] = 1.0;
        let (p, win) = maxpool2(&odd, 1, 5, 5);
        assert_eq!(p, vec![1.0, 0.0, 0.0, 0.0]);
        assert_eq!(win[0], 6);
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            // The zᴮ and γ rules add a 1e-9 stabiliser to their denominators.
            assert!((x - y).abs() < 1e-8, "{a:?} vs {b:?}");
        }
    }
}
