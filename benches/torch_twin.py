#!/usr/bin/env python3
"""PyTorch twin of leukolens' paper network and training step, for side-by-side speed figures.

Same layer order as src/model.rs (six blocks Conv 3x3 valid -> ReLU -> MaxPool 2x2 with
4, 8, 8, 8, 16, 16 filters, flatten, Dense 32 ReLU, Dense n_classes), same optimiser (RMSprop
lr 1e-3), same batches, synthetic fp32 input, eager mode, one model at a time (as the paper's
scripts train). Prints images/s the way `leukolens bench train` / `bench stack` do.

    python3 benches/torch_twin.py [--device cpu|cuda] [--size 257] [--seconds 10]

Without torch it says so and exits 0 (the benchmark is skipped, not failed).
"""
import argparse
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    print("torch twin: PyTorch is not installed here; skipped")
    sys.exit(0)

FILTERS = [4, 8, 8, 8, 16, 16]


def paper_net(size: int, n_classes: int) -> nn.Module:
    layers, c, s = [], 3, size
    for f in FILTERS:
        layers += [nn.Conv2d(c, f, 3), nn.ReLU(), nn.MaxPool2d(2)]
        c, s = f, (s - 2) // 2
    layers += [nn.Flatten(), nn.Linear(c * s * s, 32), nn.ReLU(), nn.Linear(32, n_classes)]
    return nn.Sequential(*layers)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_rate(device, size, batch, seconds):
    torch.manual_seed(1)
    net = paper_net(size, 2).to(device)
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, 3, size, size, device=device)
    y = (torch.arange(batch, device=device) % 2).long()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()

    t0 = time.perf_counter()
    step()
    sync(device)
    cold = time.perf_counter() - t0
    n, t1 = 0, time.perf_counter()
    while time.perf_counter() - t1 < seconds or n < 2:
        step()
        n += 1
        if n % 10 == 0:
            sync(device)
    sync(device)
    return cold, n * batch / (time.perf_counter() - t1)


@torch.no_grad()
def infer_rate(device, size, batch, seconds):
    net = paper_net(size, 2).to(device).eval()
    x = torch.rand(batch, 3, size, size, device=device)
    net(x).cpu()
    n, t1 = 0, time.perf_counter()
    while time.perf_counter() - t1 < seconds or n < 2:
        net(x).cpu()
        n += 1
    return n * batch / (time.perf_counter() - t1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--size", type=int, default=257)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--batches", default="5,32,128")
    a = ap.parse_args()
    device = torch.device(a.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch twin: PyTorch {torch.__version__} on {name}")
    print(f"paper network, {a.size}x{a.size} px, 2 classes, RMSprop, synthetic data, eager")
    for b in [int(v) for v in a.batches.split(",")]:
        cold, rate = train_rate(device, a.size, b, a.seconds)
        print(f"train  batch {b:>3}: {rate:>8.1f} images/s  (first step {cold:.2f} s)")
    for b in [5, 32]:
        print(f"infer  batch {b:>3}: {infer_rate(device, a.size, b, a.seconds):>8.1f} images/s")


if __name__ == "__main__":
    main()
