// The gate's page at `/`: one self-contained HTML document (inline CSS and script, no network beyond this server).
// Pick or drop images; each is scored through POST /v1/score?reconstruction=1 and shown with its reconstruction,
// its score, the decision, the p-value, and where the score falls on the ID calibration histogram (GET /v1/info).
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>oodgen gate</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
  #info { color: #555; margin-bottom: 1rem; }
  #drop { border: 2px dashed #999; border-radius: 8px; padding: 1.5rem; text-align: center; margin-bottom: 1rem; }
  #drop.over { border-color: #2a6; background: #f0fff4; }
  .result { display: flex; gap: 1rem; align-items: center; border: 1px solid #ddd; border-radius: 8px; padding: .6rem; margin: .5rem 0; }
  .result img { width: 64px; height: 64px; image-rendering: pixelated; border: 1px solid #ccc; }
  .decision { font-weight: bold; padding: .1rem .5rem; border-radius: 4px; }
  .decision.id { background: #d4f5dd; color: #185; }
  .decision.ood { background: #fbd9d9; color: #a22; }
  .error { color: #a22; }
  .hist rect { fill: #8aa8d8; } .hist .thr { stroke: #555; stroke-dasharray: 3 2; } .hist .mark { stroke: #d22; stroke-width: 2; }
  .hist text { font-size: 10px; fill: #444; }
</style>
</head>
<body>
<h1>oodgen OoD gate</h1>
<div id="info">loading model information…</div>
<div id="drop">Drop PNG or JPEG images here, or <input id="files" type="file" accept="image/png,image/jpeg" multiple></div>
<div id="results"></div>
<script>
"use strict";
let INFO = null;
const $ = (s) => document.querySelector(s);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const fmt = (v) => (v === null || v === undefined ? "n/a" : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(3) : v.toFixed(3));

async function loadInfo() {
  const r = await fetch("/v1/info");
  INFO = await r.json();
  $("#info").textContent = "detector " + INFO.detector + " (" + INFO.description + "); threshold " + fmt(INFO.threshold) +
    " at TPR " + INFO.tpr + " on " + INFO.calibration.n + " images of " + INFO.calibration.data +
    "; input " + INFO.input.channels + "x" + INFO.input.size + "x" + INFO.input.size;
}

// The ID calibration histogram as SVG, with the threshold (dashed) and this image's score (red).
function histogramSvg(score) {
  if (!INFO) return "";
  const h = INFO.histogram, W = 260, H = 70, n = h.counts.length;
  const lo = h.edges[0], hi = h.edges[n];
  const span = hi > lo ? hi - lo : 1;
  const max = Math.max(...h.counts, 1);
  const x = (v) => Math.max(0, Math.min(W, ((v - lo) / span) * W));
  let bars = "";
  for (let i = 0; i < n; i++) {
    const bh = (h.counts[i] / max) * (H - 14);
    bars += '<rect x="' + x(h.edges[i]) + '" y="' + (H - 12 - bh) + '" width="' + Math.max(1, W / n - 1) + '" height="' + bh + '"/>';
  }
  const thr = '<line class="thr" x1="' + x(INFO.threshold) + '" x2="' + x(INFO.threshold) + '" y1="0" y2="' + (H - 12) + '"/>';
  const off = score === null ? "" : score > hi ? " &#8594;" : score < lo ? " &#8592;" : "";
  const mark = score === null ? "" : '<line class="mark" x1="' + x(score) + '" x2="' + x(score) + '" y1="0" y2="' + (H - 12) + '"/>';
  return '<svg class="hist" width="' + W + '" height="' + H + '" role="img" aria-label="ID calibration histogram">' + bars + thr + mark +
    '<text x="0" y="' + (H - 1) + '">' + fmt(lo) + '</text><text x="' + (W - 50) + '" y="' + (H - 1) + '">' + fmt(hi) + off + "</text></svg>";
}

function readDataUrl(file) {
  return new Promise((resolve, reject) => {
    const fr = new FileReader();
    fr.onload = () => resolve(fr.result);
    fr.onerror = () => reject(fr.error);
    fr.readAsDataURL(file);
  });
}

async function scoreFile(file) {
  const card = document.createElement("div");
  card.className = "result";
  card.dataset.name = file.name;
  card.innerHTML = "<span>" + esc(file.name) + ": scoring…</span>";
  $("#results").prepend(card);
  try {
    const url = await readDataUrl(file);
    const r = await fetch("/v1/score?reconstruction=1", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ images: [url] }) });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error ? body.error.message : "HTTP " + r.status);
    const res = body.results[0];
    card.innerHTML =
      '<img alt="input" src="' + url + '"><img class="rec" alt="reconstruction" src="' + res.reconstruction + '">' +
      "<div><div><b>" + esc(file.name) + '</b> <span class="decision ' + (res.ood ? "ood" : "id") + '">' + (res.ood ? "OoD" : "ID") + "</span></div>" +
      '<div>score <span class="score">' + fmt(res.score) + "</span> (threshold " + fmt(res.threshold) + '), p-value <span class="pvalue">' + fmt(res.pValue) + "</span></div></div>" +
      histogramSvg(res.score);
    card.dataset.done = "1";
  } catch (e) {
    card.innerHTML = '<span class="error">' + esc(file.name) + ": " + esc(e.message) + "</span>";
    card.dataset.done = "error";
  }
}

async function scoreFiles(files) {
  if (!INFO) await loadInfo();
  for (const f of files) await scoreFile(f);
}

$("#files").addEventListener("change", (e) => scoreFiles([...e.target.files]));
const drop = $("#drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); scoreFiles([...e.dataTransfer.files]); });
loadInfo().catch((e) => { $("#info").textContent = "cannot load /v1/info: " + e.message; });
</script>
</body>
</html>
`;
