// The browser test: serves web/ on 127.0.0.1, opens it in headless Chromium on WebGPU
// (SwiftShader where there is no GPU), generates seeds 0-3 with the embedded model and
// compares the floats with the native `stylegan generate --out-npy` output.
//
//   node browser.mjs NATIVE.npy [--screenshot PNG] [--bench-json FILE] [--chromium PATH]
//                    [--trunc-model MODEL --trunc-native NPY]
//
// Then runs the page's "benchmark in your browser" (the quick kernels suite) and checks its
// JSON. With --trunc-model, uploads that model (one with more than 8 synthesis layers) as a user
// would and checks that ψ 0.7 with the page's default cutoff gives what `stylegan generate
// --seeds 0-3 --trunc 0.7` gives (--trunc-native): the model's truncation_cutoff, not every
// layer. Exits non-zero when the page fails, WebGPU is missing, max |Δ| > 1e-4, or the
// benchmark's report is malformed.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const nativePath = args[0];
if (!nativePath || nativePath.startsWith("--")) {
  console.error("usage: node browser.mjs NATIVE.npy [--screenshot PNG] [--chromium PATH]");
  process.exit(2);
}
const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SEEDS = [0, 1, 2, 3];
const TOL = 1e-4;

function readNpyF32(file) {
  const b = fs.readFileSync(file);
  if (b.toString("latin1", 1, 6) !== "NUMPY") throw new Error(`${file}: not a .npy file`);
  const hlen = b[6] === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = b[6] === 1 ? 10 + hlen : 12 + hlen;
  const header = b.toString("latin1", start - hlen, start);
  if (!header.includes("'<f4'")) throw new Error(`${file}: expected float32, header ${header}`);
  const shape = header.match(/\(([^)]*)\)/)[1].split(",").filter((s) => s.trim()).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length));
  return { shape, data };
}

function maxDiff(browserData, nativeData) {
  const n = nativeData.length;
  if (browserData.length !== n) throw new Error(`browser gave ${browserData.length} values, native ${n}`);
  let m = 0;
  for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(browserData[i] - nativeData[i]));
  return m;
}

const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".png": "image/png" };
const truncModel = opt("--trunc-model");
const truncNative = opt("--trunc-native");
if (!truncModel !== !truncNative) {
  console.error("--trunc-model and --trunc-native go together");
  process.exit(2);
}
const server = http.createServer((req, res) => {
  const rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
  if (rel === "/test-model.safetensors" && truncModel) {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    fs.createReadStream(truncModel).pipe(res);
    return;
  }
  const file = path.join(webDir, rel === "/" ? "index.html" : rel);
  if (!file.startsWith(webDir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
    res.writeHead(404).end("not found");
    return;
  }
  res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await puppeteer.launch({
  executablePath: opt("--chromium") ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--enable-unsafe-webgpu",
    "--use-webgpu-adapter=swiftshader",
    "--enable-unsafe-swiftshader",
    "--window-size=1000,900",
  ],
});
let failed = false;
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1000, height: 900 });
  page.on("console", (m) => console.log(`[page] ${m.text()}`));
  page.on("pageerror", (e) => console.log(`[page error] ${e.message}`));
  await page.goto(url, { waitUntil: "load" });
  await page.evaluate(() => window.sgwReady);
  const info = await page.evaluate(() => ({ adapter: window.sgw.adapter(), model: window.sgw.model() }));
  console.log(`adapter: ${info.adapter}\nmodel: ${info.model}`);

  // Seeds 0-3, no truncation, the stored noise: what `stylegan generate --seeds 0-3` makes.
  // The first call compiles the pipelines; the timed ones after it reuse them.
  const run = () =>
    page.evaluate(async (seeds) => {
      const t0 = performance.now();
      const data = await window.sgw.generate(Uint32Array.from(seeds), 1, "model", "const", -1, 0);
      return { ms: performance.now() - t0, data: Array.from(data) };
    }, SEEDS);
  const first = await run();
  const times = [];
  for (let i = 0; i < 3; i++) times.push((await run()).ms);
  times.sort((a, b) => a - b);
  const native = readNpyF32(nativePath);
  const n = native.data.length;
  const maxAbs = maxDiff(first.data, native.data);
  console.log(`seeds ${SEEDS.join(",")}: ${n} values, max |browser - native| = ${maxAbs.toExponential(3)} (tolerance ${TOL})`);
  console.log(`first call (pipelines compiled) ${first.ms.toFixed(1)} ms; then median ${times[1].toFixed(1)} ms for ${SEEDS.length} images = ${(times[1] / SEEDS.length).toFixed(2)} ms per image`);
  if (!(maxAbs <= TOL)) failed = true;

  // The interpolation path runs and gives finite frames.
  const frames = await page.evaluate(async () => {
    const d = await window.sgw.interpolate(1, 2, Float32Array.from([0, 0.5, 1]), 1, "model", "const");
    return { len: d.length, finite: d.every(Number.isFinite) };
  });
  console.log(`interpolation: ${frames.len} values, all finite: ${frames.finite}`);
  if (!frames.finite || frames.len !== (3 * n) / SEEDS.length) failed = true;

  // "Benchmark in your browser": the quick kernels suite, in the CLI's JSON layout.
  const tb = performance.now();
  const report = await page.evaluate(async () => await window.sgwBench());
  const secs = (performance.now() - tb) / 1000;
  const rates = report.results.map((r) => r.gflops ?? r.gbps);
  const okBench =
    report.schema === "stylegan-wgpu-bench" && report.schema_version === 1 &&
    report.suite === "kernels" && report.quick === true && report.results.length >= 8 &&
    rates.every((v) => Number.isFinite(v) && v > 0) && report.adapter.length > 0;
  console.log(`browser bench: ${report.results.length} cases (${report.skipped.length} skipped) in ${secs.toFixed(1)} s on "${report.adapter}", timer ${report.results[0]?.timer}; JSON layout ${okBench ? "ok" : "WRONG"}`);
  for (const r of report.results) {
    const rate = r.gflops !== undefined ? `${r.gflops.toFixed(2)} GFLOP/s` : `${r.gbps.toFixed(2)} GB/s`;
    console.log(`  ${r.name.padEnd(24)} ${r.shape.padEnd(30)} ${rate}`);
  }
  if (!okBench) failed = true;
  const benchJson = opt("--bench-json");
  if (benchJson) {
    fs.writeFileSync(benchJson, JSON.stringify(report, null, 2) + "\n");
    console.log(`wrote ${benchJson}`);
  }

  const shot = opt("--screenshot");
  if (shot) {
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`wrote ${shot}`);
  }

  if (truncModel) {
    // An upload, then ψ 0.7 with whatever cutoff the page's field shows by default.
    const t = await page.evaluate(async (seeds) => {
      const bytes = new Uint8Array(await (await fetch("/test-model.safetensors")).arrayBuffer());
      await window.sgwLoad(bytes);
      const cutoff = document.getElementById("cutoff").value;
      const data = await window.sgw.generate(Uint32Array.from(seeds), 0.7, cutoff, "const", -1, 0);
      return { cutoff, layers: window.sgw.num_layers(), data: Array.from(data) };
    }, SEEDS);
    const d = maxDiff(t.data, readNpyF32(truncNative).data);
    const okField = t.cutoff === "8" && t.layers > 8;
    console.log(`uploaded model with ${t.layers} layers: the page's default cutoff is ${t.cutoff} (want 8); ψ 0.7 max |browser - native --trunc 0.7| = ${d.toExponential(3)}`);
    if (!okField || !(d <= TOL)) failed = true;
  }
} catch (e) {
  console.error(`browser test: ${e.stack ?? e}`);
  failed = true;
} finally {
  await browser.close();
  server.close();
}
console.log(failed ? "FAILED" : "ok");
process.exit(failed ? 1 : 0);
