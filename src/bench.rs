//! Benchmarks printed by `leukolens bench` (never asserted in tests).

use std::time::{Duration, Instant};

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, RmsPropConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::backend::{self, BackendChoice};
use crate::model::{ModelSpec, PaperCnn};

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
    for batch in [5usize, 32] {
        let (cold, rate) = train_rate(&b.device, size, batch, budget)?;
        println!(
            "train  batch {batch:>3}: {rate:>8.1} images/s  (first step {:.2} s)",
            cold.as_secs_f64()
        );
    }
    for batch in [5usize, 32] {
        let (cold, rate) = infer_rate(&b.device, size, batch, budget)?;
        println!(
            "infer  batch {batch:>3}: {rate:>8.1} images/s  (first batch {:.2} s)",
            cold.as_secs_f64()
        );
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

fn train_rate(
    device: &Device,
    size: u32,
    batch: usize,
    budget: Duration,
) -> Result<(Duration, f64), String> {
    let ad = device.clone().autodiff();
    let spec = ModelSpec {
        input_size: size,
        n_classes: 2,
    };
    let mut model = PaperCnn::new(spec, 1, &ad)?;
    let mut optim = RmsPropConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let (x, y) = synthetic(batch, size, &ad);
    let mut step = |model: PaperCnn| -> Result<PaperCnn, String> {
        let loss = loss_fn.forward(model.forward(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let m = optim.step(1e-3, model, grads);
        device.sync().map_err(|e| format!("{e:?}"))?;
        Ok(m)
    };
    let t0 = Instant::now();
    model = step(model)?;
    let cold = t0.elapsed();
    let t1 = Instant::now();
    let mut steps = 0usize;
    while t1.elapsed() < budget || steps < 2 {
        model = step(model)?;
        steps += 1;
    }
    Ok((cold, (steps * batch) as f64 / t1.elapsed().as_secs_f64()))
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
    let run = || -> Result<(), String> {
        let out = model.forward(x.clone());
        out.try_into_vec_as::<f32>().map_err(|e| format!("{e:?}"))?;
        Ok(())
    };
    let t0 = Instant::now();
    run()?;
    let cold = t0.elapsed();
    let t1 = Instant::now();
    let mut n = 0usize;
    while t1.elapsed() < budget || n < 2 {
        run()?;
        n += 1;
    }
    Ok((cold, (n * batch) as f64 / t1.elapsed().as_secs_f64()))
}
