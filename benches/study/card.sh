#!/bin/bash
# Every number and figure of the default model's card (assets/README.md), for any Fashion-MNIST
# model:
#
#     benches/study/card.sh MODEL.safetensors OUTDIR [DATA_DIR]
#
# Writes OUTDIR/metrics.jsonl (fid10k, kid10k, pr10k3, ls10k, ppl_{w,z}{end,full}2k on the
# embedded fmnist features; for a class-conditional model also fid_per_class10k and
# acc_per_class10k), OUTDIR/floor.json (train vs test FID/KID), the noise-ablation models
# and their metrics, the spectrum table, OUTDIR/noise-ablation.png, the ψ = 1 / 0.7 sample grids,
# (and for a class-conditional model one row per class: samples-by-class.png) and the
# nearest-training-image check, and the tables of the card (OUTDIR/tables.md, by
# card_tables.py); logs go to OUTDIR/*.log. About 15 minutes on lavapipe
# (2 CPU cores). Needs a release build and python3 with numpy and Pillow.
set -euo pipefail
MODEL=$1
OUT=$2
DATA=${3:-/usr/share/datasets/fashion-mnist}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
S=$ROOT/target/release/stylegan
mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl

echo "== floor: FID/KID of the training set against the test set"
$S fid "$DATA/train-images-idx3-ubyte.gz" "$DATA/t10k-images-idx3-ubyte.gz" --kid --batch 256 \
    --json "$OUT/floor.json" 2>&1 | tail -2

echo "== the model"
# A class-conditional model also gets each class's FID and the evaluation network's accuracy on
# each class's fakes (with the histogram of its classes).
PER_CLASS=""
CLASSES=$($S info "$MODEL" 2>/dev/null | sed -n 's/^classes: \([0-9]*\) (class-conditional.*/\1/p')
if [ -n "$CLASSES" ]; then
    PER_CLASS=",fid_per_class10k,acc_per_class10k"
fi
$S metrics --model "$MODEL" --data "$DATA" --batch 64 --json "$OUT/metrics.jsonl" \
    --metrics fid10k,kid10k,pr10k3,ls10k,ppl_wend2k,ppl_zend2k,ppl_wfull2k,ppl_zfull2k$PER_CLASS \
    >"$OUT/metrics.log" 2>&1
# The result lines only (each ends with its counts), not the progress lines.
grep -E "^(fid|kid|pr|ls|ppl|acc)[a-z0-9_]*: .*\([0-9]+ (fakes|pairs|images), " "$OUT/metrics.log"

echo "== noise ablation: per-layer noise strengths, metrics without the 32x32/Conv0_up noise, without any"
python3 "$HERE/noise_ablation.py" "$MODEL" "$OUT" | tee "$OUT/noise-strengths.txt"
for m in no-noise-32up no-noise; do
    $S metrics --model "$OUT/$m.safetensors" --data "$DATA" --batch 64 --metrics fid10k,kid10k,pr10k3 \
        --json "$OUT/$m.jsonl" >"$OUT/$m.log" 2>&1
    echo "$m: $(grep -E "^(fid|kid|pr)[a-z0-9_]*: (precision )?[0-9]" "$OUT/$m.log" | cut -d'(' -f1 | tr '\n' ' ')"
done

echo "== spectrum (1000 images each, seeds 0-999)"
gen() { $S generate --model "$1" --seeds 0-999 --batch 100 --out-npy "$2" "${@:3}" >/dev/null 2>&1; }
gen "$MODEL" "$OUT/const.npy" --noise-mode const
gen "$MODEL" "$OUT/random.npy" --noise-mode random
gen "$OUT/no-noise-32up.safetensors" "$OUT/no32up.npy" --noise-mode random
gen "$OUT/no-noise.safetensors" "$OUT/nonoise.npy" --noise-mode random
python3 "$HERE/spectrum.py" "$DATA/t10k-images-idx3-ubyte.gz" "model, const noise=$OUT/const.npy" \
    "model, random noise=$OUT/random.npy" "no 32x32/Conv0_up noise=$OUT/no32up.npy" \
    "no noise=$OUT/nonoise.npy" | tee "$OUT/spectrum.txt"

echo "== figures"
$S generate --model "$MODEL" --seeds 0-63 --grid "$OUT/samples-psi1.png" --noise-mode const >/dev/null 2>&1
$S generate --model "$MODEL" --seeds 0-63 --grid "$OUT/samples-psi0.7.png" --trunc 0.7 --noise-mode const >/dev/null 2>&1
if [ -n "$CLASSES" ]; then
    # One row per class, the same eight seeds in every row: the README's first image.
    $S generate --model "$MODEL" --classes "0-$((CLASSES - 1))" --seeds 0-7 --grid "$OUT/samples-by-class.png" \
        --noise-mode const >/dev/null 2>&1
fi
for m in "$MODEL" "$OUT/no-noise-32up.safetensors" "$OUT/no-noise.safetensors"; do
    $S generate --model "$m" --seeds 0-15 --grid "$OUT/ablation-$(basename "$m" .safetensors).png" \
        --noise-mode random >/dev/null 2>&1
done
python3 - "$OUT" "$(basename "$MODEL" .safetensors)" <<'EOF'
import sys
from PIL import Image
out, name = sys.argv[1], sys.argv[2]
ims = [Image.open(f"{out}/ablation-{n}.png") for n in (name, "no-noise-32up", "no-noise")]
ims = [im.resize((im.width * 2, im.height * 2), Image.NEAREST) for im in ims]
gap = 16
grid = Image.new("L", (sum(i.width for i in ims) + gap * (len(ims) - 1), ims[0].height), 255)
x = 0
for im in ims:
    grid.paste(im.convert("L"), (x, 0))
    x += im.width + gap
grid.save(f"{out}/noise-ablation.png")
print(f"wrote {out}/noise-ablation.png (model | no 32x32/Conv0_up noise | no noise; seeds 0-15, random noise)")
EOF

echo "== nearest training image"
(cd "$ROOT" && cargo run -q --release --example fmnist_eval -- "$MODEL" "$DATA" 1000) 2>&1 \
    | sed -n '/nearest training image/,$p' | tee "$OUT/nearest.txt"

echo "== the card's tables"
python3 "$HERE/card_tables.py" "$OUT" | tee "$OUT/tables.md"
