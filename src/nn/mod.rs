//! The network of Schouten et al. (2021): six blocks [Conv 3×3 valid → ReLU → MaxPool 2×2]
//! with 4, 8, 8, 8, 16, 16 filters, flatten, Dense 32 ReLU, Dense n_classes.
//! At 257×257 input that is 7,210 parameters for 2 classes and 7,342 for 6.
//!
//! Weights are initialised on the host from a seeded ChaCha generator (Glorot-uniform weights,
//! zero biases, as Keras does), so a seed gives the same network on every backend and in every
//! thread, independent of burn's global generators.

pub mod cpu_block;
#[cfg(feature = "gpu")]
pub mod gpu_block;
pub mod stacked;

use std::path::Path;

use burn::backend::DispatchDevice;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Filters of the six convolution blocks.
pub const FILTERS: [usize; 6] = [4, 8, 8, 8, 16, 16];
/// Width of the last hidden layer (used for tSNE).
pub const HIDDEN: usize = 32;
/// Smallest input side for which six valid 3×3 conv + 2×2 pool blocks leave at least 1 px.
pub const MIN_INPUT: u32 = 190;

/// Spatial side after the six blocks for an input side `s` (0 when the input is too small).
pub fn final_side(input: u32) -> usize {
    let mut s = input as usize;
    for _ in 0..FILTERS.len() {
        if s < 3 {
            return 0;
        }
        s = (s - 2) / 2;
    }
    s
}

/// How the conv blocks of a forward pass run: through a fused implementation of the whole
/// block, or as burn's own operations. Training, inference and sweeps use
/// [`FusedPath::for_device`]; benchmarks pass [`FusedPath::None`] explicitly to time burn's own
/// layers for comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FusedPath {
    /// burn's own conv2d, relu and max_pool2d (or im2col in a stack).
    None,
    /// [`crate::nn::cpu_block`] on flex.
    Cpu,
    /// `crate::nn::gpu_block` on burn's cubecl backend (wgpu).
    Gpu,
}

impl FusedPath {
    /// The fused block for the backend of `device`, where there is one (the default path of
    /// every forward pass).
    pub fn for_device(device: &Device) -> Self {
        Self::of(device, true)
    }

    /// The fused block for the backend of `device` if `fused`, else [`FusedPath::None`].
    pub fn of(device: &Device, fused: bool) -> Self {
        if !fused {
            return Self::None;
        }
        #[allow(unreachable_patterns)]
        match device.clone().inner().as_dispatch() {
            DispatchDevice::Flex(_) => Self::Cpu,
            #[cfg(feature = "gpu")]
            DispatchDevice::Cube(_) => Self::Gpu,
            _ => Self::None,
        }
    }

    /// Whether this path runs a fused block.
    pub fn is_fused(self) -> bool {
        self != Self::None
    }
}

/// One conv block.
#[derive(Module, Debug)]
pub struct Block {
    pub conv: Conv2d,
    pub pool: MaxPool2d,
    pub act: Relu,
}

impl Block {
    /// conv → ReLU → max-pool of `x` `[B, C, H, W]` through `path` (burn's operations where
    /// the path is [`FusedPath::None`] or the convolution has no bias).
    fn forward_with(&self, x: Tensor<4>, path: FusedPath) -> Tensor<4> {
        match (&self.conv.bias, path) {
            (Some(bias), FusedPath::Cpu) => {
                crate::nn::cpu_block::conv_relu_pool(x, self.conv.weight.val(), bias.val())
            }
            #[cfg(feature = "gpu")]
            (Some(bias), FusedPath::Gpu) => {
                let [n, _, h, w] = x.dims();
                let f = bias.dims()[0];
                crate::nn::gpu_block::conv_relu_pool(
                    x.unsqueeze_dim(0),
                    self.conv.weight.val().unsqueeze_dim(0),
                    bias.val().unsqueeze_dim(0),
                )
                .reshape([n, f, (h - 2) / 2, (w - 2) / 2])
            }
            _ => self.pool.forward(self.act.forward(self.conv.forward(x))),
        }
    }
}

/// The paper's CNN.
#[derive(Module, Debug)]
pub struct PaperCnn {
    pub blocks: Vec<Block>,
    pub dense: Linear,
    pub out: Linear,
    pub act: Relu,
}

/// Everything the forward pass computed, for explanations.
#[derive(Debug, Clone)]
pub struct ForwardTrace {
    /// Per block: the conv output after ReLU and the pooled output.
    pub blocks: Vec<(Tensor<4>, Tensor<4>)>,
    /// Flattened input of the dense layers.
    pub flat: Tensor<2>,
    /// The 32-d last hidden layer (after ReLU).
    pub hidden: Tensor<2>,
    /// Class scores before softmax.
    pub logits: Tensor<2>,
}

/// The shape of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    pub input_size: u32,
    pub n_classes: usize,
}

impl ModelSpec {
    /// Number of inputs of the first dense layer.
    pub fn flat_len(&self) -> usize {
        let s = final_side(self.input_size);
        FILTERS[FILTERS.len() - 1] * s * s
    }

    /// Parameter count computed from the architecture (the test compares it with burn's count).
    pub fn param_count(&self) -> usize {
        let mut c_in = 3;
        let mut n = 0;
        for &f in &FILTERS {
            n += c_in * f * 9 + f;
            c_in = f;
        }
        n + self.flat_len() * HIDDEN + HIDDEN + HIDDEN * self.n_classes + self.n_classes
    }
}

/// Glorot-uniform values for a layer with the given fans.
fn glorot(rng: &mut ChaCha8Rng, n: usize, fan_in: usize, fan_out: usize) -> Vec<f32> {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    (0..n).map(|_| rng.random_range(-limit..limit)).collect()
}

impl PaperCnn {
    /// A freshly initialised network on `device` (use an autodiff device to train it).
    pub fn new(spec: ModelSpec, seed: u64, device: &Device) -> Result<Self, String> {
        if spec.input_size < MIN_INPUT {
            return Err(format!(
                "input size {} px is too small (minimum {MIN_INPUT})",
                spec.input_size
            ));
        }
        if spec.n_classes < 2 {
            return Err("the network needs at least 2 classes".into());
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut blocks = Vec::with_capacity(FILTERS.len());
        let mut c_in = 3;
        for &f in &FILTERS {
            let mut conv = Conv2dConfig::new([c_in, f], [3, 3])
                .with_padding(PaddingConfig2d::Valid)
                .with_initializer(Initializer::Zeros)
                .init(device);
            let w = glorot(&mut rng, f * c_in * 9, c_in * 9, f * 9);
            conv.weight = Param::from_data(TensorData::new(w, [f, c_in, 3, 3]), device);
            conv.bias = Some(Param::from_data(
                TensorData::new(vec![0f32; f], [f]),
                device,
            ));
            blocks.push(Block {
                conv,
                pool: MaxPool2dConfig::new([2, 2]).init(),
                act: Relu::new(),
            });
            c_in = f;
        }
        let dense_layer = |rng: &mut ChaCha8Rng, d_in: usize, d_out: usize| {
            let mut l = LinearConfig::new(d_in, d_out)
                .with_initializer(Initializer::Zeros)
                .init(device);
            let w = glorot(rng, d_in * d_out, d_in, d_out);
            l.weight = Param::from_data(TensorData::new(w, [d_in, d_out]), device);
            l.bias = Some(Param::from_data(
                TensorData::new(vec![0f32; d_out], [d_out]),
                device,
            ));
            l
        };
        let dense = dense_layer(&mut rng, spec.flat_len(), HIDDEN);
        let out = dense_layer(&mut rng, HIDDEN, spec.n_classes);
        Ok(Self {
            blocks,
            dense,
            out,
            act: Relu::new(),
        })
    }

    /// Class scores (logits) for a batch `[B, 3, S, S]` with values in [0, 1].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let path = FusedPath::for_device(&x.device());
        self.forward_with(x, path)
    }

    /// [`Self::forward`] through the given path (a fused path must fit the tensor's device).
    pub fn forward_with(&self, x: Tensor<4>, path: FusedPath) -> Tensor<2> {
        let hidden = self.hidden_with(x, path);
        self.out.forward(hidden)
    }

    /// The 32-d last hidden layer (after ReLU). Each block runs as one fused operation on the
    /// CPU ([`crate::nn::cpu_block`]) and on the GPU (`gpu_block`, CubeCL kernels); elsewhere as
    /// burn's conv2d, relu and max_pool2d.
    pub fn hidden(&self, x: Tensor<4>) -> Tensor<2> {
        let path = FusedPath::for_device(&x.device());
        self.hidden_with(x, path)
    }

    /// [`Self::hidden`] through the given path: [`FusedPath::None`] runs burn's conv2d, relu
    /// and max_pool2d (for comparison); a fused path must fit the tensor's device.
    pub fn hidden_with(&self, x: Tensor<4>, path: FusedPath) -> Tensor<2> {
        let mut x = x;
        for b in &self.blocks {
            x = b.forward_with(x, path);
        }
        let [n, c, h, w] = x.dims();
        self.act
            .forward(self.dense.forward(x.reshape([n, c * h * w])))
    }

    /// Forward pass that keeps every intermediate activation (for LRP).
    pub fn forward_trace(&self, x: Tensor<4>) -> ForwardTrace {
        let mut x = x;
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            let a = b.act.forward(b.conv.forward(x));
            let p = b.pool.forward(a.clone());
            blocks.push((a, p.clone()));
            x = p;
        }
        let [n, c, h, w] = x.dims();
        let flat = x.reshape([n, c * h * w]);
        let hidden = self.act.forward(self.dense.forward(flat.clone()));
        let logits = self.out.forward(hidden.clone());
        ForwardTrace {
            blocks,
            flat,
            hidden,
            logits,
        }
    }

    /// Number of outputs.
    pub fn n_classes(&self) -> usize {
        self.out.weight.dims()[1]
    }

    /// All parameters as host vectors, in a fixed order (for tests and comparisons).
    pub fn parameters(&self) -> Vec<Vec<f32>> {
        struct Dump(Vec<Vec<f32>>);
        impl ModuleVisitor for Dump {
            fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
                self.0
                    .push(p.val().try_into_vec_as::<f32>().unwrap_or_default());
            }
        }
        let mut d = Dump(Vec::new());
        self.visit(&mut d);
        d.0
    }

    /// Saves the weights (burn's burnpack format) to `path`, atomically, with the file's BLAKE3
    /// digest beside it ([`digest_path`]) for [`PaperCnn::load`] to check.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let tmp = temporary_beside(path);
        let saved = self
            .clone()
            .save_file(&tmp)
            .map_err(|e| format!("cannot save the model to {}: {e:?}", path.display()))
            .and_then(|()| {
                let bytes = std::fs::read(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
                std::fs::File::open(&tmp)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| format!("{}: {e}", tmp.display()))?;
                let digest = blake3::hash(&bytes).to_hex().to_string();
                let side = digest_path(path);
                crate::project::store::atomic_write(&side, digest.as_bytes())
                    .map_err(|e| format!("{}: {e}", side.display()))?;
                std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
            });
        if saved.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        saved
    }

    /// Loads weights saved by [`PaperCnn::save`] into a network of the given shape. The file
    /// must match the digest saved beside it (models saved before digests existed have none
    /// and are read unchecked), and every weight must be finite.
    pub fn load(path: &Path, spec: ModelSpec, device: &Device) -> Result<Self, String> {
        check_digest(path)?;
        let fresh = Self::new(spec, 0, device)?;
        let model = fresh
            .try_load_file(path)
            .map_err(|e| format!("cannot load the model {}: {e:?}", path.display()))?;
        if model
            .parameters()
            .iter()
            .any(|p| p.iter().any(|v| !v.is_finite()))
        {
            return Err(format!(
                "the model {} holds weights that are not finite numbers (NaN or infinity); it \
                 cannot be used: train it again",
                path.display()
            ));
        }
        Ok(model)
    }

    /// Multiplies every parameter by `factor` (used in tests to make a network degenerate).
    pub fn scaled(self, factor: f32) -> Self {
        struct Scale(f32);
        impl ModuleMapper for Scale {
            fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
                let f = self.0;
                p.map(|t| t.mul_scalar(f))
            }
        }
        self.map(&mut Scale(factor))
    }
}

/// The file beside a model that holds its BLAKE3 digest: `<model>.bpk.blake3`.
pub fn digest_path(model: &Path) -> std::path::PathBuf {
    let mut s = model.as_os_str().to_os_string();
    s.push(".blake3");
    std::path::PathBuf::from(s)
}

/// Checks a model file against the digest saved beside it (nothing to check without one).
pub fn check_digest(path: &Path) -> Result<(), String> {
    let Ok(expected) = std::fs::read_to_string(digest_path(path)) else {
        return Ok(());
    };
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read the model {}: {e}", path.display()))?;
    if blake3::hash(&bytes).to_hex().as_str() != expected.trim() {
        return Err(format!(
            "the model {} was changed or damaged after it was saved (it does not match its \
             digest in {}); train it again",
            path.display(),
            digest_path(path).display()
        ));
    }
    Ok(())
}

/// Copies a model and its digest (the digest first, then the model, each atomically), so that
/// the copy is checked on load as the original is.
pub fn copy_model(from: &Path, to: &Path) -> Result<(), String> {
    let copy = |a: &Path, b: &Path| -> Result<(), String> {
        let bytes = std::fs::read(a).map_err(|e| format!("{}: {e}", a.display()))?;
        crate::project::store::atomic_write(b, &bytes).map_err(|e| format!("{}: {e}", b.display()))
    };
    if digest_path(from).is_file() {
        copy(&digest_path(from), &digest_path(to))?;
    }
    copy(from, to)
}

/// A temporary name beside `path` with the same extension, unique to this process.
fn temporary_beside(path: &Path) -> std::path::PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|s| format!(".{}", s.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!(".{stem}.tmp{}{ext}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_or_non_finite_model_is_refused_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::flex();
        let spec = ModelSpec {
            input_size: MIN_INPUT,
            n_classes: 2,
        };
        let path = dir.path().join("m.bpk");
        let model = PaperCnn::new(spec, 3, &device).unwrap();
        model.save(&path).unwrap();
        assert!(digest_path(&path).is_file());
        let again = PaperCnn::load(&path, spec, &device).unwrap();
        assert_eq!(again.parameters(), model.parameters());
        // Bytes flipped inside the file: refused, although burn would read it.
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        for b in &mut bytes[n - 200..n - 150] {
            *b ^= 0x55;
        }
        std::fs::write(&path, &bytes).unwrap();
        let e = PaperCnn::load(&path, spec, &device).unwrap_err();
        assert!(e.contains("changed or damaged"), "{e}");
        // NaN weights, saved as such (with a matching digest): refused too.
        model.clone().scaled(f32::NAN).save(&path).unwrap();
        let e = PaperCnn::load(&path, spec, &device).unwrap_err();
        assert!(e.contains("not finite"), "{e}");
        // An old model without a digest still loads.
        model.save(&path).unwrap();
        std::fs::remove_file(digest_path(&path)).unwrap();
        PaperCnn::load(&path, spec, &device).unwrap();
    }

    #[test]
    fn the_fused_path_follows_the_device_and_the_switch() {
        assert_eq!(FusedPath::of(&Device::flex(), true), FusedPath::Cpu);
        assert_eq!(
            FusedPath::of(&Device::flex().autodiff(), true),
            FusedPath::Cpu
        );
        assert_eq!(FusedPath::of(&Device::flex(), false), FusedPath::None);
    }

    #[test]
    fn parameter_counts_match_the_paper() {
        let dev = Device::flex();
        let m2 = PaperCnn::new(
            ModelSpec {
                input_size: 257,
                n_classes: 2,
            },
            1,
            &dev,
        )
        .unwrap();
        assert_eq!(m2.num_params(), 7_210);
        let m6 = PaperCnn::new(
            ModelSpec {
                input_size: 257,
                n_classes: 6,
            },
            1,
            &dev,
        )
        .unwrap();
        assert_eq!(m6.num_params(), 7_342);
        for (s, n) in [(257, 2), (193, 2), (400, 10), (190, 3)] {
            let spec = ModelSpec {
                input_size: s,
                n_classes: n,
            };
            let m = PaperCnn::new(spec, 3, &dev).unwrap();
            assert_eq!(m.num_params(), spec.param_count(), "{s} px, {n} classes");
        }
    }

    #[test]
    fn too_small_inputs_are_refused() {
        assert_eq!(final_side(190), 1);
        assert_eq!(final_side(189), 0);
        assert_eq!(final_side(257), 2);
        let spec = ModelSpec {
            input_size: 189,
            n_classes: 2,
        };
        assert!(PaperCnn::new(spec, 0, &Device::flex()).is_err());
    }

    #[test]
    fn forward_shapes_and_seeded_init() {
        let dev = Device::flex();
        let spec = ModelSpec {
            input_size: 193,
            n_classes: 3,
        };
        let m = PaperCnn::new(spec, 42, &dev).unwrap();
        let x = Tensor::<4>::ones([2, 3, 193, 193], &dev).mul_scalar(0.5);
        let t = m.forward_trace(x.clone());
        assert_eq!(t.logits.dims(), [2, 3]);
        assert_eq!(t.hidden.dims(), [2, HIDDEN]);
        assert_eq!(t.blocks.len(), 6);
        assert_eq!(t.blocks[0].0.dims(), [2, 4, 191, 191]);
        assert_eq!(t.blocks[5].1.dims(), [2, 16, 1, 1]);
        // `forward` runs the fused CPU blocks, `forward_trace` burn's separate operations: equal
        // up to float rounding.
        let direct = m.forward(x).try_into_vec_as::<f32>().unwrap();
        let traced = t.logits.try_into_vec_as::<f32>().unwrap();
        for (a, b) in direct.iter().zip(&traced) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "{direct:?} vs {traced:?}"
            );
        }
        let same = PaperCnn::new(spec, 42, &dev).unwrap();
        assert_eq!(m.parameters(), same.parameters());
        let other = PaperCnn::new(spec, 43, &dev).unwrap();
        assert_ne!(m.parameters(), other.parameters());
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let dev = Device::flex();
        let spec = ModelSpec {
            input_size: 190,
            n_classes: 2,
        };
        let m = PaperCnn::new(spec, 9, &dev).unwrap();
        let path = dir.path().join("models/m.bpk");
        m.save(&path).unwrap();
        let back = PaperCnn::load(&path, spec, &dev).unwrap();
        assert_eq!(m.parameters(), back.parameters());
        let wrong = ModelSpec {
            input_size: 257,
            n_classes: 2,
        };
        assert!(PaperCnn::load(&path, wrong, &dev).is_err());
        assert!(PaperCnn::load(&dir.path().join("missing.bpk"), spec, &dev).is_err());
    }
}
