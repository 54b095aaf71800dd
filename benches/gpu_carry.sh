#!/usr/bin/env bash
# Prepares what the GPU machine needs, on this machine (see benches/gpu_check.sh):
#   .gpu/leukolens.xz  the dev-profile binary, stripped and compressed (the carry limit is 64 MiB)
#   .gl/*.deb          the Vulkan/EGL loaders, for machines without them
# Both folders are git-ignored; pass them in `carry`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/leukolens/target}"
# The one build profile (dev, optimised): `cargo test --no-run` builds the binary too.
cargo test --no-run >/dev/null
mkdir -p .gpu
strip -o .gpu/leukolens "$CARGO_TARGET_DIR/debug/leukolens"
xz -T0 -6 -f .gpu/leukolens
ls -la .gpu
if [ ! -d .gl ]; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update -qq
  # shellcheck disable=SC2086
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >>.git/info/exclude
grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo /.gl/ >>.git/info/exclude
