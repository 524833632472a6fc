#!/usr/bin/env bash
# Re-records tests/fixtures/golden (tests/common/golden.rs) with BIN, untuned (the fixed kernel
# order), on lavapipe: after a change that alters rounding in training on purpose.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
BIN=${BIN:-$root/target/release/stylegan}
FIX=${FIX:-$root/tests/fixtures/golden}
W=$(mktemp -d)
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/xdg} STYLEGAN_TUNE=off
python3 - "$W/data" <<'PY'
import sys, os
from PIL import Image
d=sys.argv[1]; os.makedirs(d)
for i in range(16):
    im=Image.new('L',(32,32))
    im.putdata([(((x*(i%4+1)+y*(i//4+1))*7+i*13)%256) for y in range(32) for x in range(32)])
    im.save(f'{d}/img{i:02d}.png')
PY
cd "$W"
"$BIN" train --data data --outdir run --preset tiny --fmap-base 16 --fmap-max 8 --latent-size 8 --mapping-layers 1 --batch 4 --kimg 0.016 --snapshot-kimg 0.008 --metrics fid16,kid16,ppl_wend16 --features fmnist
"$BIN" metrics --model run/network-snapshot-000000_016.safetensors --data data --metrics fid16,kid16,ppl_wend16 --features fmnist --cache-dir off --json metrics-command.jsonl
ls run
for f in log.jsonl metric-fid16.jsonl metric-kid16.jsonl metric-ppl_wend16.jsonl network-snapshot-000000_016.safetensors; do cp run/$f $FIX/$f; done
cp metrics-command.jsonl $FIX/
echo "recorded into $FIX from $W"
