#!/usr/bin/env bash
# Our benchmark and the PyTorch twin on this machine, one after the other, then the side-by-side
# table (benches/pytorch/compare.py). On a CUDA machine the twin runs twice: TF32 off and on.
#
#   benches/pytorch/side_by_side.sh OUTDIR [SUITE [--quick]]      SUITE: kernels|generate|train|all
#
# STYLEGAN picks the binary (default target/release/stylegan), PYTHON the interpreter (python3).
# Writes OUTDIR/ours.json, torch-fp32.json (and torch-tf32.json), the logs, side_by_side.md.
set -euo pipefail
out=${1:?usage: side_by_side.sh OUTDIR [kernels|generate|train|all [--quick]]}
suite=${2:-all}
extra=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
S=${STYLEGAN:-target/release/stylegan}
PY=${PYTHON:-python3}
mkdir -p "$out"

echo "== stylegan bench $suite $extra"
"$S" bench "$suite" $extra --json "$out/ours.json" 2>&1 | tee "$out/ours.log"
twins=()
for prec in fp32 tf32; do
  if [ "$prec" = tf32 ] && ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    break  # TF32 exists only on CUDA
  fi
  echo "== PyTorch twin, $prec"
  "$PY" "$here/stylegan1.py" bench "$suite" $extra --precision "$prec" --json "$out/torch-$prec.json" 2>&1 \
    | tee "$out/torch-$prec.log"
  twins+=("$out/torch-$prec.json")
done
echo "== side by side (speed = PyTorch time / our time: above 1 we are faster)"
"$PY" "$here/compare.py" "$out/ours.json" "${twins[@]}" --markdown | tee "$out/side_by_side.md"
