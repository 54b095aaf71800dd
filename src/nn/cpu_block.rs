//! One block of the paper network on the CPU as a single fused operation:
//! 3×3 valid convolution + bias → ReLU → 2×2 max-pooling (stride 2, floor), forward and
//! backward, plugged into burn as a backend extension of the `flex` CPU backend and of autodiff
//! over it.
//!
//! Why it exists: burn 0.22's flex backend computes the convolution's weight gradient as
//! another convolution, with the 255×255 output gradient as its kernel, and its input gradient
//! as a transposed convolution; with ReLU and pooling as separate tensors in between, one
//! training step of the paper network spent about 80 % of its time there (`bench ops`).
//! Here the gradient of the pooled output reaches only the one pre-activation per pooling window
//! that won (and only when it was positive), so both gradients are sparse scatters over a
//! quarter of the positions, and no 255×255 ReLU or pre-pooling tensor is ever stored.
//!
//! The arithmetic is plain Rust over contiguous rows; the hot loops are compiled twice, once with
//! AVX2+FMA enabled and chosen at run time where the processor has them. Work is split over
//! rayon's pool by image and channel. Results equal burn's conv2d → relu → max_pool2d within
//! float rounding (tests below); a forward pass through `FusedPath::None` runs burn's operations
//! instead, for comparison (`leukolens bench train` measures both).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

/// conv3×3 (valid) + bias → ReLU → max-pool 2×2 through the fused CPU kernel.
/// `x`: [batch, c_in, h, w]; `weight`: [c_out, c_in, 3, 3]; `bias`: [c_out].
/// Call only where `FusedPath::for_device` is `Cpu` for the tensors' device and they are f32.
pub fn conv_relu_pool(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as FusedBlockBackend>::conv_relu_pool(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// The backend extension: implemented for flex and for autodiff over flex.
#[backend_extension(Flex, Autodiff)]
pub trait FusedBlockBackend: Backend {
    /// conv3×3 valid + bias → ReLU → max-pool 2×2.
    fn conv_relu_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl FusedBlockBackend for Flex {
    fn conv_relu_pool(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        forward_tensors(&x, &weight, &bias).out
    }
}

/// The forward pass on flex tensors, with what its backward needs.
struct Forward {
    out: FlexTensor,
    winners: Vec<u8>,
    dims: Dims,
    /// The input and weights, contiguous.
    x: FlexTensor,
    w: FlexTensor,
}

fn forward_tensors(x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor) -> Forward {
    let dims = Dims::of(x, weight, bias);
    let (x, w, b) = (
        contiguous_f32(x),
        contiguous_f32(weight),
        contiguous_f32(bias),
    );
    let (out, winners) = forward(x.storage(), w.storage(), b.storage(), dims);
    Forward {
        out: to_tensor(out, dims.out_shape()),
        winners,
        dims,
        x,
        w,
    }
}

/// Backward of the fused block. State: the input, the weights, the winner of every pooling
/// window (see [`forward`]) and the shapes.
#[derive(Debug)]
struct FusedBlockBackward;

impl Backward<Flex, 3> for FusedBlockBackward {
    type State = (FlexTensor, FlexTensor, Arc<Vec<u8>>, Dims);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, w, winners, dims) = ops.state;
        let grad = contiguous_f32(&grad);
        let g = grad.storage::<f32>();
        if let Some(node) = node_x {
            let dx = grad_input(w.storage(), &winners, g, dims);
            grads.register::<Flex>(node.id, to_tensor(dx, dims.in_shape()));
        }
        if node_w.is_some() || node_b.is_some() {
            let (dw, db) = grad_params(x.storage(), &winners, g, dims);
            if let Some(node) = node_w {
                grads.register::<Flex>(node.id, to_tensor(dw, dims.weight_shape()));
            }
            if let Some(node) = node_b {
                grads.register::<Flex>(node.id, to_tensor(db, vec![dims.c_out]));
            }
        }
    }
}

impl<C: CheckpointStrategy> FusedBlockBackend for Autodiff<Flex, C> {
    fn conv_relu_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match FusedBlockBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let f = forward_tensors(x.primitive(), weight.primitive(), bias.primitive());
                prep.finish((f.x, f.w, Arc::new(f.winners), f.dims), f.out)
            }
            OpsKind::UnTracked(prep) => prep.finish(<Flex as FusedBlockBackend>::conv_relu_pool(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            )),
        }
    }
}

fn contiguous_f32(t: &FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "the fused CPU block is f32 only");
    t.to_contiguous()
}

fn to_tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Shapes of one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
}

impl Dims {
    fn of(x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor) -> Self {
        let xs = x.shape();
        let ws = weight.shape();
        let bs = bias.shape();
        assert!(
            bs.num_dims() == 1 && ws.num_dims() == 4 && bs[0] == ws[0],
            "fused block: bias {bs:?} does not fit weight {ws:?}"
        );
        assert!(
            xs.num_dims() == 4 && ws.num_dims() == 4 && ws[2] == 3 && ws[3] == 3 && ws[1] == xs[1],
            "fused block: input {xs:?} and weight {ws:?} do not fit a 3×3 convolution"
        );
        assert!(
            xs[2] >= 4 && xs[3] >= 4,
            "fused block: input {xs:?} too small"
        );
        Self {
            batch: xs[0],
            c_in: xs[1],
            h: xs[2],
            w: xs[3],
            c_out: ws[0],
        }
    }
    /// Convolution output height and width.
    fn conv_hw(&self) -> (usize, usize) {
        (self.h - 2, self.w - 2)
    }
    /// Pooled output height and width.
    pub fn pooled_hw(&self) -> (usize, usize) {
        let (h, w) = self.conv_hw();
        (h / 2, w / 2)
    }
    fn out_shape(&self) -> Vec<usize> {
        let (hp, wp) = self.pooled_hw();
        vec![self.batch, self.c_out, hp, wp]
    }
    fn in_shape(&self) -> Vec<usize> {
        vec![self.batch, self.c_in, self.h, self.w]
    }
    fn weight_shape(&self) -> Vec<usize> {
        vec![self.c_out, self.c_in, 3, 3]
    }
}

/// No winner: the window's maximum pre-activation was ≤ 0, so ReLU passes no gradient.
const DEAD: u8 = u8::MAX;

/// Defines `$name` whose body is compiled twice: with AVX2 and FMA enabled (chosen at run time
/// where the processor has them, with `FMA = true` so that [`fma`] fuses), and as built.
macro_rules! simd_dispatch {
    ($name:ident, fn($($arg:ident: $ty:ty),*) $body:block) => {
        fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body<const FMA: bool>($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) { body::<true>($($arg),*) }
                if !FORCE_PORTABLE.load(Ordering::Relaxed)
                    && std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the features were detected on this processor.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body::<false>($($arg),*)
        }
    };
}

/// Forces the portable build of the loops even where AVX2 and FMA exist (for tests: both builds
/// must give the same results up to rounding).
static FORCE_PORTABLE: AtomicBool = AtomicBool::new(false);

/// `a * b + c`, fused where the code was compiled with FMA (without it `mul_add` would call a
/// slow software routine).
#[inline(always)]
fn fma<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Forward pass. Returns the pooled output [batch, c_out, hp, wp] and, per pooled value, which of
/// its 2×2 window won (`dy * 2 + dx`), or [`DEAD`] when the maximum was ≤ 0.
pub fn forward(x: &[f32], w: &[f32], bias: &[f32], d: Dims) -> (Vec<f32>, Vec<u8>) {
    let (hp, wp) = d.pooled_hw();
    let plane = hp * wp;
    let mut out = vec![0.0f32; d.batch * d.c_out * plane];
    let mut winners = vec![DEAD; out.len()];
    out.par_chunks_mut(plane)
        .zip(winners.par_chunks_mut(plane))
        .enumerate()
        .for_each(|(i, (out, win))| {
            let (b, co) = (i / d.c_out, i % d.c_out);
            let image = &x[b * d.c_in * d.h * d.w..(b + 1) * d.c_in * d.h * d.w];
            let filter = &w[co * d.c_in * 9..(co + 1) * d.c_in * 9];
            forward_plane(image, filter, bias[co], d, out, win);
        });
    (out, winners)
}

simd_dispatch!(forward_plane, fn(image: &[f32], filter: &[f32], bias: f32, d: Dims, out: &mut [f32], win: &mut [u8]) {
    let (_, wo) = d.conv_hw();
    let (hp, wp) = d.pooled_hw();
    let plane = d.h * d.w;
    let mut rows = [vec![0.0f32; wo], vec![0.0f32; wo]];
    for py in 0..hp {
        let [r0, r1] = &mut rows;
        let (r0, r1) = (&mut r0[..wo], &mut r1[..wo]);
        r0.fill(bias);
        r1.fill(bias);
        for ci in 0..d.c_in {
            let k = &filter[ci * 9..ci * 9 + 9];
            // Input rows 2py..2py+3 feed conv rows 2py (taps from rows 0-2) and 2py+1 (1-3).
            // Twelve shifted views of exactly `wo` values each, so that the loop has no bounds
            // checks and vectorises; each input value loaded serves both rows.
            let base = ci * plane + 2 * py * d.w;
            let tap = |r: usize, s: usize| &image[base + r * d.w + s..base + r * d.w + s + wo];
            let x: [[&[f32]; 3]; 4] = std::array::from_fn(|r| std::array::from_fn(|s| tap(r, s)));
            for i in 0..wo {
                let mut a = r0[i];
                let mut b = r1[i];
                for ky in 0..3 {
                    for kx in 0..3 {
                        a = fma::<FMA>(k[ky * 3 + kx], x[ky][kx][i], a);
                        b = fma::<FMA>(k[ky * 3 + kx], x[ky + 1][kx][i], b);
                    }
                }
                r0[i] = a;
                r1[i] = b;
            }
        }
        let out_row = &mut out[py * wp..(py + 1) * wp];
        let win_row = &mut win[py * wp..(py + 1) * wp];
        for px in 0..wp {
            let c = [
                rows[0][2 * px],
                rows[0][2 * px + 1],
                rows[1][2 * px],
                rows[1][2 * px + 1],
            ];
            // A NaN wins and passes through (as in burn's relu and max_pool2d), so that a
            // diverging network shows up as a NaN loss instead of silently dead units.
            let mut k = 0;
            for j in 1..4 {
                if c[j].is_nan() || (c[j] > c[k] && !c[k].is_nan()) {
                    k = j;
                }
            }
            if c[k] > 0.0 || c[k].is_nan() {
                out_row[px] = c[k];
                win_row[px] = k as u8;
            } else {
                out_row[px] = 0.0;
                win_row[px] = DEAD;
            }
        }
    }
});

/// Calls `f(gradient, y, x)` for every pooling window with a winner, (y, x) being the winning
/// pre-activation's position in the convolution output. `g` and `win` are one channel's pooled
/// gradient and winners, `wp` values per row.
#[inline(always)]
fn for_each_winner(g: &[f32], win: &[u8], wp: usize, mut f: impl FnMut(f32, usize, usize)) {
    for (py, (g, win)) in g.chunks_exact(wp).zip(win.chunks_exact(wp)).enumerate() {
        for (px, (&gv, &k)) in g.iter().zip(win).enumerate() {
            if k != DEAD {
                f(gv, 2 * py + (k >> 1) as usize, 2 * px + (k & 1) as usize);
            }
        }
    }
}

/// Gradient with respect to the input, from the gradient `g` of the pooled output.
pub fn grad_input(w: &[f32], winners: &[u8], g: &[f32], d: Dims) -> Vec<f32> {
    let plane = d.h * d.w;
    let mut dx = vec![0.0f32; d.batch * d.c_in * plane];
    dx.par_chunks_mut(plane).enumerate().for_each(|(i, dx)| {
        let (b, ci) = (i / d.c_in, i % d.c_in);
        grad_input_plane(w, winners, g, d, b, ci, dx);
    });
    dx
}

simd_dispatch!(grad_input_plane, fn(w: &[f32], winners: &[u8], g: &[f32], d: Dims, b: usize, ci: usize, dx: &mut [f32]) {
    let (hp, wp) = d.pooled_hw();
    for co in 0..d.c_out {
        let k = &w[(co * d.c_in + ci) * 9..(co * d.c_in + ci) * 9 + 9];
        let at = (b * d.c_out + co) * hp * wp;
        let (g, win) = (&g[at..at + hp * wp], &winners[at..at + hp * wp]);
        for_each_winner(g, win, wp, |gv, y, x| {
            for ky in 0..3 {
                let row = &mut dx[(y + ky) * d.w + x..(y + ky) * d.w + x + 3];
                row[0] += gv * k[ky * 3];
                row[1] += gv * k[ky * 3 + 1];
                row[2] += gv * k[ky * 3 + 2];
            }
        });
    }
});

/// Gradients with respect to the weights [c_out, c_in, 3, 3] and the bias [c_out].
pub fn grad_params(x: &[f32], winners: &[u8], g: &[f32], d: Dims) -> (Vec<f32>, Vec<f32>) {
    let n = d.c_in * 9 + 1;
    // One partial sum per (image, output channel), then a sum over the images in a fixed order.
    let mut partial = vec![0.0f32; d.batch * d.c_out * n];
    partial.par_chunks_mut(n).enumerate().for_each(|(i, acc)| {
        let (b, co) = (i / d.c_out, i % d.c_out);
        grad_params_plane(x, winners, g, d, b, co, acc);
    });
    let mut dw = vec![0.0f32; d.c_out * d.c_in * 9];
    let mut db = vec![0.0f32; d.c_out];
    for b in 0..d.batch {
        for co in 0..d.c_out {
            let p = &partial[(b * d.c_out + co) * n..(b * d.c_out + co + 1) * n];
            for (t, v) in dw[co * d.c_in * 9..(co + 1) * d.c_in * 9]
                .iter_mut()
                .zip(&p[..n - 1])
            {
                *t += v;
            }
            db[co] += p[n - 1];
        }
    }
    (dw, db)
}

simd_dispatch!(grad_params_plane, fn(x: &[f32], winners: &[u8], g: &[f32], d: Dims, b: usize, co: usize, acc: &mut [f32]) {
    let (hp, wp) = d.pooled_hw();
    let plane = d.h * d.w;
    let image = &x[b * d.c_in * plane..(b + 1) * d.c_in * plane];
    let at = (b * d.c_out + co) * hp * wp;
    let (g, win) = (&g[at..at + hp * wp], &winners[at..at + hp * wp]);
    let (dw, db) = acc.split_at_mut(d.c_in * 9);
    for_each_winner(g, win, wp, |gv, y, x| {
        db[0] += gv;
        for ci in 0..d.c_in {
            let k = &mut dw[ci * 9..ci * 9 + 9];
            for ky in 0..3 {
                let r = ci * plane + (y + ky) * d.w + x;
                let row = &image[r..r + 3];
                k[ky * 3] += gv * row[0];
                k[ky * 3 + 1] += gv * row[1];
                k[ky * 3 + 2] += gv * row[2];
            }
        }
    });
});

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::Device;
    use burn::tensor::Tolerance;

    /// burn's own conv2d → relu → max_pool2d, for reference.
    fn reference(x: Tensor<4>, w: Tensor<4>, b: Tensor<1>) -> Tensor<4> {
        let [co, ci, _, _] = w.dims();
        let mut conv = Conv2dConfig::new([ci, co], [3, 3])
            .with_padding(PaddingConfig2d::Valid)
            .init(&w.device());
        conv.weight = Param::from_tensor(w);
        conv.bias = Some(Param::from_tensor(b));
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        pool.forward(burn::tensor::activation::relu(conv.forward(x)))
    }

    /// Uniform values in [-1, 1) from a local seeded generator (the device's generator is shared
    /// with tests running in parallel, so the same seed would not give the same values).
    fn random(shape: [usize; 4], seed: u64, dev: &Device) -> Tensor<4> {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        Tensor::from_data(TensorData::new(v, shape), dev)
    }

    fn close(a: Tensor<4>, b: Tensor<4>) {
        a.into_data()
            .assert_approx_eq::<f32>(&b.into_data(), Tolerance::absolute(1e-4));
    }

    #[test]
    fn forward_equals_burn_for_odd_and_even_sizes() {
        let dev = Device::flex();
        for (shape, co) in [([2, 3, 9, 9], 4), ([3, 2, 12, 7], 5), ([1, 4, 6, 6], 1)] {
            let x = random(shape, 1, &dev);
            let w = random([co, shape[1], 3, 3], 2, &dev);
            let b = random([1, 1, 1, co], 3, &dev).reshape([co]);
            let ours = conv_relu_pool(x.clone(), w.clone(), b.clone());
            assert_eq!(ours.dims()[2..], [(shape[2] - 2) / 2, (shape[3] - 2) / 2]);
            close(ours, reference(x, w, b));
        }
    }

    #[test]
    fn gradients_equal_burn_autodiff() {
        let dev = Device::flex().autodiff();
        // The last shape has long rows (the forward pass's vectorised part).
        for (shape, co) in [([2, 3, 11, 10], 4), ([3, 5, 8, 9], 2), ([2, 3, 41, 39], 3)] {
            let make = || {
                (
                    random(shape, 11, &dev).require_grad(),
                    random([co, shape[1], 3, 3], 12, &dev).require_grad(),
                    random([1, 1, 1, co], 13, &dev).reshape([co]).require_grad(),
                )
            };
            // A fixed random projection of the output, so every output gets its own gradient.
            let [b, _, h, w] = shape;
            let proj = random([b, co, (h - 2) / 2, (w - 2) / 2], 14, &dev);

            let (x1, w1, b1) = make();
            let g1 = conv_relu_pool(x1.clone(), w1.clone(), b1.clone())
                .mul(proj.clone())
                .sum()
                .backward();
            let (x2, w2, b2) = make();
            let g2 = reference(x2.clone(), w2.clone(), b2.clone())
                .mul(proj)
                .sum()
                .backward();

            close(x1.grad(&g1).unwrap(), x2.grad(&g2).unwrap());
            close(w1.grad(&g1).unwrap(), w2.grad(&g2).unwrap());
            b1.grad(&g1).unwrap().into_data().assert_approx_eq::<f32>(
                &b2.grad(&g2).unwrap().into_data(),
                Tolerance::absolute(1e-4),
            );
        }
    }

    #[test]
    fn untracked_input_gets_no_gradient_but_weights_do() {
        let dev = Device::flex().autodiff();
        let x = random([2, 3, 10, 10], 21, &dev);
        let w = random([4, 3, 3, 3], 22, &dev).require_grad();
        let b = Tensor::<1>::zeros([4], &dev).require_grad();
        let g = conv_relu_pool(x.clone(), w.clone(), b.clone())
            .sum()
            .backward();
        assert!(x.grad(&g).is_none());
        let dw = w.grad(&g).unwrap();
        assert!(dw.abs().sum().into_scalar::<f32>() > 0.0);
        // d(sum)/d(bias) counts the pooled outputs whose window had a positive maximum.
        let out = conv_relu_pool(x.inner(), w.inner(), b.clone().inner());
        let positive = out.greater_elem(0.0).int().sum_dim(3).sum_dim(2).sum_dim(0);
        b.grad(&g).unwrap().into_data().assert_approx_eq::<f32>(
            &positive.float().reshape([4]).into_data(),
            Tolerance::absolute(1e-6),
        );
    }

    #[test]
    fn nan_passes_through_instead_of_dying() {
        let dev = Device::flex();
        let x = random([1, 2, 8, 8], 31, &dev);
        let mut w = vec![0.1f32; 3 * 2 * 9];
        w[0] = f32::NAN;
        let w = Tensor::<4>::from_data(TensorData::new(w, [3, 2, 3, 3]), &dev);
        let out = conv_relu_pool(x, w, Tensor::zeros([3], &dev));
        let v = out.try_into_vec_as::<f32>().unwrap();
        // Channel 0 saw the NaN weight everywhere; the other channels are finite.
        assert!(v[..9].iter().all(|v| v.is_nan()), "{v:?}");
        assert!(v[9..].iter().all(|v| v.is_finite()), "{v:?}");
    }

    /// The portable build of the loops (used where AVX2/FMA are missing) agrees with the
    /// default one, forward and backward.
    #[test]
    fn portable_loops_agree_with_the_default_build() {
        let d = Dims {
            batch: 2,
            c_in: 3,
            h: 41,
            w: 39,
            c_out: 4,
        };
        let host = |n: usize, seed: u64| {
            use rand::{RngExt, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            (0..n)
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect::<Vec<_>>()
        };
        let (x, w, b) = (host(2 * 3 * 41 * 39, 1), host(4 * 3 * 9, 2), host(4, 3));
        let run = || {
            let (out, win) = forward(&x, &w, &b, d);
            let g = host(out.len(), 4);
            let dx = grad_input(&w, &win, &g, d);
            let (dw, db) = grad_params(&x, &win, &g, d);
            (out, win, dx, dw, db)
        };
        let fast = run();
        FORCE_PORTABLE.store(true, Ordering::Relaxed);
        let portable = run();
        FORCE_PORTABLE.store(false, Ordering::Relaxed);
        assert_eq!(fast.1, portable.1, "same winners");
        for (a, b) in [
            (&fast.0, &portable.0),
            (&fast.2, &portable.2),
            (&fast.3, &portable.3),
            (&fast.4, &portable.4),
        ] {
            assert_eq!(a.len(), b.len());
            for (u, v) in a.iter().zip(b.iter()) {
                assert!((u - v).abs() <= 1e-4 * (1.0 + v.abs()), "{u} vs {v}");
            }
        }
    }
}
