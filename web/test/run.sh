#!/usr/bin/env bash
# The browser test end to end: builds the page (web/build.sh), the native reference
# (`stylegan generate --seeds 0-3 --out-npy`), installs puppeteer-core from the npm registry and
# runs web/test/browser.mjs in Debian's headless Chromium. Extra arguments go to browser.mjs
# (e.g. --screenshot web/screenshot.png).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
"$root/web/build.sh"
cargo build --manifest-path "$root/Cargo.toml" --release --bin stylegan
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
sg="$root/target/release/stylegan"
"$sg" generate --seeds 0-3 --out-npy "$out/native.npy"
# A 64² model has 10 synthesis layers: truncation's default (the model's cutoff, 8) shows.
"$sg" init --preset tiny --resolution 64 --seed 5 --out "$out/m64.safetensors"
"$sg" generate --model "$out/m64.safetensors" --seeds 0-3 --trunc 0.7 --out-npy "$out/m64.npy"
# A class-conditional model with named classes, and its class-2 images.
"$sg" init --preset tiny --resolution 16 --label-size 3 --class-names bag,shoe,shirt --seed 6 \
  --out "$out/cond.safetensors"
"$sg" generate --model "$out/cond.safetensors" --seeds 0-3 --class 2 --out-npy "$out/cond.npy"
(cd "$root/web/test" && npm install --no-audit --no-fund --silent)
node "$root/web/test/browser.mjs" "$out/native.npy" \
  --trunc-model "$out/m64.safetensors" --trunc-native "$out/m64.npy" \
  --cond-model "$out/cond.safetensors" --cond-native "$out/cond.npy" "$@"
