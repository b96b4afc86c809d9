// lic-decoder.js - the engine's WebAssembly decoder behind a small JavaScript face.
//
// Environment-free: web/worker.js runs it in the browser (fetch), web/node_decode.mjs
// under node (files). Everything about the format comes from the engine: the header is
// read by lic_file_read_header, the pixels by lic_file_decoder_decode (one thread). What
// lives here is what a site adds: where a release's weights are, checking them against
// the release's RELEASE.json, keeping each weights file open once, and the messages.
//
//   const dec = await LicDecoder.create({createModule, wasmBinary, fetchBytes});
//   dec.header(bytes)        -> the header (lic_wasm_header's JSON), or throws LicError
//   await dec.decode(bytes)  -> {width, height, data: Uint8ClampedArray RGBA, header, timings}
//
// fetchBytes(path) returns a Uint8Array, or null when the site has no such file; paths
// are "weights/releases.json", "weights/<release>/RELEASE.json" and
// "weights/<release>/<file>" (the layout lic serve gives, docs/web.md).

// lic_status values (csrc/lic/status.h)
export const STATUS = {
  OK: 0, INVALID_ARGUMENT: 1, INVALID_TABLE: 2, INDEX_OUT_OF_RANGE: 3, CORRUPT_STREAM: 4,
  TRUNCATED_STREAM: 5, UNSUPPORTED_FORMAT: 6, OUT_OF_MEMORY: 7, LIMIT_EXCEEDED: 8,
  SYMBOL_OUT_OF_RANGE: 9, CONTAINER: 10, WEIGHTS: 11,
};

// The streams of each family, in file order (lic_core.zoo.registry's stream_names).
export const STREAM_NAMES = {
  factorized: ["y"], hyperprior: ["y", "z"], "mean-scale": ["y", "z"], joint: ["y", "z"],
  "space-channel": ["y", "z"],
};

const DECODER_SUFFIX = ".decoder.safetensors";

// An error with a kind the page shows: "damaged", "float-synthesis", "release",
// "weights", "too-large", "internal".
export class LicError extends Error {
  constructor(kind, message, status = null) {
    super(message);
    this.name = "LicError";
    this.kind = kind;
    this.status = status;
  }
}

// The decoder weights file of `family` that holds `quality`, from a release's manifest
// ({"release", "files": {name: sha256}}): <family>-q<A>[-<B>].decoder.safetensors with
// A <= quality <= B, a one-quality file winning over a range. This is the engine's rule
// (csrc/lic/decoder.cpp, open_release_decoder), for a site whose files are fetched one by
// one. Returns [name, sha256] or null.
export function pickDecoderFile(manifest, family, quality) {
  const prefix = `${family}-q`;
  let pick = null;
  let single = false;
  for (const [name, digest] of Object.entries(manifest.files || {})) {
    if (!name.startsWith(prefix) || !name.endsWith(DECODER_SUFFIX)) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(name.slice(prefix.length, name.length - DECODER_SUFFIX.length));
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a <= quality && quality <= b && (!pick || (a === b && !single))) {
      pick = [name, digest];
      single = a === b;
    }
  }
  return pick && typeof pick[1] === "string" ? pick : null;
}

function now() {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}

export class LicDecoder {
  // createModule: the Emscripten factory (web/build/lic_wasm.mjs); wasmBinary: the
  // module's bytes; fetchBytes: see above.
  static async create({createModule, wasmBinary, fetchBytes}) {
    const module = await createModule({wasmBinary, print: () => {}, printErr: () => {}});
    return new LicDecoder(module, fetchBytes);
  }

  constructor(module, fetchBytes) {
    this.m = module;
    this.fetchBytes = fetchBytes;
    this.decoders = new Map(); // "<release>/<file>" -> Promise of a lic_file_decoder*
    this.releases = undefined; // labels from weights/releases.json (null: the site has none)
  }

  // Copies bytes into the module's memory; the caller frees the pointer.
  copyIn(bytes) {
    const ptr = this.m._malloc(Math.max(bytes.length, 1));
    if (!ptr) throw new LicError("too-large", `out of memory for ${bytes.length} bytes`);
    this.m.HEAPU8.set(bytes, ptr);
    return ptr;
  }

  lastError() {
    return this.m.UTF8ToString(this.m._lic_wasm_error());
  }

  // The header of a whole .lic file (CRCs checked), as lic_wasm_header writes it.
  header(bytes) {
    const data = this.copyIn(bytes);
    const cap = 4096;
    const text = this.m._malloc(cap);
    try {
      const st = this.m._lic_wasm_header(data, bytes.length, text, cap);
      if (st !== STATUS.OK) throw this.fileError(st);
      return JSON.parse(this.m.UTF8ToString(text));
    } finally {
      this.m._free(text);
      this.m._free(data);
    }
  }

  // The engine's message for a failed call on a file, with the kind the page shows.
  fileError(st) {
    const message = this.lastError() || `error ${st}`;
    if (st === STATUS.WEIGHTS) return new LicError("weights", message, st);
    if (st === STATUS.LIMIT_EXCEEDED) return new LicError("too-large", message, st);
    if (st === STATUS.OUT_OF_MEMORY) return new LicError("too-large", `out of memory: ${message}`, st);
    if (st === STATUS.UNSUPPORTED_FORMAT) return new LicError("unsupported", message, st);
    return new LicError("damaged", message, st);
  }

  async releaseLabels() {
    if (this.releases === undefined) {
      const bytes = await this.fetchBytes("weights/releases.json");
      this.releases = bytes ? JSON.parse(new TextDecoder().decode(bytes)).releases : null;
    }
    return this.releases;
  }

  // An open decoder for (release, family, quality): fetched, checked against the
  // release's RELEASE.json, opened once per file and kept.
  async decoderFor(header) {
    const {release, model, quality} = header;
    const labels = await this.releaseLabels();
    const missing = () => new LicError("release",
      `this file needs the weights release '${release}', which this site does not have` +
      (labels && labels.length ? ` (it has ${labels.join(", ")})` : "") +
      `: decode it with the lic CLI where that release is installed (lic decompress FILE)`);
    if (labels && !labels.includes(release)) throw missing();
    const base = `weights/${encodeURIComponent(release)}/`;
    const manifestBytes = await this.fetchBytes(`${base}RELEASE.json`);
    if (!manifestBytes) throw missing();
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
    if (manifest.release !== release) {
      throw new LicError("weights", `weights/${release}/RELEASE.json is the release '${manifest.release}'`);
    }
    const pick = pickDecoderFile(manifest, model, quality);
    if (!pick) {
      throw new LicError("weights", `the weights release '${release}' has no decoder file for ${model} ` +
        `quality ${quality}`);
    }
    const [name, digest] = pick;
    const key = `${release}/${name}`;
    if (!this.decoders.has(key)) {
      const opening = this.openWeights(base + encodeURIComponent(name), key, digest);
      this.decoders.set(key, opening);
      opening.catch(() => this.decoders.delete(key)); // a failed fetch is tried again next time
    }
    return this.decoders.get(key);
  }

  async openWeights(path, key, digest) {
    const t0 = now();
    const bytes = await this.fetchBytes(path);
    if (!bytes) throw new LicError("weights", `the site lists ${key} in its RELEASE.json but does not serve it`);
    const t1 = now();
    const found = await this.sha256(bytes);
    const ptr = this.copyIn(bytes);
    try {
      if (found !== digest) {
        throw new LicError("weights", `${key} is not the file released (its SHA-256 ${found} differs from ` +
          `RELEASE.json's ${digest})`);
      }
      const d = this.m._lic_wasm_open(ptr, bytes.length);
      if (!d) throw new LicError("weights", `${key}: ${this.lastError()}`);
      return {handle: d, key, bytes: bytes.length, fetchMs: t1 - t0, openMs: now() - t1};
    } finally {
      this.m._free(ptr);
    }
  }

  // SHA-256 of bytes as 64 hex digits: the platform's (Web Crypto: a secure context,
  // such as a page from 127.0.0.1, https or node; about ten times the speed), else the
  // engine's (lic_sha256).
  async sha256(bytes) {
    const subtle = globalThis.crypto && globalThis.crypto.subtle;
    if (subtle) {
      const d = new Uint8Array(await subtle.digest("SHA-256", bytes));
      return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
    }
    const ptr = this.copyIn(bytes);
    const hex = this.m._malloc(65);
    try {
      this.m._lic_wasm_sha256_hex(ptr, bytes.length, hex);
      return this.m.UTF8ToString(hex);
    } finally {
      this.m._free(hex);
      this.m._free(ptr);
    }
  }

  // Decodes a whole .lic file (a Uint8Array) to RGBA pixels.
  // A LicError thrown after the header was read carries it (error.header), so a page
  // can still show what the file is.
  async decode(bytes) {
    const header = this.header(bytes);
    try {
      return await this.decodeWithHeader(bytes, header);
    } catch (e) {
      if (e instanceof LicError) e.header = header;
      throw e;
    }
  }

  async decodeWithHeader(bytes, header) {
    const t0 = now();
    if (!header.synthesis) {
      throw new LicError("float-synthesis",
        `this file (format ${header.version}${header.release ? `, weights release ${header.release}` : ""}) ` +
        `was written with float synthesis, which the browser does not run: decode it with the lic CLI ` +
        `(lic decompress FILE). The page decodes files of integer synthesis (format 4, zoo-v5 on).`);
    }
    if (!header.release) {
      throw new LicError("release", "this file's weights are not from a zoo release, so this site has none " +
        "for it: decode it with the lic CLI and the weights that wrote it");
    }
    const weights = await this.decoderFor(header);
    const t1 = now();
    const pixels = header.width * header.height;
    const data = this.copyIn(bytes);
    let out = 0;
    try {
      out = this.m._malloc(pixels * 4);
      if (!out) throw new LicError("too-large", `out of memory for a ${header.width} x ${header.height} image`);
      const t2 = now();
      const st = this.m._lic_wasm_decode_rgba(weights.handle, data, bytes.length, out, pixels * 4);
      const t3 = now();
      if (st !== STATUS.OK) throw this.fileError(st);
      const rgba = new Uint8ClampedArray(pixels * 4);
      rgba.set(this.m.HEAPU8.subarray(out, out + pixels * 4));
      return {
        width: header.width, height: header.height, data: rgba, header,
        weights: {file: weights.key, bytes: weights.bytes, fetchMs: weights.fetchMs, openMs: weights.openMs},
        timings: {decodeMs: t3 - t2, weightsMs: t1 - t0, totalMs: now() - t0},
      };
    } finally {
      if (out) this.m._free(out);
      this.m._free(data);
    }
  }
}
