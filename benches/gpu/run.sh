#!/usr/bin/env bash
# Run THERE (the lent GPU machine, through the device tool, after benches/gpu/prepare.sh here,
# carry [".gl", ".gpu"]). One call does everything worth a device minute, each step bounded:
#   1. the Vulkan loader from .gl, the NVIDIA ICD; `stylegan devices`
#   2. the kernel and network tests on the real GPU (test binaries from .gpu)
#   3. our outputs against the PyTorch twin at 256² with official widths, on CUDA
#   4. `stylegan bench tune`: the conv kernel choice measured on this GPU for the default model
#      (32², batch 16) and 256² official widths (batch 4); the table it writes is what the
#      benchmarks below then run with (STYLEGAN_TUNE=on, the default)
#   5. the side-by-side benchmark (ours, PyTorch fp32, PyTorch tf32): SUITE (default all)
#   6. kernels and generation again with the f16 cooperative-matrix convs (STYLEGAN_F16=1)
# Everything lands in $OUT (the device tool brings it back). Each step has a timeout; the whole
# run must fit the tool's 600 s per command (expected: a few minutes on an H100).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/out}; SUITE=${SUITE:-all}; QUICK=${QUICK:-}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
[ -f .gpu/bins.tar.xz ] && tar -xJf .gpu/bins.tar.xz -C .gpu
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
export STYLEGAN_BACKEND=vulkan CI=true
S=.gpu/stylegan
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv; $S devices; } 2>&1 | tee "$OUT/devices.txt"

echo "== tests on the GPU" | tee "$OUT/tests.txt"
for t in .gpu/test-*; do
  timeout 40 "$t" --test-threads 1 2>&1 | grep -E "^test |test result|panicked|rel " >> "$OUT/tests.txt"
done
tail -n 40 "$OUT/tests.txt"

R=${TWIN_RES:-256}
echo "== twin check at ${R}² (ffhq widths, official random init)"
d=$(mktemp -d)
timeout 120 bash -c "
  $S init --resolution $R --out $d/m.safetensors &&
  python3 -c \"import numpy as np; np.save('$d/z.npy', np.random.RandomState(1).randn(4, 512).astype('f4')); np.save('$d/x.npy', np.random.RandomState(2).uniform(-1, 1, (4, 3, $R, $R)).astype('f4'))\" &&
  $S generate --model $d/m.safetensors --latents $d/z.npy --trunc 0.7 --out-npy $d/img.npy &&
  $S losses --model $d/m.safetensors --latents $d/z.npy --reals $d/x.npy --out $d/l.safetensors &&
  python3 benches/pytorch/stylegan1.py check --model $d/m.safetensors --latents $d/z.npy --images $d/img.npy \
      --trunc 0.7 --losses $d/l.safetensors --reals $d/x.npy --device cuda --rtol 1e-3
" 2>&1 | tail -n 20 | tee "$OUT/twin_check.txt"

echo "== tune: conv kernels measured on this GPU (table: ~/.cache/stylegan-wgpu/tune-*.json)"
timeout 60 $S bench tune --json "$OUT/ours-tune.json" > "$OUT/tune.log" 2>&1
timeout 120 $S bench tune --preset ffhq --resolution 256 --batch 4 --json "$OUT/ours-tune-256.json" >> "$OUT/tune.log" 2>&1
grep -vE "^(adapter|timer):" "$OUT/tune.log" | cut -c1-200 | head -n 60

echo "== side by side: $SUITE $QUICK"
STYLEGAN=$S timeout 300 benches/pytorch/side_by_side.sh "$OUT" "$SUITE" $QUICK > "$OUT/side_by_side.log" 2>&1
tail -n 60 "$OUT/side_by_side.md" 2>/dev/null || tail -n 30 "$OUT/side_by_side.log"

echo "== f16 cooperative matrices (STYLEGAN_F16=1; self-checks first, see src/ops/conv/coop.rs)"
STYLEGAN_F16=1 timeout 90 $S bench kernels --json "$OUT/ours-f16-kernels.json" > "$OUT/f16.log" 2>&1
STYLEGAN_F16=1 timeout 90 $S bench generate --json "$OUT/ours-f16-generate.json" >> "$OUT/f16.log" 2>&1
grep -E "warning|note|conv|generator" "$OUT/f16.log" | tail -n 30
