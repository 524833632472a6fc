#!/usr/bin/env bash
# Builds the page's WebAssembly into web/pkg/ (run from anywhere):
#   web/build.sh            release build
# Needs the wasm32 target and wasm-bindgen-cli at the version in Cargo.lock:
#   rustup target add wasm32-unknown-unknown
#   cargo install wasm-bindgen-cli --version 0.2.130
# Then serve web/ (any static server), e.g. `python3 -m http.server -d web 8000`, and open
# http://localhost:8000 in a browser with WebGPU.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
want=$(grep -A1 '^name = "wasm-bindgen"$' "$root/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "web/build.sh: wasm-bindgen-cli $want is needed (found: ${have:-none}):" >&2
  echo "  cargo install wasm-bindgen-cli --version $want" >&2
  exit 1
fi
cargo build --manifest-path "$root/Cargo.toml" -p stylegan-web --release --target wasm32-unknown-unknown
wasm-bindgen --target web --no-typescript --out-dir "$root/web/pkg" \
  "$root/target/wasm32-unknown-unknown/release/stylegan_web.wasm"
echo "built $root/web/pkg ($(du -sh "$root/web/pkg" | cut -f1))"
