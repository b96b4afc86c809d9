// app.js - the page: open, drop or pick a sample .lic file, decode it in the worker
// (web/worker.js), show the image, its header and the timings, or a clear message.
//
// For scripts and tests:
//   window.lic.decode(bytes)      bytes: a Uint8Array (or ArrayBuffer) of a whole .lic file.
//                                 A Promise of {width, height, data}, data the RGBA pixels
//                                 as a Uint8ClampedArray (ImageData's layout); rejects with
//                                 an Error whose message is the one the page shows.
//   window.lic.decodeFile(bytes, name)   the same, with everything the page shows
//                                 ({header, weights, timings, ...}; timings.decodeMs is the
//                                 engine's decode alone, roundTripMs the whole call).
//   window.lic.ready              a Promise resolved once the page is set up.
// Every call shows its result (or its error) on the page, as a file opened by hand does.

import {STREAM_NAMES} from "./lic-decoder.js";

const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL("./worker.js", import.meta.url), {type: "module"});
const pending = new Map();
let nextId = 1;

worker.onmessage = (event) => {
  const reply = event.data;
  const p = pending.get(reply.id);
  if (!p) return;
  pending.delete(reply.id);
  p(reply);
};
worker.onerror = (event) => {
  // the worker script itself failed to load: every call in flight gets the reason
  const message = `the decoder's worker could not start (${event.message || "worker.js failed to load"})`;
  for (const [id, p] of pending) p({id, ok: false, kind: "internal", message});
  pending.clear();
};

function request(bytes) {
  return new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    worker.postMessage({id, bytes}); // copied: the caller keeps its array
  });
}

const TITLES = {
  damaged: "Damaged or truncated file",
  unsupported: "Not a file this decoder reads",
  "float-synthesis": "A file of float synthesis: decode it with the lic CLI",
  release: "This site does not have the weights this file needs",
  weights: "Weights problem",
  "too-large": "Too large to decode here",
  internal: "The decoder failed",
};

function fmtBytes(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e4 ? `${(n / 1e3).toFixed(1)} kB` : `${n} bytes`;
}

function showHeader(name, h) {
  const pixels = h.width * h.height;
  const names = STREAM_NAMES[h.model] || h.streams.map((_, i) => `s${i}`);
  const payload = h.streams.reduce((a, b) => a + b, 0);
  const rows = [
    ["file", `${name} (${fmtBytes(h.bytes)})`],
    ["format", `.lic version ${h.version}`],
    ["model", `${h.model} (id ${h.model_id}), quality ${h.quality}`],
    ["weights", h.release ? `zoo release ${h.release}, fingerprint ${h.fingerprint}` : "not from the zoo"],
    ["probability path", h.probability_path ? "exact (integer networks or stored tables)" : "float32 networks"],
    ["synthesis path", h.synthesis ? "exact integer synthesis (the same pixels everywhere)" : "float32 (decode with the lic CLI)"],
    ["image", `${h.width} x ${h.height} (${pixels} pixels)`],
    ["latents", h.latents.map(([a, b]) => `${a}x${b}`).join(", ")],
    ["header", `${h.header_bytes} bytes`],
    ...h.streams.map((n, i) => [`stream ${names[i] || `s${i}`}`, `${n} bytes (${(8 * n / pixels).toFixed(4)} bpp)`]),
    ["bpp", `${(8 * h.bytes / pixels).toFixed(4)} (file), ${(8 * payload / pixels).toFixed(4)} (streams)`],
  ];
  const table = $("header");
  table.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    const td = document.createElement("td");
    th.textContent = k;
    td.textContent = v;
    td.dataset.field = k;
    tr.append(th, td);
    return tr;
  }));
}

function showError(name, reply) {
  const box = $("error");
  box.hidden = false;
  $("error-title").textContent = TITLES[reply.kind] || TITLES.internal;
  $("error-message").textContent = `${name}: ${reply.message}`;
  $("image").hidden = true;
  if (reply.header) showHeader(name, reply.header);
  else $("header").replaceChildren();
  $("timing").textContent = "";
  document.body.dataset.state = "error";
}

function showImage(name, r) {
  $("error").hidden = true;
  const canvas = $("image");
  canvas.width = r.width;
  canvas.height = r.height;
  canvas.getContext("2d").putImageData(new ImageData(r.data, r.width, r.height), 0, 0);
  canvas.hidden = false;
  showHeader(name, r.header);
  const w = r.weights;
  const first = w.fetchMs !== undefined && !r.weightsCached
    ? `; weights ${w.file} (${fmtBytes(w.bytes)}) fetched in ${w.fetchMs.toFixed(0)} ms, opened in ${w.openMs.toFixed(0)} ms`
    : "";
  $("timing").textContent = `decoded in ${r.timings.decodeMs.toFixed(0)} ms (WebAssembly, one thread)${first}`;
  document.body.dataset.state = "decoded";
}

const seenWeights = new Set();

async function decodeFile(input, name = "this file") {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  $("status").textContent = `decoding ${name} ...`;
  document.body.dataset.state = "busy";
  const t0 = performance.now();
  const reply = await request(bytes);
  $("status").textContent = "";
  if (!reply.ok) {
    showError(name, reply);
    const error = new Error(reply.message);
    error.kind = reply.kind;
    throw error;
  }
  reply.timings.roundTripMs = performance.now() - t0;
  reply.weightsCached = seenWeights.has(reply.weights.file);
  seenWeights.add(reply.weights.file);
  showImage(name, reply);
  return reply;
}

async function decode(bytes) {
  const r = await decodeFile(bytes);
  return {width: r.width, height: r.height, data: r.data};
}

async function openFile(file) {
  try {
    await decodeFile(new Uint8Array(await file.arrayBuffer()), file.name);
  } catch (e) {
    // shown on the page already
  }
}

async function setUp() {
  $("file").addEventListener("change", (e) => {
    if (e.target.files.length) openFile(e.target.files[0]);
  });
  document.addEventListener("dragover", (e) => {
    e.preventDefault();
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    document.body.classList.remove("dragging");
    if (e.dataTransfer.files.length) openFile(e.dataTransfer.files[0]);
  });
  try {
    const response = await fetch("samples/index.json");
    const samples = response.ok ? (await response.json()).samples : [];
    $("samples").replaceChildren(...samples.map((s) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = s.title;
      button.title = s.file;
      button.addEventListener("click", async () => {
        const r = await fetch(`samples/${s.file}`);
        if (r.ok) {
          try { await decodeFile(new Uint8Array(await r.arrayBuffer()), s.file); } catch (e) { /* shown */ }
        }
      });
      return button;
    }));
  } catch (e) {
    // no samples on this site
  }
}

window.lic = {decode, decodeFile, ready: setUp()};
