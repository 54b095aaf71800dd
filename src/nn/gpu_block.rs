//! One block of the paper network on the GPU as fused CubeCL kernels: 3×3 valid convolution +
//! bias → ReLU → 2×2 max-pooling (stride 2, floor), forward and backward, for M stacked
//! networks at once, plugged into burn as a backend extension of its cubecl backend (wgpu) and
//! of autodiff over it.
//!
//! Why it exists: on wgpu, burn 0.22 runs conv2d's weight gradient through its generic
//! convolution kernels, and the stacked im2col form ([`crate::stacked`]) trades that for a
//! 27×255×255 column tensor per image and a dozen kernel launches per layer. Here a block is one
//! kernel forward and at most three backward:
//! - forward: one thread per pooled output computes the four convolution values under its window
//!   and keeps one code per window (which of the four won, or none when the maximum was ≤ 0);
//! - input gradient: one thread per input value reads the (at most 2×2) windows whose winner it
//!   can have fed and gathers their gradients (no atomics);
//! - weight and bias gradients: each thread sums one weight's gradient over an interleaved share
//!   of the winning windows, and a second kernel adds the shares.
//!
//! No pre-pooling tensor exists at all. Layouts: input `[M, B, C, H, W]` (any strides), weights
//! `[M, F, C, 3, 3]`, bias `[M, F]`, output `[M, B, F, (H-2)/2, (W-2)/2]` (contiguous).
//! Results equal burn's conv2d → relu → max_pool2d per network within float rounding (tests
//! below, on whatever adapter is present, lavapipe included).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Autodiff, Backend, Cube, Dispatch, TensorMetadata, backend_extension};
use burn::tensor::{DType, Int, Shape, Tensor};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::calculate_cube_count_elemwise;
use cubecl::prelude::{CubeCount, CubeDim};

/// conv3×3 (valid) + bias → ReLU → max-pool 2×2 of M networks through the fused GPU kernels.
/// `x`: `[M, B, C, H, W]`; `weight`: `[M, F, C, 3, 3]`; `bias`: `[M, F]`; returns
/// `[M, B, F, (H-2)/2, (W-2)/2]`. Call only where `FusedPath::for_device` is `Gpu`; f32 only.
pub fn conv_relu_pool(x: Tensor<5>, weight: Tensor<5>, bias: Tensor<2>) -> Tensor<5> {
    Tensor::from_dispatch(<Dispatch as GpuBlockBackend>::gpu_conv_relu_pool(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// The backend extension: implemented for burn's cubecl backend and autodiff over it.
#[backend_extension(Cube, Autodiff)]
pub trait GpuBlockBackend: Backend {
    /// conv3×3 valid + bias → ReLU → max-pool 2×2 of M stacked networks.
    fn gpu_conv_relu_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl GpuBlockBackend for Cube {
    fn gpu_conv_relu_pool(x: CubeTensor, weight: CubeTensor, bias: CubeTensor) -> CubeTensor {
        forward(x, weight, bias, false).0
    }
}

/// The kernels (their own module: cubecl's `Tensor` is not burn's).
mod kernels {
    use cubecl::prelude::*;

    #[cube(launch_unchecked)]
    pub(super) fn forward_kernel(
        x: &Tensor<f32>,
        w: &Tensor<f32>,
        b: &Tensor<f32>,
        out: &mut Tensor<f32>,
        win: &mut Tensor<u32>,
        #[comptime] keep_winners: bool,
    ) {
        let pos = ABSOLUTE_POS;
        if pos >= out.len() {
            terminate!();
        }
        let wp = out.shape(4);
        let hp = out.shape(3);
        let f_n = out.shape(2);
        let b_n = out.shape(1);
        let px = pos % wp;
        let r = pos / wp;
        let py = r % hp;
        let r = r / hp;
        let f = r % f_n;
        let r = r / f_n;
        let bi = r % b_n;
        let m = r / b_n;

        let c_n = x.shape(2);
        let sy = x.stride(3);
        let sx = x.stride(4);
        let wsy = w.stride(3);
        let wsx = w.stride(4);
        let bias = b[m * b.stride(0) + f * b.stride(1)];
        let mut v00 = bias;
        let mut v01 = bias;
        let mut v10 = bias;
        let mut v11 = bias;
        let x_base = m * x.stride(0) + bi * x.stride(1) + 2 * py * sy + 2 * px * sx;
        let w_base = m * w.stride(0) + f * w.stride(1);
        for c in 0..c_n {
            let xc = x_base + c * x.stride(2);
            let wc = w_base + c * w.stride(2);
            for i in 0..3usize {
                for j in 0..3usize {
                    let wv = w[wc + i * wsy + j * wsx];
                    let o = xc + i * sy + j * sx;
                    v00 += wv * x[o];
                    v01 += wv * x[o + sx];
                    v10 += wv * x[o + sy];
                    v11 += wv * x[o + sy + sx];
                }
            }
        }
        // The first maximum in the order (0,0) (0,1) (1,0) (1,1), as burn's max_pool2d picks
        // it. A NaN wins and passes through, as on the CPU (`cpu_block`), so that a diverging
        // network shows up as a NaN loss instead of silently dead units.
        let mut best = v00;
        let mut code = 0u32;
        if v01.is_nan() || (v01 > best && !best.is_nan()) {
            best = v01;
            code = 1u32;
        }
        if v10.is_nan() || (v10 > best && !best.is_nan()) {
            best = v10;
            code = 2u32;
        }
        if v11.is_nan() || (v11 > best && !best.is_nan()) {
            best = v11;
            code = 3u32;
        }
        // Without a backward pass to come (inference), no codes are written.
        if best > 0.0f32 || best.is_nan() {
            out[pos] = best;
            if keep_winners {
                win[pos] = code;
            }
        } else {
            out[pos] = 0.0f32;
            // No winner: the maximum was ≤ 0, ReLU made it 0 and no gradient flows.
            if keep_winners {
                win[pos] = 4u32;
            }
        }
    }

    #[cube(launch_unchecked)]
    pub(super) fn grad_input_kernel(
        dy: &Tensor<f32>,
        win: &Tensor<u32>,
        w: &Tensor<f32>,
        dx: &mut Tensor<f32>,
    ) {
        let pos = ABSOLUTE_POS;
        if pos >= dx.len() {
            terminate!();
        }
        let w_n = dx.shape(4);
        let h_n = dx.shape(3);
        let c_n = dx.shape(2);
        let b_n = dx.shape(1);
        let xx = pos % w_n;
        let r = pos / w_n;
        let y = r % h_n;
        let r = r / h_n;
        let c = r % c_n;
        let r = r / c_n;
        let bi = r % b_n;
        let m = r / b_n;

        let f_n = win.shape(2);
        let hp = win.shape(3);
        let wp = win.shape(4);
        // The pooling windows whose 2×2 conv positions can lie in the 3×3 neighbourhood above
        // and left of (y, x): at most 2×2 of them. Each one's winner says which tap, if any.
        let py_lo = if y >= 2 { (y - 2) / 2 } else { 0usize };
        let mut py_hi = y / 2;
        if py_hi >= hp {
            py_hi = hp - 1;
        }
        let px_lo = if xx >= 2 { (xx - 2) / 2 } else { 0usize };
        let mut px_hi = xx / 2;
        if px_hi >= wp {
            px_hi = wp - 1;
        }
        let mut acc = 0.0f32;
        for f in 0..f_n {
            let w_base = m * w.stride(0) + f * w.stride(1) + c * w.stride(2);
            let q_base = ((m * b_n + bi) * f_n + f) * hp * wp;
            let d_base = m * dy.stride(0) + bi * dy.stride(1) + f * dy.stride(2);
            #[unroll]
            for dpy in 0..2usize {
                #[unroll]
                for dpx in 0..2usize {
                    let py = py_lo + dpy;
                    let px = px_lo + dpx;
                    let mut code = 4u32;
                    if py <= py_hi && px <= px_hi {
                        code = win[q_base + py * wp + px];
                    }
                    if code < 4u32 {
                        let oy = 2 * py + (code / 2u32) as usize;
                        let ox = 2 * px + (code % 2u32) as usize;
                        if oy <= y && y - oy <= 2 && ox <= xx && xx - ox <= 2 {
                            acc += dy[d_base + py * dy.stride(3) + px * dy.stride(4)]
                                * w[w_base + (y - oy) * w.stride(3) + (xx - ox) * w.stride(4)];
                        }
                    }
                }
            }
        }
        dx[pos] = acc;
    }

    /// Partial weight and bias gradients: `part` is `[M, F, 9C + 1, T]`; row `k < 9C` is weight
    /// `(k / 9, (k % 9) / 3, k % 3)`, row `9C` the bias. Thread (m, f, c, t) sums the nine
    /// weights of input channel c (and, for c = 0, the bias) over windows `t, t + T, …`, so the
    /// winner and gradient of a window are read once for nine weights.
    #[cube(launch_unchecked)]
    pub(super) fn grad_params_kernel(
        x: &Tensor<f32>,
        dy: &Tensor<f32>,
        win: &Tensor<u32>,
        part: &mut Tensor<f32>,
    ) {
        let pos = ABSOLUTE_POS;
        let t_n = part.shape(3);
        let rows = part.shape(2);
        let f_n = part.shape(1);
        let c_n = x.shape(2);
        if pos >= part.shape(0) * f_n * c_n * t_n {
            terminate!();
        }
        let t = pos % t_n;
        let r = pos / t_n;
        let c = r % c_n;
        let r = r / c_n;
        let f = r % f_n;
        let m = r / f_n;

        let b_n = win.shape(1);
        let hp = win.shape(3);
        let wp = win.shape(4);
        let total = b_n * hp * wp;
        let sy = x.stride(3);
        let sx = x.stride(4);
        let x_mc = m * x.stride(0) + c * x.stride(2);
        let d_mf = m * dy.stride(0) + f * dy.stride(2);
        let q_mf = m * b_n * f_n * hp * wp + f * hp * wp;
        let mut a0 = 0.0f32;
        let mut a1 = 0.0f32;
        let mut a2 = 0.0f32;
        let mut a3 = 0.0f32;
        let mut a4 = 0.0f32;
        let mut a5 = 0.0f32;
        let mut a6 = 0.0f32;
        let mut a7 = 0.0f32;
        let mut a8 = 0.0f32;
        let mut ab = 0.0f32;
        let mut p = t;
        while p < total {
            let px = p % wp;
            let rr = p / wp;
            let py = rr % hp;
            let bi = rr / hp;
            let code = win[q_mf + bi * f_n * hp * wp + py * wp + px];
            if code < 4u32 {
                let g = dy[d_mf + bi * dy.stride(1) + py * dy.stride(3) + px * dy.stride(4)];
                let oy = 2 * py + (code / 2u32) as usize;
                let ox = 2 * px + (code % 2u32) as usize;
                let o = x_mc + bi * x.stride(1) + oy * sy + ox * sx;
                a0 += g * x[o];
                a1 += g * x[o + sx];
                a2 += g * x[o + 2 * sx];
                a3 += g * x[o + sy];
                a4 += g * x[o + sy + sx];
                a5 += g * x[o + sy + 2 * sx];
                a6 += g * x[o + 2 * sy];
                a7 += g * x[o + 2 * sy + sx];
                a8 += g * x[o + 2 * sy + 2 * sx];
                ab += g;
            }
            p += t_n;
        }
        let row = (m * f_n + f) * rows + c * 9;
        part[(row) * t_n + t] = a0;
        part[(row + 1) * t_n + t] = a1;
        part[(row + 2) * t_n + t] = a2;
        part[(row + 3) * t_n + t] = a3;
        part[(row + 4) * t_n + t] = a4;
        part[(row + 5) * t_n + t] = a5;
        part[(row + 6) * t_n + t] = a6;
        part[(row + 7) * t_n + t] = a7;
        part[(row + 8) * t_n + t] = a8;
        if c == 0 {
            part[((m * f_n + f) * rows + rows - 1) * t_n + t] = ab;
        }
    }

    /// `out[i]` = byte i of `packed` (four per word, little-endian) / 255.
    #[cube(launch_unchecked)]
    pub(super) fn unpack_kernel(packed: &Tensor<i32>, out: &mut Tensor<f32>) {
        let pos = ABSOLUTE_POS;
        if pos >= out.len() {
            terminate!();
        }
        let word = packed[pos / 4];
        let shift = ((pos % 4) * 8) as i32;
        let byte = (word >> shift) & 255i32;
        out[pos] = f32::cast_from(byte) / 255.0f32;
    }

    /// Adds the shares of [`grad_params_kernel`]: `dw` `[M, F, C, 3, 3]` and `db` `[M, F]`.
    #[cube(launch_unchecked)]
    pub(super) fn sum_shares_kernel(
        part: &Tensor<f32>,
        dw: &mut Tensor<f32>,
        db: &mut Tensor<f32>,
    ) {
        let pos = ABSOLUTE_POS;
        let t_n = part.shape(3);
        let rows = part.shape(2);
        if pos >= part.len() / t_n {
            terminate!();
        }
        let mut acc = 0.0f32;
        let base = pos * t_n;
        for t in 0..t_n {
            acc += part[base + t];
        }
        let k = pos % rows;
        let mf = pos / rows;
        if k == rows - 1 {
            db[mf] = acc;
        } else {
            dw[mf * (rows - 1) + k] = acc;
        }
    }
}

use kernels::*;

/// Pixels in bytes (values 0–255, 4 per `i32` word, little-endian: `TensorData::from_bytes_vec`
/// of the bytes with dtype I32) as `[4 × words]` floats in [0, 1], unpacked on the GPU: the
/// stacked trainer uploads a quarter of the data and the host converts nothing. Call only where
/// `FusedPath::for_device` is `Gpu` for the tensor's device.
pub fn unpack_unit_bytes(packed: Tensor<1, Int>) -> Tensor<1> {
    Tensor::from_dispatch(<Dispatch as UnpackBackend>::unpack_unit_bytes(
        packed.without_autodiff().into_dispatch(),
    ))
}

/// The unpacking as a backend extension of the cubecl backend (no gradient: it is input data).
#[backend_extension(Cube)]
pub trait UnpackBackend: Backend {
    /// See [`unpack_unit_bytes`].
    fn unpack_unit_bytes(packed: IntTensor<Self>) -> FloatTensor<Self>;
}

impl UnpackBackend for Cube {
    fn unpack_unit_bytes(packed: CubeTensor) -> CubeTensor {
        assert_eq!(packed.dtype, DType::I32, "packed pixels are i32 words");
        let packed = into_contiguous(packed);
        let n = packed.shape().num_elements() * 4;
        let out = empty_like(&packed, Shape::new([n]), DType::F32);
        if n > 0 {
            let (count, dim) = launch_grid(&packed, n);
            // SAFETY: word pos / 4 exists for every pos < 4 × words.
            unsafe {
                unpack_kernel::launch_unchecked(
                    &packed.client,
                    count,
                    dim,
                    packed.clone().into_tensor_arg(),
                    out.clone().into_tensor_arg(),
                );
            }
        }
        out
    }
}

/// Shapes of one stacked block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Dims {
    m: usize,
    batch: usize,
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
}

impl Dims {
    fn of(x: &CubeTensor, weight: &CubeTensor, bias: &CubeTensor) -> Self {
        let xs = x.shape();
        let ws = weight.shape();
        let bs = bias.shape();
        assert!(
            xs.num_dims() == 5 && ws.num_dims() == 5 && bs.num_dims() == 2,
            "fused GPU block: input {xs:?}, weight {ws:?}, bias {bs:?} are not [M,B,C,H,W], \
             [M,F,C,3,3], [M,F]"
        );
        assert!(
            ws[0] == xs[0] && bs[0] == xs[0] && ws[2] == xs[2] && ws[3] == 3 && ws[4] == 3,
            "fused GPU block: input {xs:?} and weight {ws:?} do not fit a 3×3 convolution"
        );
        assert!(
            bs[1] == ws[1],
            "fused GPU block: bias {bs:?} does not fit weight {ws:?}"
        );
        assert!(
            xs[3] >= 4 && xs[4] >= 4,
            "fused GPU block: input {xs:?} is smaller than 4×4"
        );
        for t in [x, weight, bias] {
            assert_eq!(t.dtype, DType::F32, "the fused GPU block is f32 only");
        }
        // The kernels address with 32 bits; the stacked trainer's 1 GiB buffer cap keeps every
        // tensor far below this.
        assert!(
            xs.num_elements() < 1 << 31 && ws.num_elements() < 1 << 31,
            "fused GPU block: input {xs:?} is too large for 32-bit addressing"
        );
        Self {
            m: xs[0],
            batch: xs[1],
            c_in: xs[2],
            h: xs[3],
            w: xs[4],
            c_out: ws[1],
        }
    }

    fn out_shape(&self) -> Shape {
        Shape::new([
            self.m,
            self.batch,
            self.c_out,
            (self.h - 2) / 2,
            (self.w - 2) / 2,
        ])
    }

    /// Pooled windows per (network, filter).
    fn windows(&self) -> usize {
        self.batch * ((self.h - 2) / 2) * ((self.w - 2) / 2)
    }
}

fn launch_grid(client: &CubeTensor, n: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new(&client.client, n);
    (calculate_cube_count_elemwise(&client.client, n, dim), dim)
}

fn empty_like(of: &CubeTensor, shape: Shape, dtype: DType) -> CubeTensor {
    empty_device_contiguous_dtype(of.client.clone(), of.device.clone(), shape, dtype)
}

/// The forward pass: output, winner codes, and the (untiled) input and weights it read. Without
/// `keep_winners` (no backward to come) the codes are not written and a one-value placeholder
/// is returned in their place.
fn forward(
    x: CubeTensor,
    weight: CubeTensor,
    bias: CubeTensor,
    keep_winners: bool,
) -> (CubeTensor, CubeTensor, CubeTensor, CubeTensor, Dims) {
    let dims = Dims::of(&x, &weight, &bias);
    // Views keep their strides (the kernels index through them); storage-tiled buffers do not.
    let (x, weight, bias) = (readable(x), readable(weight), readable(bias));
    let out = empty_like(&x, dims.out_shape(), DType::F32);
    let win_shape = if keep_winners {
        dims.out_shape()
    } else {
        Shape::new([1])
    };
    let win = empty_like(&x, win_shape, DType::U32);
    let n = dims.out_shape().num_elements();
    if n > 0 {
        let (count, dim) = launch_grid(&x, n);
        // SAFETY: every index the kernel forms is within the shapes checked in `Dims::of`.
        unsafe {
            forward_kernel::launch_unchecked(
                &x.client,
                count,
                dim,
                x.clone().into_tensor_arg(),
                weight.clone().into_tensor_arg(),
                bias.into_tensor_arg(),
                out.clone().into_tensor_arg(),
                win.clone().into_tensor_arg(),
                keep_winners,
            );
        }
    }
    (out, win, x, weight, dims)
}

fn readable(t: CubeTensor) -> CubeTensor {
    if t.meta.is_tiled() {
        into_contiguous(t)
    } else {
        t
    }
}

/// Gradient of the block input.
fn grad_input(dy: &CubeTensor, win: &CubeTensor, weight: &CubeTensor, dims: Dims) -> CubeTensor {
    let shape = Shape::new([dims.m, dims.batch, dims.c_in, dims.h, dims.w]);
    let dx = empty_like(dy, shape.clone(), DType::F32);
    let n = shape.num_elements();
    if n > 0 {
        let (count, dim) = launch_grid(dy, n);
        // SAFETY: indices stay within the shapes checked in `Dims::of`.
        unsafe {
            grad_input_kernel::launch_unchecked(
                &dy.client,
                count,
                dim,
                dy.clone().into_tensor_arg(),
                win.clone().into_tensor_arg(),
                weight.clone().into_tensor_arg(),
                dx.clone().into_tensor_arg(),
            );
        }
    }
    dx
}

/// How many interleaved shares each weight gradient is split into: enough threads to fill a
/// large GPU (about 2^18 in all), at least 16 windows per share where there are that many, and
/// at most 1,024 shares, which the second kernel adds one by one.
fn shares(dims: Dims) -> usize {
    let threads_per_share = (dims.m * dims.c_out * dims.c_in).max(1);
    let by_fill = (1usize << 18).div_ceil(threads_per_share);
    by_fill.clamp(1, (dims.windows() / 16).max(1)).min(1024)
}

/// Gradients of the weights `[M, F, C, 3, 3]` and bias `[M, F]`.
fn grad_params(
    x: &CubeTensor,
    dy: &CubeTensor,
    win: &CubeTensor,
    dims: Dims,
) -> (CubeTensor, CubeTensor) {
    let rows = dims.c_in * 9 + 1;
    let t = shares(dims);
    let part = empty_like(dy, Shape::new([dims.m, dims.c_out, rows, t]), DType::F32);
    let dw = empty_like(
        dy,
        Shape::new([dims.m, dims.c_out, dims.c_in, 3, 3]),
        DType::F32,
    );
    let db = empty_like(dy, Shape::new([dims.m, dims.c_out]), DType::F32);
    let n = dims.m * dims.c_out * dims.c_in * t;
    if n > 0 {
        let (count, dim) = launch_grid(dy, n);
        let (count2, dim2) = launch_grid(dy, dims.m * dims.c_out * rows);
        // SAFETY: indices stay within the shapes checked in `Dims::of`.
        unsafe {
            grad_params_kernel::launch_unchecked(
                &dy.client,
                count,
                dim,
                x.clone().into_tensor_arg(),
                dy.clone().into_tensor_arg(),
                win.clone().into_tensor_arg(),
                part.clone().into_tensor_arg(),
            );
            sum_shares_kernel::launch_unchecked(
                &dy.client,
                count2,
                dim2,
                part.into_tensor_arg(),
                dw.clone().into_tensor_arg(),
                db.clone().into_tensor_arg(),
            );
        }
    }
    (dw, db)
}

/// Backward of the fused block. State: the input, the weights, the winner codes, the shapes.
#[derive(Debug)]
struct GpuBlockBackward;

impl Backward<Cube, 3> for GpuBlockBackward {
    type State = (CubeTensor, CubeTensor, CubeTensor, Dims);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = readable(grads.consume::<Cube>(&ops.node));
        let (x, w, win, dims) = ops.state;
        if let Some(node) = node_x {
            grads.register::<Cube>(node.id, grad_input(&dy, &win, &w, dims));
        }
        if node_w.is_some() || node_b.is_some() {
            let (dw, db) = grad_params(&x, &dy, &win, dims);
            if let Some(node) = node_w {
                grads.register::<Cube>(node.id, dw);
            }
            if let Some(node) = node_b {
                grads.register::<Cube>(node.id, db);
            }
        }
    }
}

impl<C: CheckpointStrategy> GpuBlockBackend for Autodiff<Cube, C> {
    fn gpu_conv_relu_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match GpuBlockBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, win, x, w, dims) = forward(
                    x.primitive().clone(),
                    weight.primitive().clone(),
                    bias.primitive().clone(),
                    true,
                );
                prep.finish((x, w, win, dims), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(<Cube as GpuBlockBackend>::gpu_conv_relu_pool(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            )),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::Device;
    use burn::tensor::{TensorData, activation};

    /// A GPU device (lavapipe counts), or `None` where there is none: the test then says so
    /// and passes, as CI (no Vulkan) does.
    pub(crate) fn gpu() -> Option<Device> {
        // Once per test binary: wgpu's runtime can be set up only once.
        static GPU: std::sync::OnceLock<Option<Device>> = std::sync::OnceLock::new();
        let got = GPU.get_or_init(|| {
            crate::backend::resolve(crate::backend::BackendChoice::Gpu)
                .map_err(|why| eprintln!("skipped: no GPU adapter ({why})"))
                .ok()
                .map(|b| b.device)
        });
        got.clone()
    }

    fn host(n: usize, seed: u64) -> Vec<f32> {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    fn tensor<const D: usize>(v: Vec<f32>, shape: [usize; D], dev: &Device) -> Tensor<D> {
        Tensor::from_data(TensorData::new(v, shape), dev)
    }

    fn close(what: &str, got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "{what}[{i}]: {g} vs {w}"
            );
        }
    }

    /// burn's conv2d → relu → max_pool2d for network `i` of the stack, on `dev`:
    /// `x` `[B, C, H, W]`, `w` `[F, C, 3, 3]`, `b` `[F]`.
    fn reference(x: Tensor<4>, w: Tensor<4>, b: Tensor<1>) -> Tensor<4> {
        let [f, c, _, _] = w.dims();
        let dev = x.device();
        let mut conv = Conv2dConfig::new([c, f], [3, 3])
            .with_padding(PaddingConfig2d::Valid)
            .init(&dev);
        conv.weight = Param::from_tensor(w);
        conv.bias = Some(Param::from_tensor(b));
        let pool = MaxPool2dConfig::new([2, 2]).init();
        pool.forward(activation::relu(conv.forward(x)))
    }

    /// Forward values and all three gradients of a stack of 2 networks equal burn's operations
    /// run network by network (on the CPU), for odd and even sizes.
    #[test]
    fn fused_gpu_block_matches_burns_layers_forward_and_backward() {
        let Some(gpu) = gpu() else { return };
        let cpu = Device::flex();
        for (m, bn, c, f, h, w) in [
            (2usize, 2usize, 3usize, 4usize, 11usize, 10usize),
            (1, 3, 2, 3, 8, 9),
        ] {
            let xs = host(m * bn * c * h * w, 1);
            let ws = host(m * f * c * 9, 2);
            let bs = host(m * f, 3);
            let (hp, wp) = ((h - 2) / 2, (w - 2) / 2);
            let gs = host(m * bn * f * hp * wp, 4);

            // The fused kernels, with autodiff, on the GPU.
            let ad = gpu.clone().autodiff();
            let x = tensor(xs.clone(), [m, bn, c, h, w], &ad).require_grad();
            let wt = tensor(ws.clone(), [m, f, c, 3, 3], &ad).require_grad();
            let bt = tensor(bs.clone(), [m, f], &ad).require_grad();
            let y = conv_relu_pool(x.clone(), wt.clone(), bt.clone());
            assert_eq!(y.dims(), [m, bn, f, hp, wp]);
            let loss = y
                .clone()
                .mul(tensor(gs.clone(), [m, bn, f, hp, wp], &ad))
                .sum();
            let grads = loss.backward();
            let got_y = y.try_into_vec_as::<f32>().unwrap();
            let got_dx = x.grad(&grads).unwrap().try_into_vec_as::<f32>().unwrap();
            let got_dw = wt.grad(&grads).unwrap().try_into_vec_as::<f32>().unwrap();
            let got_db = bt.grad(&grads).unwrap().try_into_vec_as::<f32>().unwrap();

            // burn's layers, network by network, on the CPU.
            let ad = cpu.clone().autodiff();
            let (per_x, per_w, per_y) = (bn * c * h * w, f * c * 9, bn * f * hp * wp);
            let (mut want_y, mut want_dx, mut want_dw, mut want_db) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for i in 0..m {
                let x = tensor(xs[i * per_x..(i + 1) * per_x].to_vec(), [bn, c, h, w], &ad)
                    .require_grad();
                let wt = tensor(ws[i * per_w..(i + 1) * per_w].to_vec(), [f, c, 3, 3], &ad)
                    .require_grad();
                let bt = tensor(bs[i * f..(i + 1) * f].to_vec(), [f], &ad).require_grad();
                let y = reference(x.clone(), wt.clone(), bt.clone());
                let g = tensor(
                    gs[i * per_y..(i + 1) * per_y].to_vec(),
                    [bn, f, hp, wp],
                    &ad,
                );
                let grads = y.clone().mul(g).sum().backward();
                want_y.extend(y.try_into_vec_as::<f32>().unwrap());
                want_dx.extend(x.grad(&grads).unwrap().try_into_vec_as::<f32>().unwrap());
                want_dw.extend(wt.grad(&grads).unwrap().try_into_vec_as::<f32>().unwrap());
                want_db.extend(bt.grad(&grads).unwrap().try_into_vec_as::<f32>().unwrap());
            }
            close("forward", &got_y, &want_y, 1e-4);
            close("input gradient", &got_dx, &want_dx, 1e-4);
            close("weight gradient", &got_dw, &want_dw, 1e-4);
            close("bias gradient", &got_db, &want_db, 1e-4);
            assert!(
                got_dw.iter().any(|v| v.abs() > 1e-3),
                "gradients are not all zero"
            );
        }
    }

    /// A block whose output fills a buffer of the device's limit ([`crate::nn::stacked::
    /// buffer_limit`], the size stacks are planned for; lavapipe: 128 MiB) runs, and its forward
    /// values and input gradient equal the CPU block's everywhere.
    #[test]
    fn a_block_at_the_devices_buffer_limit_equals_the_cpu_block() {
        let Some(gpu) = gpu() else { return };
        let limit = crate::nn::stacked::buffer_limit(&gpu);
        // One image, one channel, 8 filters: the output, 8 × hp² floats, is the largest buffer
        // (twice the input's size); capped at 128 MiB to keep the CPU reference quick.
        let (c, f) = (1usize, 8usize);
        let hp = ((limit.min(1 << 27) / (4 * f)) as f64).sqrt() as usize;
        let h = 2 * hp + 2;
        // Eighths: every convolution value is exact in f32 whatever the order of the sums, so
        // among 33 M windows no near-tie can pick a different winner on the two devices (exact
        // ties, frequent here, go to the first maximum on both).
        let eighths = |n, seed| -> Vec<f32> {
            host(n, seed)
                .iter()
                .map(|v| (v * 8.0).round() / 8.0)
                .collect()
        };
        let xs = eighths(c * h * h, 11);
        let ws = eighths(f * c * 9, 12);
        let bs = eighths(f, 13);
        let gs = host(f * hp * hp, 14);
        let run = |dev: &Device, gpu: bool| {
            let ad = dev.clone().autodiff();
            let x = tensor(xs.clone(), [1, c, h, h], &ad).require_grad();
            let wt = tensor(ws.clone(), [f, c, 3, 3], &ad).require_grad();
            let bt = tensor(bs.clone(), [f], &ad).require_grad();
            let y = if gpu {
                conv_relu_pool(
                    x.clone().unsqueeze_dim(0),
                    wt.clone().unsqueeze_dim(0),
                    bt.clone().unsqueeze_dim(0),
                )
                .squeeze_dim::<4>(0)
            } else {
                crate::nn::cpu_block::conv_relu_pool(x.clone(), wt.clone(), bt.clone())
            };
            let grads = y
                .clone()
                .mul(tensor(gs.clone(), [1, f, hp, hp], &ad))
                .sum()
                .backward();
            (
                y.try_into_vec_as::<f32>().unwrap(),
                x.grad(&grads).unwrap().try_into_vec_as::<f32>().unwrap(),
            )
        };
        let (got_y, got_dx) = run(&gpu, true);
        let (want_y, want_dx) = run(&Device::flex(), false);
        close("forward", &got_y, &want_y, 1e-4);
        close("input gradient", &got_dx, &want_dx, 1e-4);
        assert!(got_dx[got_dx.len() - 3 * h..].iter().any(|&v| v != 0.0));
    }

    /// A strided view as input (the stacked network passes one) reads the same values as its
    /// contiguous copy.
    #[test]
    fn fused_gpu_block_reads_strided_views() {
        let Some(gpu) = gpu() else { return };
        let (m, bn, c, f, h) = (2usize, 3usize, 2usize, 3usize, 9usize);
        let xs = host(m * c * bn * h * h, 5);
        // [M, C, B, H, W] swapped to [M, B, C, H, W] without copying.
        let view = tensor(xs, [m, c, bn, h, h], &gpu).swap_dims(1, 2);
        let copy = tensor(
            view.clone().try_into_vec_as::<f32>().unwrap(),
            [m, bn, c, h, h],
            &gpu,
        );
        let w = tensor(host(m * f * c * 9, 6), [m, f, c, 3, 3], &gpu);
        let b = tensor(host(m * f, 7), [m, f], &gpu);
        let a = conv_relu_pool(view, w.clone(), b.clone())
            .try_into_vec_as::<f32>()
            .unwrap();
        let want = conv_relu_pool(copy, w, b).try_into_vec_as::<f32>().unwrap();
        close("strided", &a, &want, 1e-6);
    }

    /// The stacked network trained on the GPU (fused kernels) ends with the same weights as
    /// on the CPU through im2col, including a padded short batch.
    #[test]
    fn stacked_training_on_the_gpu_equals_the_cpu() {
        use crate::nn::FusedPath;
        use crate::nn::stacked::tests::{close, images, train_stack};
        let Some(gpu) = gpu() else { return };
        let (m, steps, batch) = (2usize, 2usize, 2usize);
        let real = [2usize, 1];
        let data: Vec<Vec<Vec<f32>>> = (0..m)
            .map(|i| (0..steps).map(|s| images(10 * i + s, batch)).collect())
            .collect();
        let on_gpu = train_stack(&data, &real, 1e-3, FusedPath::Gpu, &gpu);
        let on_cpu = train_stack(&data, &real, 1e-3, FusedPath::None, &Device::flex());
        for i in 0..m {
            close(&on_gpu[i], &on_cpu[i], 2e-4);
        }
    }

    /// One network (the single-model path of `PaperCnn`) trains on the GPU as on the CPU.
    #[test]
    fn one_network_trains_on_the_gpu_as_on_the_cpu() {
        use crate::nn::stacked::tests::{S, close, images};
        use crate::nn::{ModelSpec, PaperCnn};
        use burn::optim::{GradientsParams, RmsPropConfig};
        use burn::tensor::Int;
        let Some(gpu) = gpu() else { return };
        let spec = ModelSpec {
            input_size: S as u32,
            n_classes: 2,
        };
        let run = |dev: &Device| {
            let ad = dev.clone().autodiff();
            let mut net = PaperCnn::new(spec, 3, &ad).unwrap();
            let mut optim = RmsPropConfig::new().init();
            for s in 0..2 {
                let x = tensor(images(s, 3), [3, 3, S, S], &ad);
                let y = Tensor::<1, Int>::from_data(
                    TensorData::new(vec![0i64, 1, s as i64 % 2], [3]),
                    &ad,
                );
                let loss = burn::nn::loss::CrossEntropyLossConfig::new()
                    .init(&ad)
                    .forward(net.forward(x), y);
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = optim.step(1e-3, net, grads);
            }
            net.parameters()
        };
        close(&run(&gpu), &run(&Device::flex()), 2e-4);
    }

    /// Bytes packed four to a word come back as value / 255, in order, on the GPU.
    #[test]
    fn packed_bytes_unpack_to_unit_floats() {
        let Some(gpu) = gpu() else { return };
        let bytes: Vec<u8> = (0..4 * 1001).map(|i| ((i * 37 + 11) % 256) as u8).collect();
        let packed = Tensor::<1, Int>::from_data(
            TensorData::from_bytes_vec(bytes.clone(), [bytes.len() / 4], DType::I32),
            &gpu,
        );
        let got = unpack_unit_bytes(packed).try_into_vec_as::<f32>().unwrap();
        let want: Vec<f32> = bytes.iter().map(|&b| b as f32 / 255.0).collect();
        close("unpacked", &got, &want, 1e-6);
        assert!(got.contains(&1.0) && got.contains(&0.0));
    }

    /// A NaN weight makes its filter's outputs NaN (not silently 0), and only that filter's.
    #[test]
    fn nan_passes_through_the_gpu_block() {
        let Some(gpu) = gpu() else { return };
        let (c, f, h) = (2usize, 3usize, 8usize);
        let x = tensor(host(c * h * h, 8), [1, 1, c, h, h], &gpu);
        let mut ws = host(f * c * 9, 9);
        ws[0] = f32::NAN;
        let w = tensor(ws, [1, f, c, 3, 3], &gpu);
        let b = tensor(host(f, 10), [1, f], &gpu);
        let v = conv_relu_pool(x, w, b).try_into_vec_as::<f32>().unwrap();
        let per = ((h - 2) / 2) * ((h - 2) / 2);
        assert!(v[..per].iter().all(|v| v.is_nan()), "{v:?}");
        assert!(v[per..].iter().all(|v| v.is_finite()), "{v:?}");
    }
}
