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
"$root/target/release/stylegan" generate --seeds 0-3 --out-npy "$out/native.npy"
(cd "$root/web/test" && npm install --no-audit --no-fund --silent)
node "$root/web/test/browser.mjs" "$out/native.npy" "$@"
