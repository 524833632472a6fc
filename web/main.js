// The page: loads the wasm build (web/pkg, made by web/build.sh), opens the GPU and the model,
// and draws what `StyleGan` returns. `window.sgw` exposes the model and `window.sgwReady`
// resolves once it is loaded, for the browser test (web/test/browser.mjs).
import init, { StyleGan } from "./pkg/stylegan_web.js";

const $ = (id) => document.getElementById(id);
const status = (text, err = false) => {
  $("status").textContent = text;
  $("status").className = err ? "err" : "";
};

// The official float-to-byte conversion: clamp(floor(x * 127.5 + 128), 0, 255).
const toByte = (x) => Math.min(255, Math.max(0, Math.floor(Math.fround(Math.fround(x * 127.5) + 128))));

function draw(canvas, data, offset, c, r) {
  canvas.width = r;
  canvas.height = r;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(r, r);
  const plane = r * r;
  for (let p = 0; p < plane; p++) {
    const v = (ch) => toByte(data[offset + (c === 1 ? 0 : ch) * plane + p]);
    img.data[4 * p] = v(0);
    img.data[4 * p + 1] = v(1);
    img.data[4 * p + 2] = v(2);
    img.data[4 * p + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

let model = null;
let adapterName = "";

async function load(bytes) {
  status("opening the GPU and uploading the model…");
  model = await StyleGan.create(bytes);
  window.sgw = model;
  // wgpu leaves the browser adapter's name empty; the page asks WebGPU itself.
  const a = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  const i = a?.info ?? {};
  const what = [i.vendor, i.architecture, i.device, i.description].filter((v) => v).join(" ");
  const binding = a ? `, largest storage binding ${(a.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB` : "";
  adapterName = `${what || "unnamed"} (WebGPU)`;
  $("adapter").textContent = `${what || "unnamed"}${binding} — ${model.adapter()}`;
  $("model").textContent = model.model();
  // The model's truncation_cutoff (8 in official networks), as the CLI's --trunc-cutoff default.
  $("cutoff").value = model.truncation_cutoff();
  status("ready");
}

async function generate() {
  const first = +$("seed").value, n = +$("count").value;
  const seeds = Uint32Array.from({ length: n }, (_, i) => first + i);
  const mix = $("mix").checked ? +$("mixseed").value : -1;
  const t0 = performance.now();
  const data = await model.generate(seeds, +$("psi").value, $("cutoff").value, $("noise").value, mix, +$("mixfrom").value);
  const ms = performance.now() - t0;
  const c = model.channels(), r = model.resolution();
  const grid = $("grid");
  grid.textContent = "";
  for (let i = 0; i < n; i++) {
    const cv = document.createElement("canvas");
    cv.title = `seed ${seeds[i]}`;
    draw(cv, data, i * c * r * r, c, r);
    grid.appendChild(cv);
  }
  $("timing").textContent = `${n} images in ${ms.toFixed(1)} ms (${(ms / n).toFixed(2)} ms per image)`;
  return ms;
}

async function play() {
  const frames = +$("iframes").value;
  const ts = Float32Array.from({ length: frames }, (_, i) => i / (frames - 1));
  const t0 = performance.now();
  const data = await model.interpolate(+$("ia").value, +$("ib").value, ts, +$("psi").value, $("cutoff").value, $("noise").value);
  $("itiming").textContent = `${frames} frames in ${(performance.now() - t0).toFixed(1)} ms`;
  const c = model.channels(), r = model.resolution();
  for (let k = 0; k < 2 * frames - 2; k++) {
    const i = k < frames ? k : 2 * frames - 2 - k; // there and back
    draw($("anim"), data, i * c * r * r, c, r);
    await new Promise((res) => setTimeout(res, 60));
  }
}

async function bench() {
  $("btiming").textContent = "running… (a minute or more on a CPU adapter)";
  const t0 = performance.now();
  const text = await model.bench(true, adapterName);
  $("btiming").textContent = `done in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  const report = JSON.parse(text);
  const rows = report.results.map((r) => {
    const rate = r.gflops !== undefined ? `${r.gflops.toFixed(2)} GFLOP/s` : `${r.gbps.toFixed(2)} GB/s`;
    return `<tr><td>${r.name}</td><td>${r.shape}</td><td>${rate}</td><td>${r.ms.toFixed(3)} ms (${r.timer})</td></tr>`;
  });
  $("bresults").innerHTML = rows.join("");
  $("bjson").hidden = false;
  $("bjson").textContent = text;
  return report;
}

const guard = (f) => async () => {
  try { await f(); } catch (e) { status(String(e), true); console.error(e); }
};
$("go").onclick = guard(generate);
$("play").onclick = guard(play);
$("bench").onclick = guard(bench);
window.sgwBench = bench;
window.sgwLoad = load; // what an upload does, for the browser test
$("file").onchange = guard(async () => {
  const f = $("file").files[0];
  if (f) { await load(new Uint8Array(await f.arrayBuffer())); await generate(); }
});

window.sgwReady = (async () => {
  if (!navigator.gpu) throw new Error("this browser has no WebGPU (navigator.gpu is missing)");
  await init();
  await load(new Uint8Array());
  await generate();
  play(); // not awaited: the animation runs on its own
  return true;
})();
window.sgwReady.catch((e) => { status(String(e), true); console.error(e); });
