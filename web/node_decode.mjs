// node_decode.mjs - the page's decoder (web/lic-decoder.js and the WebAssembly module)
// under node, without a browser: for a quick check of a build, and for tests/web/test_web.py
// where no browser is installed.
//
//   node --no-experimental-fetch web/node_decode.mjs [--release LABEL=DIR]... [--rgb OUT] FILE.lic...
//
// Each --release maps a release label to the folder holding its RELEASE.json and
// decoder weights files (lic_core.zoo.release.release_folders lists an installation's).
// For each file, one line of JSON: {"file", "width", "height", "rgb_sha256", "decode_ms",
// "memory_bytes" (the module's memory after it), "header"} or {"file", "error", "kind"}; with --rgb OUT the RGB bytes of the last file
// decoded are written to OUT. Exit status 0, or 1 if any file failed.
// (--no-experimental-fetch: node 18-20's fetch makes Emscripten's glue try to fetch the
// module; this script hands it the bytes, but the flag keeps the glue on its file path.)
import {createHash} from "node:crypto";
import {createRequire} from "node:module";
import {existsSync, readFileSync, writeFileSync} from "node:fs";
import {dirname, join} from "node:path";
import {fileURLToPath} from "node:url";

import {LicDecoder} from "./lic-decoder.js";

const here = dirname(fileURLToPath(import.meta.url));
// The Emscripten 3.1 ES-module glue reaches for CommonJS names under node.
globalThis.require = createRequire(import.meta.url);
globalThis.__dirname = join(here, "build");

const releases = new Map();
const files = [];
let rgbOut = null;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; ++i) {
  if (argv[i] === "--release") {
    const [label, dir] = argv[++i].split(/=(.*)/s);
    releases.set(label, dir);
  } else if (argv[i] === "--rgb") {
    rgbOut = argv[++i];
  } else {
    files.push(argv[i]);
  }
}

function fetchBytes(path) {
  if (path === "weights/releases.json") {
    return new TextEncoder().encode(JSON.stringify({releases: [...releases.keys()]}));
  }
  const m = /^weights\/([^/]+)\/([^/]+)$/.exec(path);
  const dir = m && releases.get(decodeURIComponent(m[1]));
  const file = dir && join(dir, decodeURIComponent(m[2]));
  return file && existsSync(file) ? new Uint8Array(readFileSync(file)) : null;
}

const {default: createModule} = await import("./build/lic_wasm.mjs");
const dec = await LicDecoder.create({
  createModule, wasmBinary: readFileSync(join(here, "build", "lic_wasm.wasm")), fetchBytes: async (p) => fetchBytes(p),
});
let failed = 0;
for (const file of files) {
  try {
    const r = await dec.decode(new Uint8Array(readFileSync(file)));
    const rgb = Buffer.alloc(r.width * r.height * 3);
    for (let i = 0, j = 0; i < r.data.length; i += 4, j += 3) {
      rgb[j] = r.data[i];
      rgb[j + 1] = r.data[i + 1];
      rgb[j + 2] = r.data[i + 2];
    }
    if (rgbOut) writeFileSync(rgbOut, rgb);
    console.log(JSON.stringify({
      file, width: r.width, height: r.height, rgb_sha256: createHash("sha256").update(rgb).digest("hex"),
      decode_ms: r.timings.decodeMs, memory_bytes: dec.m.HEAPU8.length, header: r.header,
    }));
  } catch (e) {
    failed += 1;
    console.log(JSON.stringify({file, error: e.message, kind: e.kind || "internal"}));
  }
}
process.exit(failed ? 1 : 0);
