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
// The buttons and the file chooser: off until a model is on the GPU, so a page without WebGPU
// keeps its message instead of a TypeError from a click.
const controls = ["embedded", "file", "go", "play", "bench"];
const enable = (on) => controls.forEach((id) => { $(id).disabled = !on; });

// Each action takes a number; its success clears the status only while no later action has
// started, so a background animation finishing does not wipe a newer error.
let latest = 0;
const errorText = (e) => (e instanceof Error ? e.message : String(e));
const guard = (busy, f) => async () => {
  const mine = ++latest;
  status(busy);
  try {
    await f();
    if (mine === latest) status("ready");
    return true;
  } catch (e) {
    status(errorText(e), true);
    console.error(e);
    return false;
  }
};

// The animation running now: a new Play or a new model bumps it, and a loop whose number is
// no longer current stops, so it never draws one model's frames with another's shape.
let animation = 0;

// `bytes`: an uploaded model file; none: the embedded model.
async function load(bytes) {
  status("opening the GPU and uploading the model…");
  const m = bytes ? await StyleGan.create(bytes) : await StyleGan.embedded();
  animation++;
  model = m;
  window.sgw = m;
  // wgpu leaves the browser adapter's name empty; the page asks WebGPU itself.
  const a = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  const i = a?.info ?? {};
  const what = [i.vendor, i.architecture, i.device, i.description].filter((v) => v).join(" ");
  const binding = a ? `, largest storage binding ${(a.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB` : "";
  adapterName = `${what || "unnamed"} (WebGPU)`;
  $("adapter").textContent = `${what || "unnamed"}${binding} — ${m.adapter()}`;
  $("model").textContent = m.model();
  const max = m.max_images();
  $("count").title = `1 to ${max}: the images one GPU pass holds for this model on this adapter`;
  $("iframes").title = `2 to ${Math.min(max, 10000)}`;
  // The model's truncation_cutoff (8 in official networks), as the CLI's --trunc-cutoff default.
  $("cutoff").value = m.truncation_cutoff();
  // Class-conditional models: a class for every image, or each seed's own.
  const classes = m.classes();
  const sel = $("class");
  sel.textContent = "";
  sel.append(new Option("from the seed", ""));
  classes.forEach((name, i) => sel.append(new Option(name === String(i) ? name : `${i} ${name}`, String(i))));
  $("classbox").hidden = classes.length === 0;
}

async function generate() {
  const m = model;
  const t0 = performance.now();
  // The fields as typed: the wasm side checks them (stylegan_wgpu::limits, as the CLI).
  const data = await m.generate($("seed").value, $("count").value, $("psi").value, $("cutoff").value,
    $("noise").value, $("mix").checked, $("mixseed").value, $("mixfrom").value, $("class").value);
  const ms = performance.now() - t0;
  if (m !== model) return ms; // another model came meanwhile: its own call draws the grid
  const c = m.channels(), r = m.resolution(), n = data.length / (c * r * r);
  const first = Number($("seed").value.trim());
  const grid = $("grid");
  grid.textContent = "";
  for (let i = 0; i < n; i++) {
    const cv = document.createElement("canvas");
    cv.title = `seed ${first + i}`;
    draw(cv, data, i * c * r * r, c, r);
    grid.appendChild(cv);
  }
  $("timing").textContent = `${n} images in ${ms.toFixed(1)} ms (${(ms / n).toFixed(2)} ms per image)`;
  return ms;
}

// Computes the frames, then animates them without being awaited (until the next Play or model).
async function play() {
  const m = model, mine = ++animation;
  const t0 = performance.now();
  const data = await m.interpolate($("ia").value, $("ib").value, $("iframes").value, $("psi").value,
    $("cutoff").value, $("noise").value, $("class").value);
  if (mine !== animation) return;
  const c = m.channels(), r = m.resolution(), frames = data.length / (c * r * r);
  $("itiming").textContent = `${frames} frames in ${(performance.now() - t0).toFixed(1)} ms`;
  (async () => {
    for (let k = 0; k < 2 * frames - 2 && mine === animation; k++) {
      const i = k < frames ? k : 2 * frames - 2 - k; // there and back
      draw($("anim"), data, i * c * r * r, c, r);
      await new Promise((res) => setTimeout(res, 60));
    }
  })();
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

$("go").onclick = guard("generating…", generate);
$("play").onclick = guard("interpolating…", play);
$("bench").onclick = guard("benchmarking…", bench);
$("embedded").onclick = guard("loading the embedded model…", async () => { await load(); await generate(); });
window.sgwBench = bench;
window.sgwLoad = load; // what an upload does, for the browser test
$("file").onchange = guard("reading the model file…", async () => {
  const f = $("file").files[0];
  $("file").value = ""; // choosing the same file again is a new upload
  if (f) { await load(new Uint8Array(await f.arrayBuffer())); await generate(); }
});

window.sgwReady = (async () => {
  if (!navigator.gpu) {
    throw new Error("this browser has no WebGPU (navigator.gpu is missing): open the page in a browser with WebGPU, e.g. a recent Chrome or Edge");
  }
  await init();
  const ok = await guard("starting…", async () => { await load(); enable(true); await generate(); })();
  if (!ok) throw new Error($("status").textContent);
  guard("interpolating…", play)(); // not awaited: the animation runs on its own
  return true;
})();
window.sgwReady.catch((e) => {
  if (!$("status").classList.contains("err")) status(errorText(e), true);
  console.error(e);
});
