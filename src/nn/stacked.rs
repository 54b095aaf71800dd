//! M independent paper networks computed as one stacked network, so that the many small
//! trainings of a sweep fill a GPU together.
//!
//! Every layer is batched over the M networks: activations are `[M, C, B, H, W]`, each 3×3
//! convolution is im2col + a batched matrix product with that network's own `[F, 9C]` weights
//! (see [`conv3x3`]), pooling works per (network, channel) plane, and the two dense layers are
//! batched matrix products `[M, B, F] × [M, F, O]`, so no value of one network ever touches
//! another. The loss is the sum of the M per-model mean losses, so the
//! gradient of every model's parameters is exactly the gradient it would get alone, and because
//! RMSprop and Adam are element-wise, an optimiser step on the stack is M independent steps.
//! Samples can be masked out (weight 0) to pad a model's short last batch; the mean is taken
//! over the real samples only.

use burn::module::{Module, Param};
use burn::nn::Relu;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData, activation};

use crate::nn::{FILTERS, FusedPath, ModelSpec, PaperCnn};

/// M paper networks as one. Activations are kept channel-major, `[M, C, B, H, W]`, so that a
/// 3×3 valid convolution is nine shifted views stacked into `[M, 9C, B·H'·W']` (im2col) and one
/// batched matrix product with the `[M, F, 9C]` weights, with no transposition anywhere. Its
/// gradients are matrix products and slice copies, which every backend runs fast (burn's own
/// conv2d weight gradient on wgpu is ~100× slower than its forward pass; see ARCHITECTURE.md).
#[derive(Module, Debug)]
pub struct StackedCnn {
    /// Per conv layer `[M, F, 9C]`, columns ordered (channel, row, column) as burn's
    /// `[F, C, 3, 3]` weights flatten.
    pub conv_w: Vec<Param<Tensor<3>>>,
    /// Per conv layer `[M, F, 1]`.
    pub conv_b: Vec<Param<Tensor<3>>>,
    /// `[M, flat, 32]`
    pub w1: Param<Tensor<3>>,
    /// `[M, 1, 32]`
    pub b1: Param<Tensor<3>>,
    /// `[M, 32, classes]`
    pub w2: Param<Tensor<3>>,
    /// `[M, 1, classes]`
    pub b2: Param<Tensor<3>>,
    pub pool: MaxPool2d,
    pub act: Relu,
}

/// Columns per matrix-product chunk in [`conv3x3`] (a divisor of the column count near this).
const CHUNK: usize = 4096;

/// The divisor of `k` closest to [`CHUNK`] on a log scale.
fn chunk_len(k: usize) -> usize {
    // The benchmark sweeps the chunk size through this variable.
    let target = std::env::var("LEUKOLENS_CONV_CHUNK")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&c| c > 0)
        .unwrap_or(CHUNK);
    let mut best = k.max(1);
    let score = |d: usize| ((d as f64) / target as f64).ln().abs();
    let mut d = 1;
    while d * d <= k {
        if k.is_multiple_of(d) {
            for c in [d, k / d] {
                if score(c) < score(best) {
                    best = c;
                }
            }
        }
        d += 1;
    }
    best
}

/// 3×3 valid convolution of `x` `[M, C, B, H, W]` with `w` `[M, F, 9C]` and `b` `[M, F, 1]`
/// as im2col + batched matrix product; returns `[M, F, B, H-2, W-2]`.
///
/// The B·H'·W' columns are cut into chunks of about [`CHUNK`] and each chunk is its own matrix
/// product with the (broadcast) weights. The weight gradient is then a sum of many short
/// products instead of one product with a reduction over millions of columns, which GPU matrix
/// kernels (no split-K) run on a handful of cores.
pub fn conv3x3(x: Tensor<5>, w: Tensor<3>, b: Tensor<3>) -> Tensor<5> {
    conv3x3_im2col(x, w, b)
}

/// [`conv3x3`] as im2col + chunked batched matrix products.
pub fn conv3x3_im2col(x: Tensor<5>, w: Tensor<3>, b: Tensor<3>) -> Tensor<5> {
    let [m, c, n, h, wd] = x.dims();
    let (h2, w2) = (h - 2, wd - 2);
    let mut shifts = Vec::with_capacity(9);
    for i in 0..3 {
        for j in 0..3 {
            shifts.push(x.clone().slice([0..m, 0..c, 0..n, i..i + h2, j..j + w2]));
        }
    }
    // [M, C, 9, B, H', W'] -> [M, 9C, K] without moving data.
    let cols: Tensor<6> = Tensor::stack(shifts, 2);
    let k = n * h2 * w2;
    let len = chunk_len(k);
    let s = k / len;
    let cols = cols.reshape([m, c * 9, s, len]).swap_dims(1, 2);
    let f = w.dims()[1];
    // The weights are repeated for every chunk by a product with a column of ones rather than
    // by broadcasting: the gradient of a broadcast is a sum over the broadcast axis, which
    // burn-cubecl 0.22 runs as a strided reduction (42 ms for [1, 508, 4, 27] on an H100),
    // while the gradient of this product is one more (fast) matrix product.
    let ones = Tensor::<3>::ones([m, s, 1], &w.device());
    let w_rep = ones
        .matmul(w.reshape([m, 1, f * c * 9]))
        .reshape([m, s, f, c * 9]);
    let out: Tensor<4> = w_rep.matmul(cols);
    out.swap_dims(1, 2)
        .reshape([m, f, n, h2, w2])
        .add(b.reshape([m, f, 1, 1, 1]))
}

/// Bytes of the largest tensor a training step of `m` stacked networks at `batch` images each
/// and input side `side` creates: the first layer's im2col columns, or with a fused block
/// ([`FusedPath`]) the input itself.
pub fn largest_tensor_bytes(m: usize, batch: usize, side: usize, fused: bool) -> usize {
    if fused {
        return m * 3 * batch * side * side * 4;
    }
    let s = side.saturating_sub(2);
    m * 27 * batch * s * s * 4
}

/// Largest single GPU buffer the stacked trainer plans for. Larger buffers fail on some drivers
/// (burn then computes garbage with only a log warning), so stacks are cut to stay below.
pub const MAX_TENSOR_BYTES: usize = 1 << 30;

/// The largest single buffer to plan for on `device`: [`MAX_TENSOR_BYTES`], or less where the
/// device allocates less at once (lavapipe: 128 MiB; a larger request fails when the step runs).
pub fn buffer_limit(device: &Device) -> usize {
    #[allow(unused_mut)]
    let mut limit = MAX_TENSOR_BYTES;
    #[cfg(feature = "gpu")]
    if let burn::backend::DispatchDevice::Cube(d) = device.clone().without_autodiff().as_dispatch()
    {
        let most = d.client().properties().memory.max_page_size;
        limit = limit.min(usize::try_from(most).unwrap_or(usize::MAX));
    }
    #[cfg(not(feature = "gpu"))]
    let _ = device;
    limit
}

/// Most networks in one stack, whatever the memory allows: a stack trains as long as its
/// longest run, so very large stacks mostly wait for their last member.
pub const MAX_STACK: usize = 256;

/// How many networks fit in one stack at this batch and input size, with no buffer over
/// `limit` bytes ([`buffer_limit`]).
pub fn max_stack(batch: usize, side: usize, fused: bool, limit: usize) -> usize {
    let per = largest_tensor_bytes(1, batch.max(1), side, fused).max(1);
    (limit / per).clamp(1, MAX_STACK)
}

impl StackedCnn {
    /// Stacks networks of the same shape (their weights are copied, on `device`).
    pub fn from_models(models: &[PaperCnn], device: &Device) -> Result<Self, String> {
        let Some(first) = models.first() else {
            return Err("no networks to stack".into());
        };
        if models.iter().any(|x| {
            x.dense.weight.dims() != first.dense.weight.dims()
                || x.out.weight.dims() != first.out.weight.dims()
        }) {
            return Err("only networks of the same input size and classes can be stacked".into());
        }
        let mut conv_w = Vec::with_capacity(FILTERS.len());
        let mut conv_b = Vec::with_capacity(FILTERS.len());
        let mut c_in = 3;
        for (l, &f) in FILTERS.iter().enumerate() {
            let w: Vec<Tensor<2>> = models
                .iter()
                .map(|x| x.blocks[l].conv.weight.val().reshape([f, c_in * 9]))
                .collect();
            conv_w.push(param(Tensor::stack(w, 0), device));
            let b: Vec<Tensor<2>> = models
                .iter()
                .map(|x| {
                    x.blocks[l]
                        .conv
                        .bias
                        .as_ref()
                        .map(|b| b.val())
                        .unwrap_or_else(|| Tensor::zeros([f], &x.dense.weight.device()))
                        .reshape([f, 1])
                })
                .collect();
            conv_b.push(param(Tensor::stack(b, 0), device));
            c_in = f;
        }
        let stack_w = |get: &dyn Fn(&PaperCnn) -> Tensor<2>| -> Tensor<3> {
            Tensor::stack(models.iter().map(get).collect(), 0)
        };
        let stack_b = |get: &dyn Fn(&PaperCnn) -> Tensor<1>| -> Tensor<3> {
            let b: Tensor<2> = Tensor::stack(models.iter().map(get).collect(), 0);
            b.unsqueeze_dim(1)
        };
        let bias = |l: &burn::nn::Linear| {
            l.bias
                .as_ref()
                .map(|b| b.val())
                .unwrap_or_else(|| Tensor::zeros([l.weight.dims()[1]], &l.weight.device()))
        };
        Ok(Self {
            conv_w,
            conv_b,
            w1: param(stack_w(&|x| x.dense.weight.val()), device),
            b1: param(stack_b(&|x| bias(&x.dense)), device),
            w2: param(stack_w(&|x| x.out.weight.val()), device),
            b2: param(stack_b(&|x| bias(&x.out)), device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            act: Relu::new(),
        })
    }

    /// Number of stacked networks.
    pub fn len(&self) -> usize {
        self.w1.dims()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Class scores `[M, B, classes]` for input `[M, 3, B, S, S]` (see [`stack_input`]).
    pub fn forward(&self, x: Tensor<5>) -> Tensor<3> {
        let hidden = self.hidden(x);
        hidden.matmul(self.w2.val()).add(self.b2.val())
    }

    /// The 32-d last hidden layers `[M, B, 32]`. With a fused block for the device
    /// ([`FusedPath`]) the activations are kept image-major, `[M, B, C, H, W]`, and each block
    /// is one fused operation; otherwise im2col ([`conv3x3`]) and burn's relu and pooling.
    pub fn hidden(&self, x: Tensor<5>) -> Tensor<3> {
        let path = FusedPath::for_device(&x.device());
        self.hidden_with(x, path)
    }

    /// [`Self::hidden`] through the given path (`FusedPath::None`: im2col; a fused path must
    /// fit the tensors' device). Tests compare the paths through this.
    pub fn hidden_with(&self, x: Tensor<5>, path: FusedPath) -> Tensor<3> {
        match path {
            FusedPath::None => self.hidden_im2col(x),
            path => self.hidden_fused(x, path),
        }
    }

    /// [`Self::forward`] through the given path (see [`Self::hidden_with`]).
    pub fn forward_with(&self, x: Tensor<5>, path: FusedPath) -> Tensor<3> {
        let hidden = self.hidden_with(x, path);
        hidden.matmul(self.w2.val()).add(self.b2.val())
    }

    fn hidden_fused(&self, x: Tensor<5>, path: FusedPath) -> Tensor<3> {
        // [M, C, B, H, W] -> [M, B, C, H, W], a view (the GPU kernels read through strides).
        let mut x = x.swap_dims(1, 2);
        for (w, b) in self.conv_w.iter().zip(&self.conv_b) {
            let [m, f, k] = w.dims();
            let w = w.val().reshape([m, f, k / 9, 3, 3]);
            let b = b.val().reshape([m, f]);
            x = match path {
                #[cfg(feature = "gpu")]
                FusedPath::Gpu => crate::nn::gpu_block::conv_relu_pool(x, w, b),
                // The CPU kernel is per network: one call per network of the stack.
                _ => {
                    let outs: Vec<Tensor<5>> = (0..m)
                        .map(|i| {
                            let [_, n, c, h, wd] = x.dims();
                            crate::nn::cpu_block::conv_relu_pool(
                                x.clone().narrow(0, i, 1).reshape([n, c, h, wd]),
                                w.clone().narrow(0, i, 1).reshape([f, c, 3, 3]),
                                b.clone().narrow(0, i, 1).reshape([f]),
                            )
                            .unsqueeze_dim(0)
                        })
                        .collect();
                    Tensor::cat(outs, 0)
                }
            };
        }
        let [m, n, c, h, w] = x.dims();
        // Already in per-image (channel, row, column) order.
        let flat = x.reshape([m, n, c * h * w]);
        self.act
            .forward(flat.matmul(self.w1.val()).add(self.b1.val()))
    }

    fn hidden_im2col(&self, x: Tensor<5>) -> Tensor<3> {
        let mut x = x;
        for (w, b) in self.conv_w.iter().zip(&self.conv_b) {
            let y = self.act.forward(conv3x3(x, w.val(), b.val()));
            // Pooling treats [M·F, B] planes independently, exactly as per-image pooling.
            let [m, f, n, h, wd] = y.dims();
            let p = self.pool.forward(y.reshape([m * f, n, h, wd]));
            let [_, _, h2, w2] = p.dims();
            x = p.reshape([m, f, n, h2, w2]);
        }
        let [m, c, n, h, w] = x.dims();
        // Flatten per image in (channel, row, column) order, as the paper network does.
        let flat = x.swap_dims(1, 2).reshape([m, n, c * h * w]);
        self.act
            .forward(flat.matmul(self.w1.val()).add(self.b1.val()))
    }

    /// Networks `idx` (in that order) as a new stack without autodiff, copied on the device.
    pub fn subset(&self, idx: &[usize]) -> Self {
        let dev = self.w1.val().device().without_autodiff();
        let ids = Tensor::<1, Int>::from_data(
            TensorData::new(
                idx.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                [idx.len()],
            ),
            &dev,
        );
        self.with_tensors(
            self.tensors()
                .into_iter()
                .map(|t| t.without_autodiff().select(0, ids.clone()))
                .collect(),
        )
    }

    /// This stack with network i's weights replaced by `other`'s where `take[i]` (stacks of the
    /// same shape; the result has no autodiff). The selection is exact: no arithmetic.
    pub fn take_where(&self, other: &Self, take: &[bool]) -> Self {
        let dev = self.w1.val().device().without_autodiff();
        let m = take.len();
        let mask = Tensor::<1, Bool>::from_data(TensorData::new(take.to_vec(), [m]), &dev);
        let tensors = self
            .tensors()
            .into_iter()
            .zip(other.tensors())
            .map(|(mine, theirs)| {
                let shape = mine.dims();
                let mask = mask.clone().reshape([m, 1, 1]).expand(shape);
                mine.without_autodiff()
                    .mask_where(mask, theirs.without_autodiff())
            })
            .collect();
        self.with_tensors(tensors)
    }

    /// Every parameter's tensor, in a fixed order: convolution weights, convolution biases,
    /// then the dense layers.
    pub(crate) fn tensors(&self) -> Vec<Tensor<3>> {
        let mut out: Vec<Tensor<3>> = self.conv_w.iter().map(|p| p.val()).collect();
        out.extend(self.conv_b.iter().map(|p| p.val()));
        out.extend([self.w1.val(), self.b1.val(), self.w2.val(), self.b2.val()]);
        out
    }

    /// A stack with these tensors (in the order of [`Self::tensors`]) as its parameters.
    pub(crate) fn with_tensors(&self, tensors: Vec<Tensor<3>>) -> Self {
        let l = self.conv_w.len();
        assert_eq!(tensors.len(), 2 * l + 4, "one tensor per parameter");
        let mut it = tensors.into_iter().map(Param::from_tensor);
        let conv_w = it.by_ref().take(l).collect();
        let conv_b = it.by_ref().take(l).collect();
        let mut next = || it.next().expect("one tensor per parameter");
        Self {
            conv_w,
            conv_b,
            w1: next(),
            b1: next(),
            w2: next(),
            b2: next(),
            pool: self.pool.clone(),
            act: self.act.clone(),
        }
    }

    /// Network `i` as a stand-alone paper network (weights copied).
    pub fn model(&self, i: usize, spec: ModelSpec, device: &Device) -> Result<PaperCnn, String> {
        if i >= self.len() {
            return Err(format!("network {i} is not in a stack of {}", self.len()));
        }
        let mut net = PaperCnn::new(spec, 0, device)?;
        let mut c_in = 3;
        for (l, &f) in FILTERS.iter().enumerate() {
            let dst = &mut net.blocks[l].conv;
            let w = self.conv_w[l]
                .val()
                .narrow(0, i, 1)
                .reshape([f, c_in, 3, 3]);
            dst.weight = param(w, device);
            let b = self.conv_b[l].val().narrow(0, i, 1).reshape([f]);
            dst.bias = Some(param(b, device));
            c_in = f;
        }
        let pick3 = |t: Tensor<3>| -> Tensor<2> {
            let [_, a, b] = t.dims();
            t.narrow(0, i, 1).reshape([a, b])
        };
        let pick_b = |t: Tensor<3>| -> Tensor<1> {
            let [_, _, b] = t.dims();
            t.narrow(0, i, 1).reshape([b])
        };
        net.dense = burn::nn::Linear {
            weight: param(pick3(self.w1.val()), device),
            bias: Some(param(pick_b(self.b1.val()), device)),
        };
        net.out = burn::nn::Linear {
            weight: param(pick3(self.w2.val()), device),
            bias: Some(param(pick_b(self.b2.val()), device)),
        };
        Ok(net)
    }
}

/// A trainable parameter on `device` holding the values of `t` (which may live elsewhere).
fn param<const D: usize>(t: Tensor<D>, device: &Device) -> Param<Tensor<D>> {
    Param::from_data(t.into_data(), device)
}

/// Sum over the M networks of each network's mean cross-entropy over its real samples.
/// `logits` `[M, B, C]`, `targets` `[M, B]`, `weights` `[M, B]` (1 for a real sample, 0 for
/// padding). A network whose row has no real sample contributes nothing.
pub fn stacked_loss(logits: Tensor<3>, targets: Tensor<2, Int>, weights: Tensor<2>) -> Tensor<1> {
    stacked_losses(logits, targets, weights).sum()
}

/// Each network's mean cross-entropy over its real samples, `[M]` (0 for a network without
/// real samples).
pub fn stacked_losses(logits: Tensor<3>, targets: Tensor<2, Int>, weights: Tensor<2>) -> Tensor<1> {
    let [m, b, _] = logits.dims();
    let logp = activation::log_softmax(logits, 2);
    let picked: Tensor<2> = logp.gather(2, targets.unsqueeze_dim(2)).reshape([m, b]);
    let count = weights.clone().sum_dim(1).clamp_min(1.0);
    picked.mul(weights).sum_dim(1).div(count).reshape([m]).neg()
}

/// Host-side helper: arranges per-network batches into the stacked input layout
/// `[M, 3, B, S, S]`. `images[m]` holds network m's batch as `[B, 3, S, S]` values (missing
/// samples at the end are zero padding).
pub fn stack_input(images: &[Vec<f32>], batch: usize, side: usize, device: &Device) -> Tensor<5> {
    let m = images.len();
    let plane = side * side;
    let mut out = vec![0f32; m * 3 * batch * plane];
    for (mi, img) in images.iter().enumerate() {
        for b in 0..batch {
            for c in 0..3 {
                let from = (b * 3 + c) * plane;
                if from + plane > img.len() {
                    continue;
                }
                let to = ((mi * 3 + c) * batch + b) * plane;
                out[to..to + plane].copy_from_slice(&img[from..from + plane]);
            }
        }
    }
    Tensor::from_data(TensorData::new(out, [m, 3, batch, side, side]), device)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::optim::{GradientsParams, RmsPropConfig};

    pub(crate) const S: usize = 190;

    fn spec() -> ModelSpec {
        ModelSpec {
            input_size: S as u32,
            n_classes: 2,
        }
    }

    pub(crate) fn images(seed: usize, n: usize) -> Vec<f32> {
        (0..n * 3 * S * S)
            .map(|i| ((i * 7919 + seed * 104_729) % 251) as f32 / 251.0)
            .collect()
    }

    pub(crate) fn close(a: &[Vec<f32>], b: &[Vec<f32>], tol: f32) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x.len(), y.len());
            for (p, q) in x.iter().zip(y) {
                assert!((p - q).abs() <= tol * (1.0 + p.abs()), "{p} vs {q}");
            }
        }
    }

    fn labels(i: usize, s: usize, b: usize) -> i64 {
        ((i + s + b) % 2) as i64
    }

    /// Trains a stack of `data.len()` networks (seeds 7, 8, …) with RMSprop on `device`, one
    /// step per batch of `data[i]`; in the last step network i has `real[i]` real samples.
    /// Returns each network's parameters (on the CPU).
    pub(crate) fn train_stack(
        data: &[Vec<Vec<f32>>],
        real: &[usize],
        lr: f64,
        path: FusedPath,
        device: &Device,
    ) -> Vec<Vec<Vec<f32>>> {
        let m = data.len();
        let steps = data[0].len();
        let batch = data[0][0].len() / (3 * S * S);
        let ad = device.clone().autodiff();
        let nets: Vec<PaperCnn> = (0..m)
            .map(|i| PaperCnn::new(spec(), i as u64 + 7, device).unwrap())
            .collect();
        let mut stack = StackedCnn::from_models(&nets, &ad).unwrap();
        let mut optim = RmsPropConfig::new().init();
        for s in 0..steps {
            let per: Vec<Vec<f32>> = data.iter().map(|d| d[s].clone()).collect();
            let x = stack_input(&per, batch, S, &ad);
            let mut y = Vec::new();
            let mut w = Vec::new();
            for (i, &r) in real.iter().enumerate() {
                let n = if s + 1 == steps { r } else { batch };
                for b in 0..batch {
                    y.push(labels(i, s, b));
                    w.push(if b < n { 1f32 } else { 0.0 });
                }
            }
            let y = Tensor::<2, Int>::from_data(TensorData::new(y, [m, batch]), &ad);
            let w = Tensor::<2>::from_data(TensorData::new(w, [m, batch]), &ad);
            let loss = stacked_loss(stack.forward_with(x, path), y, w);
            let grads = GradientsParams::from_grads(loss.backward(), &stack);
            stack = optim.step(lr, stack, grads);
        }
        let cpu = Device::flex();
        (0..m)
            .map(|i| stack.model(i, spec(), &cpu).unwrap().parameters())
            .collect()
    }

    /// Stacks are sized to the largest buffer the device allocates: on a GPU a buffer of
    /// `buffer_limit` bytes exists and reads back (a limit above the device's would fail here, as
    /// lavapipe's 128 MiB did for a 1 GiB plan), and the stack count follows the limit.
    #[test]
    fn stacks_are_sized_to_the_devices_largest_buffer() {
        assert_eq!(buffer_limit(&Device::flex()), MAX_TENSOR_BYTES);
        // The fused input of one paper network at batch 5: 3 × 5 × 257² floats = 3,962,940 B.
        assert_eq!(largest_tensor_bytes(1, 5, 257, true), 3_962_940);
        assert_eq!(max_stack(5, 257, true, 1 << 30), MAX_STACK); // 270 fit
        assert_eq!(max_stack(5, 257, true, 1 << 27), 33);
        assert_eq!(max_stack(5, 257, false, 1 << 30), 30); // 27 × 5 × 255² floats each
        assert_eq!(max_stack(5, 257, true, 1000), 1);
        #[cfg(feature = "gpu")]
        if let Some(gpu) = crate::nn::gpu_block::tests::gpu() {
            let limit = buffer_limit(&gpu);
            assert!(limit <= MAX_TENSOR_BYTES);
            let n = limit / 4;
            let total = Tensor::<1>::ones([n], &gpu)
                .sum()
                .try_into_scalar::<f32>()
                .expect("a buffer of the planned size");
            assert!(
                (total - n as f32).abs() <= n as f32 * 1e-3,
                "{total} vs {n}"
            );
        }
    }

    #[test]
    fn im2col_convolution_agrees_with_burns_conv() {
        use burn::nn::PaddingConfig2d;
        use burn::nn::conv::Conv2dConfig;
        let dev = Device::flex();
        let (c, f, n, h) = (3, 4, 2, 9);
        let conv = Conv2dConfig::new([c, f], [3, 3])
            .with_padding(PaddingConfig2d::Valid)
            .init(&dev);
        let xs: Vec<f32> = (0..n * c * h * h)
            .map(|i| ((i * 37) % 19) as f32 / 19.0)
            .collect();
        let x4 = Tensor::<4>::from_data(TensorData::new(xs, [n, c, h, h]), &dev);
        let want = conv.forward(x4.clone()).try_into_vec_as::<f32>().unwrap();
        let x5 = x4.swap_dims(0, 1).unsqueeze_dim::<5>(0);
        let w = conv.weight.val().reshape([1, f, c * 9]);
        let b = conv.bias.as_ref().unwrap().val().reshape([1, f, 1]);
        // [1, F, B, H', W'] -> [B, F, H', W'] like burn's output.
        let got = conv3x3(x5, w, b)
            .reshape([f, n, h - 2, h - 2])
            .swap_dims(0, 1)
            .try_into_vec_as::<f32>()
            .unwrap();
        close(std::slice::from_ref(&want), &[got], 1e-5);
    }

    #[test]
    fn chunks_divide_the_column_count() {
        for k in [
            1usize,
            7,
            4096,
            5 * 255 * 255,
            32 * 255 * 255,
            5 * 197 * 197,
            97,
        ] {
            let l = chunk_len(k);
            assert_eq!(k % l, 0, "{k}");
        }
        assert_eq!(chunk_len(4096 * 10), 4096);
        assert_eq!(chunk_len(97), 97);
    }

    #[test]
    fn stacking_and_unstacking_is_lossless_and_forward_matches() {
        let dev = Device::flex();
        let nets: Vec<PaperCnn> = (0..3)
            .map(|s| PaperCnn::new(spec(), s, &dev).unwrap())
            .collect();
        let stack = StackedCnn::from_models(&nets, &dev).unwrap();
        assert_eq!(stack.len(), 3);
        for (i, n) in nets.iter().enumerate() {
            assert_eq!(
                stack.model(i, spec(), &dev).unwrap().parameters(),
                n.parameters()
            );
        }
        let imgs: Vec<Vec<f32>> = (0..3).map(|i| images(i, 2)).collect();
        for path in [FusedPath::None, FusedPath::Cpu] {
            let out = stack
                .forward_with(stack_input(&imgs, 2, S, &dev), path)
                .try_into_vec_as::<f32>()
                .unwrap();
            for (i, n) in nets.iter().enumerate() {
                let x =
                    Tensor::<4>::from_data(TensorData::new(imgs[i].clone(), [2, 3, S, S]), &dev);
                let alone = n.forward(x).try_into_vec_as::<f32>().unwrap();
                close(&[out[i * 4..i * 4 + 4].to_vec()], &[alone], 1e-4);
            }
        }
    }

    /// The proof: a stack trained for a few RMSprop steps ends with the same weights as
    /// each network trained alone on the same batches, including a padded short batch.
    #[test]
    fn stacked_training_equals_one_at_a_time() {
        let dev = Device::flex();
        let ad = dev.clone().autodiff();
        let m = 3;
        let batch = 3;
        let steps = 3;
        // Network i has `real[i]` samples in the last step (the rest is padding).
        let real = [3usize, 2, 1];
        let data: Vec<Vec<Vec<f32>>> = (0..m)
            .map(|i| (0..steps).map(|s| images(10 * i + s, batch)).collect())
            .collect();
        let lr = 1e-3;

        // Alone.
        let mut alone = Vec::new();
        for (i, net_data) in data.iter().enumerate() {
            let mut net = PaperCnn::new(spec(), i as u64 + 7, &ad).unwrap();
            let mut optim = RmsPropConfig::new().init();
            let ce = CrossEntropyLossConfig::new().init(&ad);
            for (s, batch_data) in net_data.iter().enumerate() {
                let n = if s + 1 == steps { real[i] } else { batch };
                let x = Tensor::<4>::from_data(
                    TensorData::new(batch_data[..n * 3 * S * S].to_vec(), [n, 3, S, S]),
                    &ad,
                );
                let y = Tensor::<1, Int>::from_data(
                    TensorData::new((0..n).map(|b| labels(i, s, b)).collect::<Vec<_>>(), [n]),
                    &ad,
                );
                let loss = ce.forward(net.forward(x), y);
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = optim.step(lr, net, grads);
            }
            alone.push(net.parameters());
        }

        // Stacked, through im2col and through the fused CPU blocks.
        for path in [FusedPath::None, FusedPath::Cpu] {
            let unstacked = train_stack(&data, &real, lr, path, &dev);
            for (i, a) in alone.iter().enumerate() {
                close(a, &unstacked[i], 2e-4);
                // And the steps really moved the weights.
                let fresh = PaperCnn::new(spec(), i as u64 + 7, &dev)
                    .unwrap()
                    .parameters();
                assert!(
                    fresh
                        .iter()
                        .zip(&unstacked[i])
                        .any(|(x, y)| x.iter().zip(y).any(|(p, q)| (p - q).abs() > 1e-5)),
                    "training changed nothing"
                );
            }
        }
    }

    /// `subset` picks networks by index and `take_where` swaps in another stack's networks,
    /// both exactly.
    #[test]
    fn subsets_and_masked_merges_pick_whole_networks() {
        let dev = Device::flex();
        let nets: Vec<PaperCnn> = (0..3)
            .map(|s| PaperCnn::new(spec(), s, &dev).unwrap())
            .collect();
        let others: Vec<PaperCnn> = (10..13)
            .map(|s| PaperCnn::new(spec(), s, &dev).unwrap())
            .collect();
        let a = StackedCnn::from_models(&nets, &dev).unwrap();
        let b = StackedCnn::from_models(&others, &dev).unwrap();
        let sub = a.subset(&[2, 0]);
        assert_eq!(sub.len(), 2);
        assert_eq!(
            sub.model(0, spec(), &dev).unwrap().parameters(),
            nets[2].parameters()
        );
        assert_eq!(
            sub.model(1, spec(), &dev).unwrap().parameters(),
            nets[0].parameters()
        );
        let merged = a.take_where(&b, &[false, true, false]);
        assert_eq!(
            merged.model(0, spec(), &dev).unwrap().parameters(),
            nets[0].parameters()
        );
        assert_eq!(
            merged.model(1, spec(), &dev).unwrap().parameters(),
            others[1].parameters()
        );
        assert_eq!(
            merged.model(2, spec(), &dev).unwrap().parameters(),
            nets[2].parameters()
        );
    }
}
