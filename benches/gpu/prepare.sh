#!/usr/bin/env bash
# Run HERE (the dev machine), before a device run on the lent GPU machine, which has NVIDIA's
# driver, CUDA and PyTorch but no Rust and no Vulkan loader:
#   - downloads the Vulkan loader (libvulkan1, amd64) into .gl/
#   - builds the release binary and the GPU-relevant test binaries into .gpu/
# Then call the device tool with carry [".gl", ".gpu"] and the command
#   bash benches/gpu/run.sh
# Both folders are git-ignored through .git/info/exclude.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo /.gl/ >> .git/info/exclude
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >> .git/info/exclude
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update -qq
  (cd .gl && apt-get $o download libvulkan1)
fi
cargo build --release
rm -rf .gpu && mkdir -p .gpu
cp target/release/stylegan .gpu/
# Test binaries that exercise kernels at sizes and adapters CI never sees.
for t in conv conv_kernels precision long_reductions generator discriminator losses r1 fused; do
  bin=$(cargo test --release --no-run --test "$t" --message-format=json 2>/dev/null \
        | python3 -c 'import sys, json
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])' | tail -1)
  cp "$bin" ".gpu/test-$t"
done
# The carried tree must stay under 64 MiB: strip, and pack the binaries (run.sh unpacks them).
strip .gpu/*
(cd .gpu && tar -cJf bins.tar.xz stylegan test-* && rm -f stylegan test-*)
du -sh .gl .gpu
