//! Benchmarks printed by `leukolens bench` (never asserted in tests).

use std::time::{Duration, Instant};

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, RmsPropConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::backend::{self, BackendChoice};
use crate::nn::{Block, FusedPath, ModelSpec, PaperCnn};

/// Prints training and inference images/s of the paper network at batch 5 and 32 on synthetic
/// input, the first (cold) step separately from the steady state.
pub fn train_throughput(choice: BackendChoice, size: u32, seconds: f64) -> Result<(), String> {
    let b = backend::resolve(choice)?;
    println!("device: {}", b.description);
    for n in &b.notes {
        println!("note: {n}");
    }
    println!("paper network, {size}×{size} px, 2 classes, RMSprop, synthetic data");
    let budget = Duration::from_secs_f64(seconds.max(0.1));
    let path = FusedPath::for_device(&b.device);
    match path {
        FusedPath::Cpu => {
            println!("each conv block runs as one fused CPU operation (src/nn/cpu_block.rs)")
        }
        FusedPath::Gpu => {
            println!("each conv block runs as fused GPU kernels (src/nn/gpu_block.rs)")
        }
        FusedPath::None => {}
    }
    let mut train = Vec::new();
    for batch in [5usize, 32] {
        let (cold, rate) = train_rate(&b.device, size, batch, budget, path)?;
        println!(
            "train  batch {batch:>3}: {rate:>8.1} images/s  (first step {:.2} s)",
            cold.as_secs_f64()
        );
        train.push((batch, rate));
    }
    if path.is_fused() {
        // The same step with burn's own conv2d, relu and max_pool2d, for comparison.
        let burn_ops = train_rate(&b.device, size, 5, budget, FusedPath::None)?;
        println!(
            "train  batch   5: {:>8.1} images/s  with burn's own conv2d/relu/max_pool2d instead",
            burn_ops.1
        );
    }
    for batch in [5usize, 32] {
        let (cold, rate) = infer_rate(&b.device, size, batch, budget)?;
        println!(
            "infer  batch {batch:>3}: {rate:>8.1} images/s  (first batch {:.2} s)",
            cold.as_secs_f64()
        );
    }
    // The PyTorch twin on the same machine, in the same run, for the ratio.
    let device = torch_device(b.kind);
    for (batch, rate) in train {
        match torch_twin(device, size, batch, seconds) {
            Some(t) => println!(
                "PyTorch twin train batch {batch:>3}: {t:>8.1} images/s → leukolens/PyTorch = {:.2}",
                rate / t
            ),
            None => {
                println!("PyTorch twin: not run (no python3 with torch here, or it failed)");
                break;
            }
        }
    }
    Ok(())
}

fn synthetic(batch: usize, size: u32, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let s = size as usize;
    let n = batch * 3 * s * s;
    let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 255) as f32 / 255.0).collect();
    let y: Vec<i64> = (0..batch).map(|i| (i % 2) as i64).collect();
    (
        Tensor::from_data(TensorData::new(x, [batch, 3, s, s]), device),
        Tensor::from_data(TensorData::new(y, [batch]), device),
    )
}

/// Training images/s of one paper network at `batch`, its conv blocks run through `path`.
fn train_rate(
    device: &Device,
    size: u32,
    batch: usize,
    budget: Duration,
    path: FusedPath,
) -> Result<(Duration, f64), String> {
    let ad = device.clone().autodiff();
    let spec = ModelSpec {
        input_size: size,
        n_classes: 2,
    };
    let model = PaperCnn::new(spec, 1, &ad)?;
    let mut optim = RmsPropConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let (x, y) = synthetic(batch, size, &ad);
    let step = |model: PaperCnn| -> Result<PaperCnn, String> {
        let loss = loss_fn.forward(model.forward_with(x.clone(), path), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let m = optim.step(1e-3, model, grads);
        device.sync().map_err(|e| format!("{e:?}"))?;
        Ok(m)
    };
    let t = timed(model, budget, step)?;
    Ok((t.cold, (t.calls * batch) as f64 / t.seconds))
}

/// How long the first (cold) call of a step took, and how many later calls ran in how long.
struct Timing {
    cold: Duration,
    calls: usize,
    seconds: f64,
}

/// Calls `step` once (cold), then again until `budget` has passed, at least twice; each call
/// takes the state the previous one returned.
fn timed<S>(
    state: S,
    budget: Duration,
    mut step: impl FnMut(S) -> Result<S, String>,
) -> Result<Timing, String> {
    let t0 = Instant::now();
    let mut state = step(state)?;
    let cold = t0.elapsed();
    let t1 = Instant::now();
    let mut calls = 0usize;
    while t1.elapsed() < budget || calls < 2 {
        state = step(state)?;
        calls += 1;
    }
    Ok(Timing {
        cold,
        calls,
        seconds: t1.elapsed().as_secs_f64(),
    })
}

fn infer_rate(
    device: &Device,
    size: u32,
    batch: usize,
    budget: Duration,
) -> Result<(Duration, f64), String> {
    let spec = ModelSpec {
        input_size: size,
        n_classes: 2,
    };
    let model = PaperCnn::new(spec, 1, device)?;
    let (x, _) = synthetic(batch, size, device);
    let run = |()| -> Result<(), String> {
        let out = model.forward(x.clone());
        out.try_into_vec_as::<f32>().map_err(|e| format!("{e:?}"))?;
        Ok(())
    };
    let t = timed((), budget, run)?;
    Ok((t.cold, (t.calls * batch) as f64 / t.seconds))
}

/// Training images/s of M paper networks trained together as one stacked network
/// (see [`crate::stacked`]), RMSprop, `batch` images per network per step.
pub fn stack_throughput(
    choice: BackendChoice,
    size: u32,
    batch: usize,
    stacks: &[usize],
    seconds: f64,
) -> Result<(), String> {
    let b = backend::resolve(choice)?;
    println!("device: {}", b.description);
    println!(
        "stacked paper networks, {size}×{size} px, 2 classes, RMSprop, batch {batch} per network"
    );
    let budget = Duration::from_secs_f64(seconds.max(0.1));
    let spec = ModelSpec {
        input_size: size,
        n_classes: 2,
    };
    let side = size as usize;
    let path = FusedPath::for_device(&b.device);
    let limit = crate::nn::stacked::buffer_limit(&b.device);
    let cap = crate::nn::stacked::max_stack(batch, side, path.is_fused(), limit);
    println!(
        "largest buffer planned: {} MiB on this device, so at most {cap} networks per stack",
        limit >> 20
    );
    let mut best = 0f64;
    for &m in stacks {
        if m > cap {
            println!(
                "stack {m:>4}: skipped (over the cap of {cap} networks per stack: every buffer under {} MiB, at most {})",
                limit >> 20,
                crate::nn::stacked::MAX_STACK
            );
            continue;
        }
        let r = measure_stack(&b.device, spec, m, batch, budget, path)?;
        println!(
            "stack {m:>4}: {:>9.1} images/s  {:>8.1} ms/step  (first step {:.2} s; mean loss per network {:.4})",
            r.rate, r.ms_per_step, r.cold, r.loss
        );
        best = best.max(r.rate);
    }
    // The largest measured stack again through im2col and burn's relu/pooling, for comparison.
    if let Some(&m) = stacks
        .iter()
        .filter(|&&m| m <= crate::nn::stacked::max_stack(batch, side, false, limit))
        .max()
        .filter(|_| path.is_fused())
    {
        match measure_stack(&b.device, spec, m, batch, budget, FusedPath::None) {
            Ok(r) => println!(
                "stack {m:>4}: {:>9.1} images/s  {:>8.1} ms/step  with im2col and burn's relu/max_pool2d instead of the fused blocks",
                r.rate, r.ms_per_step
            ),
            Err(e) => println!("stack {m:>4}: im2col comparison failed: {e}"),
        }
    }
    host_feed_rate(side, batch);
    // The PyTorch twin on the same machine, in the same run, for the ratio.
    let device = torch_device(b.kind);
    if b.kind == backend::BackendKind::Cpu {
        println!(
            "note: on the CPU a stack runs the fused block network by network; sweeps use one network per worker (bench sweep)"
        );
    }
    match torch_twin(device, size, batch, seconds) {
        Some(t) => println!(
            "PyTorch twin, one model at a time, batch {batch}: {t:.1} images/s → leukolens/PyTorch = {:.2}",
            best / t
        ),
        None => println!("PyTorch twin: not run (no python3 with torch here, or it failed)"),
    }
    Ok(())
}

struct StackRate {
    rate: f64,
    ms_per_step: f64,
    cold: f64,
    loss: f32,
}

/// Training images/s of a stack of `m` networks on `device` over `budget`, its conv blocks run
/// through `path` (im2col for [`FusedPath::None`]).
fn measure_stack(
    device: &Device,
    spec: ModelSpec,
    m: usize,
    batch: usize,
    budget: Duration,
    path: FusedPath,
) -> Result<StackRate, String> {
    use crate::nn::stacked::{StackedCnn, stack_input, stacked_loss};
    let side = spec.input_size as usize;
    let ad = device.clone().autodiff();
    let nets: Vec<PaperCnn> = (0..m)
        .map(|i| PaperCnn::new(spec, i as u64, device))
        .collect::<Result<_, _>>()?;
    let stack = StackedCnn::from_models(&nets, &ad)?;
    let per: Vec<Vec<f32>> = (0..m)
        .map(|i| {
            (0..batch * 3 * side * side)
                .map(|j| ((j * 7919 + i * 31) % 255) as f32 / 255.0)
                .collect()
        })
        .collect();
    let x = stack_input(&per, batch, side, &ad);
    let y = Tensor::<2, Int>::from_data(
        TensorData::new(
            (0..m * batch).map(|i| (i % 2) as i64).collect::<Vec<_>>(),
            [m, batch],
        ),
        &ad,
    );
    let w = Tensor::<2>::ones([m, batch], &ad);
    let mut optim = RmsPropConfig::new().init();
    let mut last_loss = f32::NAN;
    let mut step = |s: StackedCnn| -> Result<StackedCnn, String> {
        let loss = stacked_loss(s.forward_with(x.clone(), path), y.clone(), w.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &s);
        let s = optim.step(1e-3, s, grads);
        device.sync().map_err(|e| format!("{e:?}"))?;
        last_loss = loss
            .try_into_vec_as::<f32>()
            .map_err(|e| format!("{e:?}"))?[0];
        Ok(s)
    };
    let t = timed(stack, budget, &mut step)?;
    Ok(StackRate {
        rate: (t.calls * batch * m) as f64 / t.seconds,
        ms_per_step: 1e3 * t.seconds / t.calls as f64,
        cold: t.cold.as_secs_f64(),
        loss: last_loss / m as f32,
    })
}

/// Prints how fast the host prepares stacked batches as the GPU trainer does (random flips and
/// rotation into one image-major byte buffer, on rayon's pool): the most images/s a stacked
/// sweep can train, whatever the device.
fn host_feed_rate(side: usize, batch: usize) {
    use crate::train::{AugmentParams, augment_into};
    use rand::SeedableRng;
    use rayon::prelude::*;
    let per_image = 3 * side * side;
    let n = 64 * batch;
    let src: Vec<u8> = (0..per_image).map(|i| (i % 251) as u8).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let params: Vec<AugmentParams> = (0..n).map(|_| AugmentParams::random(&mut rng)).collect();
    let mut buf = vec![0u8; n * per_image];
    let mut fill = || {
        buf.par_chunks_mut(per_image)
            .zip(params.par_iter())
            .for_each(|(dst, &p)| augment_into(&src, dst, 3, side, p));
    };
    fill();
    let t = Instant::now();
    let reps = 3;
    for _ in 0..reps {
        fill();
    }
    let rate = (reps * n) as f64 / t.elapsed().as_secs_f64();
    println!(
        "host: augmenting a batch into bytes runs at {rate:.0} images/s on {} threads (the most a stacked sweep can train)",
        rayon::current_num_threads()
    );
}

/// The twin's `--device` for a backend kind.
fn torch_device(kind: backend::BackendKind) -> &'static str {
    match kind {
        backend::BackendKind::Gpu => "cuda",
        backend::BackendKind::Cpu => "cpu",
    }
}

/// Runs `benches/torch_twin.py` (training at `batch` only) and returns its images/s, or `None`
/// when python3 or torch is missing.
pub fn torch_twin(device: &str, size: u32, batch: usize, seconds: f64) -> Option<f64> {
    let script = [
        std::path::PathBuf::from("benches/torch_twin.py"),
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/torch_twin.py"),
    ]
    .into_iter()
    .find(|p| p.is_file())?;
    let out = std::process::Command::new("python3")
        .arg(&script)
        .args(["--device", device, "--size", &size.to_string()])
        .args([
            "--seconds",
            &seconds.to_string(),
            "--batches",
            &batch.to_string(),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("train") && l.contains("images/s"))?;
    line.split(':')
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Time of every layer's convolution forward and backward (input and weight gradients) at
/// `batch`, to find where training time goes on a backend.
pub fn op_profile(
    choice: BackendChoice,
    size: u32,
    batch: usize,
    reps: usize,
    blocks: usize,
) -> Result<(), String> {
    let b = backend::resolve(choice)?;
    println!("device: {}", b.description);
    println!(
        "per-layer conv timings, batch {batch}, {size}×{size} px, mean of {reps} after 1 warm-up"
    );
    let ad = b.device.clone().autodiff();
    let net = PaperCnn::new(
        ModelSpec {
            input_size: size,
            n_classes: 2,
        },
        1,
        &ad,
    )?;
    let path = FusedPath::for_device(&b.device);
    let mut side = size as usize;
    let mut c_in = 3;
    for (l, blk) in net.blocks.iter().enumerate().take(blocks) {
        let layer = LayerBench::new(blk, l, [batch, c_in, side], reps, &b.device);
        layer.print_burn_and_im2col()?;
        if path == FusedPath::Cpu {
            layer.print_fused_cpu()?;
        }
        #[cfg(feature = "gpu")]
        if path == FusedPath::Gpu {
            layer.print_fused_gpu()?;
        }
        side = (side - 2) / 2;
        c_in = layer.f;
    }
    Ok(())
}

/// One conv block of the paper network with synthetic input, timed in each of its forms for
/// [`op_profile`].
struct LayerBench<'a> {
    blk: &'a Block,
    /// 0-based block index.
    l: usize,
    batch: usize,
    c_in: usize,
    /// Filters of the block.
    f: usize,
    side: usize,
    reps: usize,
    device: &'a Device,
    /// The input without autodiff.
    x0: Tensor<4>,
    /// The input on the autodiff device.
    x_ad: Tensor<4>,
}

impl<'a> LayerBench<'a> {
    /// Block `l` with an input of `[batch, c_in, side, side]` synthetic values.
    fn new(
        blk: &'a Block,
        l: usize,
        [batch, c_in, side]: [usize; 3],
        reps: usize,
        device: &'a Device,
    ) -> Self {
        let n = batch * c_in * side * side;
        let data: Vec<f32> = (0..n).map(|i| (i % 97) as f32 / 97.0).collect();
        let shape = [batch, c_in, side, side];
        let x0 = Tensor::<4>::from_data(TensorData::new(data.clone(), shape), device);
        let ad = device.clone().autodiff();
        let x_ad = Tensor::<4>::from_data(TensorData::new(data, shape), &ad);
        Self {
            blk,
            l,
            batch,
            c_in,
            f: crate::nn::FILTERS[l],
            side,
            reps,
            device,
            x0,
            x_ad,
        }
    }

    /// Mean milliseconds of `f` over `reps` calls after one warm-up call.
    fn time(&self, f: &mut dyn FnMut() -> Result<(), String>) -> Result<f64, String> {
        f()?;
        let t = Instant::now();
        for _ in 0..self.reps {
            f()?;
        }
        Ok(1e3 * t.elapsed().as_secs_f64() / self.reps as f64)
    }

    /// Waits for the device to finish its queued work.
    fn sync(&self) -> Result<(), String> {
        self.device.sync().map_err(|e| format!("{e:?}"))
    }

    /// `x` as training sees it: the first layer's input needs no gradient, later ones do.
    fn tracked<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        if self.l == 0 { x } else { x.require_grad() }
    }

    /// Prints burn's conv2d → relu → max_pool2d forward and backward, and the same layer as
    /// im2col + matrix product (what the stacked trainer uses without a fused block).
    fn print_burn_and_im2col(&self) -> Result<(), String> {
        use burn::module::Module;
        let blk = self.blk;
        let conv_plain = blk.conv.clone().valid();
        let fwd = self.time(&mut || {
            let _ = conv_plain.forward(self.x0.clone());
            self.sync()
        })?;
        let fwd_pool = self.time(&mut || {
            let _ = blk
                .pool
                .forward(blk.act.forward(conv_plain.forward(self.x0.clone())));
            self.sync()
        })?;
        let full = self.time(&mut || {
            let x = self.tracked(self.x_ad.clone());
            let y = blk.pool.forward(blk.act.forward(blk.conv.forward(x)));
            let _g = y.sum().backward();
            self.sync()
        })?;
        let conv_only = self.time(&mut || {
            let x = self.tracked(self.x_ad.clone());
            let _g = blk.conv.forward(x).sum().backward();
            self.sync()
        })?;
        let relu_pool = self.relu_pool_time()?;
        let [im2col_fwd, im2col_conv, im2col] = self.im2col_times()?;
        let (l, c_in, f, side) = (self.l, self.c_in, self.f, self.side);
        println!(
            "block {} conv {c_in:>2}→{f:>2} on {side:>3}²: burn conv fwd {fwd:>7.2} ms, +relu+pool {fwd_pool:>7.2} ms, fwd+bwd {full:>8.2} ms (conv alone {conv_only:>8.2}, relu+pool alone {relu_pool:>8.2}); im2col fwd {im2col_fwd:>7.2} ms, conv fwd+bwd {im2col_conv:>7.2} ms, block fwd+bwd {im2col:>8.2} ms",
            l + 1
        );
        Ok(())
    }

    /// burn's relu → max_pool2d alone, forward and backward, on a synthetic conv output.
    fn relu_pool_time(&self) -> Result<f64, String> {
        let (batch, f, s) = (self.batch, self.f, self.side - 2);
        let y_ad = Tensor::<4>::from_data(
            TensorData::new(
                (0..batch * f * s * s)
                    .map(|i| (i % 89) as f32 / 89.0 - 0.3)
                    .collect::<Vec<_>>(),
                [batch, f, s, s],
            ),
            &self.x_ad.device(),
        );
        self.time(&mut || {
            let y = y_ad.clone().require_grad();
            let _g = self
                .blk
                .pool
                .forward(self.blk.act.forward(y))
                .sum()
                .backward();
            self.sync()
        })
    }

    /// The layer as im2col + matrix product: [forward, conv forward+backward, block
    /// forward+backward] in ms.
    fn im2col_times(&self) -> Result<[f64; 3], String> {
        use crate::nn::stacked::conv3x3;
        let (f, c_in, blk) = (self.f, self.c_in, self.blk);
        let ad = self.x_ad.device();
        let w = burn::module::Param::from_data(
            TensorData::new(vec![0.01f32; f * c_in * 9], [1, f, c_in * 9]),
            &ad,
        );
        let bias = burn::module::Param::from_data(TensorData::new(vec![0f32; f], [1, f, 1]), &ad);
        let x5 = self.x_ad.clone().swap_dims(0, 1).unsqueeze_dim::<5>(0);
        let block = self.time(&mut || {
            let x = self.tracked(x5.clone());
            let y = blk.act.forward(conv3x3(x, w.val(), bias.val()));
            let [m, ff, n, h, wd] = y.dims();
            let y = blk.pool.forward(y.reshape([m * ff, n, h, wd]));
            let _g = y.sum().backward();
            self.sync()
        })?;
        let fwd = self.time(&mut || {
            let _ = conv3x3(x5.clone().inner(), w.val().inner(), bias.val().inner());
            self.sync()
        })?;
        let conv = self.time(&mut || {
            let x = self.tracked(x5.clone());
            let _g = conv3x3(x, w.val(), bias.val()).sum().backward();
            self.sync()
        })?;
        Ok([fwd, conv, block])
    }

    /// Prints the fused CPU block's forward and forward+backward.
    fn print_fused_cpu(&self) -> Result<(), String> {
        use crate::nn::cpu_block::conv_relu_pool;
        let conv = &self.blk.conv;
        let weight = conv.weight.val();
        let bias = conv
            .bias
            .as_ref()
            .map(|p| p.val())
            .ok_or("the network's convolutions have no bias")?;
        let fused_fwd = self.time(&mut || {
            let _ = conv_relu_pool(
                self.x0.clone(),
                weight.clone().inner(),
                bias.clone().inner(),
            );
            self.sync()
        })?;
        let fused = self.time(&mut || {
            let x = self.tracked(self.x_ad.clone());
            let y = conv_relu_pool(x, weight.clone(), bias.clone());
            let _g = y.sum().backward();
            self.sync()
        })?;
        println!(
            "        fused CPU block (conv+relu+pool): fwd {fused_fwd:>7.2} ms, fwd+bwd {fused:>8.2} ms"
        );
        Ok(())
    }

    /// Prints the fused GPU block's forward and forward+backward.
    #[cfg(feature = "gpu")]
    fn print_fused_gpu(&self) -> Result<(), String> {
        use crate::nn::gpu_block::conv_relu_pool;
        let conv = &self.blk.conv;
        let bias = conv
            .bias
            .as_ref()
            .ok_or("the network's convolutions have no bias")?;
        // Recorded anew for every backward: a graph is consumed by it.
        let weight = || conv.weight.val().unsqueeze_dim::<5>(0);
        let bias = || bias.val().unsqueeze_dim::<2>(0);
        let x5 = self.x_ad.clone().unsqueeze_dim::<5>(0);
        let fused_fwd = self.time(&mut || {
            let _ = conv_relu_pool(x5.clone().inner(), weight().inner(), bias().inner());
            self.sync()
        })?;
        let fused = self.time(&mut || {
            let x = self.tracked(x5.clone());
            let y = conv_relu_pool(x, weight(), bias());
            let _g = y.sum().backward();
            self.sync()
        })?;
        println!(
            "        fused GPU block (conv+relu+pool): fwd {fused_fwd:>7.2} ms, fwd+bwd {fused:>8.2} ms"
        );
        Ok(())
    }
}

/// Wall time of the "Quick demo" sweep and of one fold of "Paper ALL binary" (its epochs
/// capped at `paper_epochs`) on the bundled demo data, on the chosen backend; `workers` as
/// [`crate::sweep::RunOptions::workers`].
pub fn sweep_wall_time(
    choice: BackendChoice,
    paper_epochs: usize,
    skip_paper: bool,
    workers: usize,
) -> Result<(), String> {
    use crate::sweep::config::{RunRecord, SweepConfig};
    use crate::sweep::presets::{SweepPreset, quick_demo};
    use crate::sweep::run::{self, RunOptions};
    let mut b = backend::resolve(choice)?;
    println!("device: {}", b.description);
    let dir = std::env::temp_dir().join(format!("leukolens-bench-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    let path = crate::demo::create_demo_project(&dir, 60, crate::demo::DEMO_SIZE, 2021)?;
    let project = crate::project::Project::load(&path).map_err(|e| e.to_string())?;
    println!(
        "demo project: {} images ({:.1} s to generate)",
        project.images.len(),
        t.elapsed().as_secs_f64()
    );
    let no = std::sync::atomic::AtomicBool::new(false);
    let summary = |name: &str, recs: &[RunRecord], secs: f64| {
        let trained: usize = recs.iter().map(|r| r.epochs * r.key.size).sum();
        let epochs: usize = recs.iter().map(|r| r.epochs).sum();
        let by_size = crate::sweep::results::score_by_size(recs);
        let last = by_size
            .last()
            .map(|(s, b)| format!("; mean score at {s} images {:.3}", b.mean))
            .unwrap_or_default();
        let device = recs.first().map(|r| r.device.as_str()).unwrap_or("");
        println!(
            "{name}: {} runs, {epochs} epochs, {:.1} s wall ({:.1} training images/s incl. validation and testing){last}; {device}",
            recs.len(),
            secs,
            trained as f64 / secs.max(1e-9)
        );
    };
    let mut run_one = |name: &str, cfg: SweepConfig, fold0: bool| {
        let options = RunOptions {
            workers,
            out: Some(dir.join(&cfg.name)),
            fold: fold0.then_some(0),
            ..RunOptions::default()
        };
        let t = Instant::now();
        let recs = run::run_sweep(&project, &path, &cfg, &mut b, &options, &no, &mut |_| {});
        match recs {
            Ok(recs) => summary(name, &recs, t.elapsed().as_secs_f64()),
            Err(e) => println!("{name}: failed: {e}"),
        }
    };
    run_one("Quick demo sweep", quick_demo(project.seed), false);
    if !skip_paper {
        let mut cfg = SweepPreset::PaperAllBinary.config(&project);
        cfg.train.max_epochs = paper_epochs.max(1);
        cfg.train.patience = cfg.train.patience.min(cfg.train.max_epochs);
        run_one(
            &format!("Paper ALL binary, fold 1 of 10, ≤ {paper_epochs} epochs"),
            cfg,
            true,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
