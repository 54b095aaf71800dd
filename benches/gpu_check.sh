#!/usr/bin/env bash
# The GPU figures of the fused kernels, on the GPU machine, in one go (about 6 minutes):
#   run: bash benches/gpu_check.sh      with carry [".gpu", ".gl"] (see benches/gpu_carry.sh)
# Writes every log under $OUT (or ./gpu-check). Each step has its own time limit, so a slow one
# cannot eat the others; the cubecl kernel cache starts cold, so the first step's times include
# kernel compilation and the later ones are warm.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-check}"
mkdir -p "$out"
if ! ldconfig -p | grep -q libvulkan && [ -d .gl ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
bin=/tmp/leukolens
xz -dc .gpu/leukolens.xz >"$bin" && chmod +x "$bin"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$out/gpu.txt" 2>&1
python3 -c 'import torch; print(torch.__version__, torch.cuda.is_available())' >"$out/torch.txt" 2>&1
step() { # name seconds command...
  local name=$1 secs=$2
  shift 2
  echo "== $name" >&2
  local t0=$SECONDS
  timeout "$secs" "$@" >"$out/$name.txt" 2>"$out/$name.err"
  echo "rc=$? wall=$((SECONDS - t0))s" >>"$out/$name.txt"
  grep -v '^$' "$out/$name.txt" >&2
}
step ops-cold 90 "$bin" bench ops --backend gpu --batch 5 --reps 3
step ops-warm 60 "$bin" bench ops --backend gpu --batch 5 --reps 3
step train 90 "$bin" bench train --backend gpu --seconds 4
step stack 150 "$bin" bench stack --backend gpu --models 1,8,32,64,128,256 --seconds 4
step sweep 120 "$bin" bench sweep --backend gpu --paper-epochs 3
step sweep-cpu 60 "$bin" bench sweep --backend cpu --workers 8 --skip-paper
