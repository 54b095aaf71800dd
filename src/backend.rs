//! Choosing where networks train: burn's wgpu backend on a real GPU, or the pure-Rust `flex`
//! CPU backend. `auto` uses the GPU only when a hardware adapter exists and a training step on
//! it works; software adapters (lavapipe, llvmpipe) are not chosen automatically.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use burn::tensor::Device;

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BackendChoice {
    /// The GPU when a real one works, else the CPU.
    #[default]
    Auto,
    /// The GPU (wgpu), also a software adapter; an error if none works.
    Gpu,
    /// The CPU (burn's flex backend).
    Cpu,
}

/// Which kind of device was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Cpu,
    Gpu,
}

/// A chosen device with a description for the user.
#[derive(Clone, Debug)]
pub struct Backend {
    pub device: Device,
    pub kind: BackendKind,
    /// E.g. "GPU: NVIDIA H100 (Vulkan, discrete)" or "CPU: flex, 2 threads".
    pub description: String,
    /// Why this choice was made (what was tried, what failed).
    pub notes: Vec<String>,
}

impl Backend {
    /// The CPU backend.
    pub fn cpu() -> Self {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Self {
            device: Device::flex(),
            kind: BackendKind::Cpu,
            description: format!("CPU (burn flex with fused conv blocks, {threads} threads)"),
            notes: Vec::new(),
        }
    }
}

/// Runs `work` on the backend. If it panics on the GPU (a device lost, a driver error), the
/// backend switches to the CPU for every later run and the error says so; the run itself is
/// reported as failed rather than taking the program down.
pub fn run_guarded<T>(backend: &mut Backend, work: impl FnOnce(&Device) -> T) -> Result<T, String> {
    let device = backend.device.clone();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&device))) {
        Ok(v) => Ok(v),
        Err(p) => {
            let msg = crate::jobs::panic_message(p.as_ref());
            if backend.kind == BackendKind::Gpu {
                let gpu = std::mem::replace(backend, Backend::cpu());
                backend.notes.push(format!(
                    "{} failed ({msg}); falling back to the CPU for the next runs",
                    gpu.description
                ));
                Err(format!(
                    "GPU error: {msg}; this run failed, the next runs use the CPU"
                ))
            } else {
                Err(format!("internal error: {msg}"))
            }
        }
    }
}

/// A GPU adapter as wgpu reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterInfo {
    pub name: String,
    pub api: String,
    pub device_type: String,
    /// A hardware GPU (discrete, integrated or virtual), not a CPU rasteriser.
    pub hardware: bool,
}

/// Lists the GPU adapters wgpu can see (empty without the `gpu` feature or without drivers).
pub fn adapters() -> Vec<AdapterInfo> {
    #[cfg(feature = "gpu")]
    {
        gpu::adapters()
    }
    #[cfg(not(feature = "gpu"))]
    {
        Vec::new()
    }
}

/// How long the GPU smoke test may take before `auto` gives up on the GPU.
pub const SMOKE_TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Resolves the user's choice to a device. `Cpu` never fails; `Gpu` fails with a readable
/// message when no adapter works; `Auto` falls back to the CPU and says why in `notes`.
pub fn resolve(choice: BackendChoice) -> Result<Backend, String> {
    match choice {
        BackendChoice::Cpu => Ok(Backend::cpu()),
        BackendChoice::Gpu => gpu_backend(true),
        BackendChoice::Auto => match gpu_backend(false) {
            Ok(b) => Ok(b),
            Err(why) => {
                let mut b = Backend::cpu();
                b.notes.push(format!("GPU not used: {why}"));
                Ok(b)
            }
        },
    }
}

#[cfg(not(feature = "gpu"))]
fn gpu_backend(_allow_software: bool) -> Result<Backend, String> {
    Err("this build of leukolens has no GPU support (built without the `gpu` feature)".into())
}

#[cfg(feature = "gpu")]
fn gpu_backend(allow_software: bool) -> Result<Backend, String> {
    let list = gpu::adapters();
    let chosen = list
        .iter()
        .find(|a| a.hardware)
        .or_else(|| if allow_software { list.first() } else { None })
        .cloned();
    let Some(adapter) = chosen else {
        return Err(if list.is_empty() {
            "no GPU adapter found (no Vulkan/GL driver)".into()
        } else {
            format!(
                "only software adapters found ({})",
                list.iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    };
    let device = gpu::init(&adapter)?;
    smoke_test(&device, SMOKE_TEST_TIMEOUT)?;
    Ok(Backend {
        device,
        kind: BackendKind::Gpu,
        description: format!(
            "GPU: {} ({}, {})",
            adapter.name, adapter.api, adapter.device_type
        ),
        notes: Vec::new(),
    })
}

/// Runs one tiny training step on `device` on a helper thread. Fails when it panics, errors or
/// takes longer than `timeout` (a stuck GPU thread is then left behind; the CPU is used).
pub fn smoke_test(device: &Device, timeout: Duration) -> Result<(), String> {
    let dev = device.clone();
    let finished = std::sync::Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let flag = finished.clone();
    std::thread::Builder::new()
        .name("gpu-smoke-test".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| one_step(&dev)))
                .unwrap_or_else(|_| Err("the GPU backend panicked".into()));
            flag.store(true, Ordering::Relaxed);
            let _ = tx.send(r);
        })
        .map_err(|e| e.to_string())?;
    match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(_) => Err(format!(
            "a training step on the GPU did not finish within {} s",
            timeout.as_secs()
        )),
    }
}

/// One forward + backward + optimiser step of the paper network at the smallest input size.
fn one_step(device: &Device) -> Result<(), String> {
    use burn::optim::{GradientsParams, RmsPropConfig};
    use burn::tensor::{Int, Tensor, TensorData};
    let ad = device.clone().autodiff();
    let spec = crate::nn::ModelSpec {
        input_size: crate::nn::MIN_INPUT,
        n_classes: 2,
    };
    let model = crate::nn::PaperCnn::new(spec, 0, &ad)?;
    let s = spec.input_size as usize;
    let x = Tensor::<4>::from_data(
        TensorData::new(vec![0.5f32; 2 * 3 * s * s], [2, 3, s, s]),
        &ad,
    );
    let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1], [2]), &ad);
    let loss = burn::nn::loss::CrossEntropyLossConfig::new()
        .init(&ad)
        .forward(model.forward(x), y);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut optim = RmsPropConfig::new().init();
    let model = optim.step(1e-3, model, grads);
    let v = model
        .forward(Tensor::<4>::zeros([1, 3, s, s], &ad))
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err("the GPU produced non-finite numbers".into())
    }
}

#[cfg(feature = "gpu")]
mod gpu {
    use super::AdapterInfo;
    use burn::tensor::wgpu::wgpu;
    use burn::tensor::{Device, DeviceKind};

    pub fn adapters() -> Vec<AdapterInfo> {
        // Probing must never take the program down, whatever the driver does.
        std::panic::catch_unwind(|| {
            let backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
            let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                backends,
                ..wgpu::InstanceDescriptor::new_without_display_handle()
            });
            pollster::block_on(instance.enumerate_adapters(backends))
                .iter()
                .map(|a| {
                    let info = a.get_info();
                    let hardware = matches!(
                        info.device_type,
                        wgpu::DeviceType::DiscreteGpu
                            | wgpu::DeviceType::IntegratedGpu
                            | wgpu::DeviceType::VirtualGpu
                    );
                    AdapterInfo {
                        name: info.name.clone(),
                        api: format!("{:?}", info.backend),
                        device_type: format!("{:?}", info.device_type),
                        hardware,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
    }

    /// Initialises burn's wgpu runtime on the first adapter of the adapter's type.
    pub fn init(adapter: &AdapterInfo) -> Result<Device, String> {
        let kind = match adapter.device_type.as_str() {
            "DiscreteGpu" => DeviceKind::DiscreteGpu(0),
            "IntegratedGpu" => DeviceKind::IntegratedGpu(0),
            "VirtualGpu" => DeviceKind::VirtualGpu(0),
            "Cpu" => DeviceKind::Cpu,
            _ => DeviceKind::DefaultDevice,
        };
        std::panic::catch_unwind(|| Device::wgpu_options().device_kind(kind).init())
            .map_err(|_| "the wgpu runtime panicked while starting".to_string())?
            .map_err(|e| format!("cannot start the GPU {}: {e:?}", adapter.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_always_resolves_and_auto_never_fails() {
        let cpu = resolve(BackendChoice::Cpu).unwrap();
        assert_eq!(cpu.kind, BackendKind::Cpu);
        let auto = resolve(BackendChoice::Auto).unwrap();
        // Auto only picks a GPU when a hardware adapter exists; software adapters never.
        let hw = adapters().iter().any(|a| a.hardware);
        if !hw {
            assert_eq!(auto.kind, BackendKind::Cpu);
            assert!(
                !auto.notes.is_empty(),
                "auto must say why it did not use a GPU"
            );
        }
    }

    #[test]
    fn a_gpu_failure_falls_back_to_the_cpu_for_the_next_run() {
        // A stand-in for a GPU backend: the mechanism only looks at the kind.
        let mut b = Backend::cpu();
        b.kind = BackendKind::Gpu;
        b.description = "GPU: test adapter".into();
        let r: Result<(), String> = run_guarded(&mut b, |_| panic!("device lost"));
        let err = r.unwrap_err();
        assert!(err.contains("device lost") && err.contains("CPU"), "{err}");
        assert_eq!(b.kind, BackendKind::Cpu);
        assert!(b.notes.iter().any(|n| n.contains("falling back")));
        // The next run works on the CPU.
        assert_eq!(run_guarded(&mut b, |_| 7).unwrap(), 7);
        // A panic on the CPU is an error too, never a crash.
        assert!(run_guarded(&mut b, |_| -> u8 { panic!("bug") }).is_err());
    }

    #[test]
    fn smoke_test_passes_on_cpu() {
        smoke_test(&Device::flex(), Duration::from_secs(300)).unwrap();
    }
}
