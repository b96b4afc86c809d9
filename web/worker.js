// worker.js - decodes .lic files off the page's thread (a module worker), so the tab
// stays responsive however long a decode takes.
//
// Messages in:  {id, bytes: Uint8Array}
// Messages out: {id, ok: true, width, height, data (RGBA, transferred), header, weights, timings}
//               {id, ok: false, kind, message, header?}
//
// The WebAssembly module (build/lic_wasm.{mjs,wasm}, tools/build_wasm.sh) is loaded on
// the first message; the weights of each release, family and quality are fetched from
// the site (weights/<release>/...) on first use and kept open for the worker's life
// (web/lic-decoder.js).
import {LicDecoder, LicError} from "./lic-decoder.js";

const site = new URL(".", import.meta.url);
let decoder = null; // Promise of a LicDecoder

async function fetchBytes(path) {
  let response;
  try {
    response = await fetch(new URL(path, site));
  } catch (e) {
    throw new LicError("internal", `${path} could not be fetched from the site (${e.message})`);
  }
  if (response.status === 404) return null;
  if (!response.ok) throw new LicError("internal", `${path}: the site answered HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function load() {
  const wasm = await fetchBytes("build/lic_wasm.wasm");
  let createModule;
  try {
    createModule = (await import("./build/lic_wasm.mjs")).default;
  } catch (e) {
    createModule = null;
  }
  if (!wasm || !createModule) {
    throw new LicError("internal", "this site has no decoder module (build/lic_wasm.wasm): build it with " +
      "tools/build_wasm.sh in a lic-core checkout, or run lic serve, which builds it");
  }
  return LicDecoder.create({createModule, wasmBinary: wasm, fetchBytes});
}

function getDecoder() {
  if (!decoder) {
    decoder = load();
    decoder.catch(() => { decoder = null; });
  }
  return decoder;
}

self.onmessage = async (event) => {
  const {id, bytes} = event.data;
  try {
    const r = await (await getDecoder()).decode(bytes);
    self.postMessage({id, ok: true, width: r.width, height: r.height, data: r.data, header: r.header,
                      weights: r.weights, timings: r.timings}, [r.data.buffer]);
  } catch (e) {
    if (!(e instanceof LicError)) {
      // A trap or an abort (an allocation the module's 1 GB could not hold): the
      // instance is not to be trusted any more; the next file gets a fresh one.
      decoder = null;
      self.postMessage({id, ok: false, kind: "internal",
                        message: `the decoder stopped (${e && e.message ? e.message : e}); it is reloaded ` +
                                 `for the next file`});
      return;
    }
    self.postMessage({id, ok: false, kind: e.kind, message: e.message, header: e.header || null});
  }
};
