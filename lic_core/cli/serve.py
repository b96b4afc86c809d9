"""``lic serve [--port N] [--root DIR] [--no-build]``: the in-browser decoder (the page in
web/, docs/web.md) and the installed releases' decoder weights, on http://127.0.0.1:N/.

Read-only and closed: it answers GET and HEAD for a fixed table of paths made at start
(:class:`Site`) and nothing else, so no directory is listed and no path reaches the file
system but those in the table:

    /, /index.html and every file web/site.json names   the page and its scripts
    /build/lic_wasm.mjs, /build/lic_wasm.wasm             the WebAssembly module
    /samples/index.json and the .lic files it names       the page's samples
    /weights/releases.json                                {"releases": [labels]}
    /weights/<label>/RELEASE.json                          a release's manifest, as installed
    /weights/<label>/<name>.decoder.safetensors           each decoder weights file it lists

for every installed release (:func:`lic_core.zoo.release.release_folders`) whose manifest
lists decoder weights files. The page checks each weights file against RELEASE.json's
SHA-256 before it uses it. Any other path is 404; other methods are 501.

The module (web/build/, git-ignored) is built with tools/build_wasm.sh when it is missing
or older than its sources, if Emscripten is installed; otherwise the command says how.
Standard library only (http.server), no new dependency.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .common import CommandError

__all__ = ["Site", "make_server", "default_root", "build_module", "add_parser", "run"]

DEFAULT_PORT = 8000
HOST = "127.0.0.1"
#: what the page's files are called (web/site.json lists them)
SITE_MANIFEST = "site.json"
MODULE_FILES = ("build/lic_wasm.mjs", "build/lic_wasm.wasm")
DECODER_SUFFIX = ".decoder.safetensors"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json", ".wasm": "application/wasm",
}


def default_root() -> Path:
    """The web/ folder of the source tree this lic_core runs from (a checkout, or an
    editable install of one)."""
    return Path(__file__).resolve().parents[2] / "web"


@dataclass(frozen=True)
class Entry:
    """One path the server answers: a file (read at each request, so a rebuilt module
    is served at once) or fixed bytes."""
    path: Path | None
    data: bytes | None
    content_type: str
    etag: str | None = None  # fixed (a release file's SHA-256); else from size and mtime


class Site:
    """The table of every URL path the server answers, made once from the page's
    manifest (web/site.json), its samples' index and the installed releases. Lookups are
    exact matches on the decoded path, so a path outside the table (``..``, ``%2e%2e``,
    a folder, a file beside a listed one) is simply not found."""

    def __init__(self, root: Path, releases: dict[str, tuple[Path, dict[str, tuple[Path, str]]]]):
        """``releases``: label -> (its RELEASE.json, {decoder file name: (path, sha256)})."""
        self.root = Path(root)
        self.entries: dict[str, Entry] = {}
        manifest = _read_json(self.root / SITE_MANIFEST)
        for name in manifest.get("files", []):
            self._add_file(name)
        self.entries["/"] = self.entries["/index.html"]
        for name in MODULE_FILES:
            self._add_file(name)
        samples = self.root / "samples" / "index.json"
        if samples.is_file():
            self._add_file("samples/index.json")
            for sample in _read_json(samples).get("samples", []):
                self._add_file(f"samples/{sample['file']}", "application/octet-stream")
        self.releases = sorted(releases)
        listing = json.dumps({"releases": self.releases}).encode()
        self.entries["/weights/releases.json"] = Entry(None, listing, CONTENT_TYPES[".json"])
        for label, (manifest_path, files) in releases.items():
            self.entries[f"/weights/{label}/RELEASE.json"] = Entry(manifest_path, None, CONTENT_TYPES[".json"])
            for name, (path, digest) in files.items():
                self.entries[f"/weights/{label}/{name}"] = Entry(path, None, "application/octet-stream",
                                                                 f'"{digest}"')

    def _add_file(self, name: str, content_type: str | None = None) -> None:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise CommandError(f"{self.root / SITE_MANIFEST}: {name!r} is not a file of the site")
        self.entries["/" + name] = Entry(self.root / name, None,
                                         content_type or CONTENT_TYPES.get(Path(name).suffix,
                                                                           "application/octet-stream"))

    def lookup(self, raw_path: str) -> Entry | None:
        """The entry for a request's path (query and fragment ignored), or None."""
        return self.entries.get(unquote(urlsplit(raw_path).path))

    @classmethod
    def installed(cls, root: Path) -> "Site":
        """The site of ``root`` (web/) with every installed release that has decoder
        weights files."""
        from ..zoo.release import release_files, release_folders, release_manifest
        releases = {}
        for folder in release_folders():
            manifest = release_manifest(folder)
            if manifest is None or manifest["release"] in releases:
                continue
            where = release_files(folder)
            files = {name: (where[name], digest) for name, digest in manifest["files"].items()
                     if name.endswith(DECODER_SUFFIX) and name in where and isinstance(digest, str)}
            if files:
                releases[manifest["release"]] = (Path(folder) / "RELEASE.json", files)
        return cls(root, releases)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path}: {exc}") from None


class Handler(http.server.BaseHTTPRequestHandler):
    """GET and HEAD of the site's table; anything else is 404 (paths) or 501 (methods)."""
    server_version = "lic-serve"
    site: Site
    quiet = True

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._answer(body=True)

    def do_HEAD(self):  # noqa: N802
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        entry = self.site.lookup(self.path)
        if entry is None:
            self._plain(404, "not found\n", body)
            return
        if entry.data is not None:
            data = entry.data
            etag = '"%s"' % hashlib.sha256(data).hexdigest()[:32]
            size = len(data)
        else:
            try:
                st = entry.path.stat()
            except OSError:
                self._plain(404, "not found (listed, but missing: is the module built?)\n", body)
                return
            etag = entry.etag or f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
            size = st.st_size
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        try:
            f = open(entry.path, "rb") if entry.data is None else None
        except OSError:
            self._plain(404, "not found\n", body)
            return
        try:
            if f is not None:
                size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", entry.content_type)
            self.send_header("Content-Length", str(size))
            self.send_header("ETag", etag)
            # revalidate each time (304 when unchanged): a rebuilt module is seen at once
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if body:
                if f is not None:
                    shutil.copyfileobj(f, self.wfile, 1 << 20)
                else:
                    self.wfile.write(entry.data)
        finally:
            if f is not None:
                f.close()

    def _plain(self, status: int, text: str, body: bool) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        if not self.quiet:
            super().log_message(format, *args)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"


def make_server(site: Site, port: int = DEFAULT_PORT, *, quiet: bool = True) -> Server:
    """A server of ``site`` on 127.0.0.1:``port`` (0: a free port; ``server.url`` says
    which), not yet serving: call ``serve_forever()`` (in a thread, for tests)."""
    handler = type("SiteHandler", (Handler,), {"site": site, "quiet": quiet})
    return Server((HOST, port), handler)


# --------------------------------------------------------------------------- the module

def build_script(root: Path) -> Path:
    return root.parent / "tools" / "build_wasm.sh"


def build_module(root: Path, *, quiet: bool = False) -> None:
    """Builds web/build/lic_wasm.{mjs,wasm} with tools/build_wasm.sh unless it is up to
    date (the script checks a hash of its inputs). CommandError saying how when it cannot."""
    script = build_script(root)
    have = all((root / name).is_file() for name in MODULE_FILES)
    if not script.is_file():
        if have:
            return
        raise CommandError(f"the page's WebAssembly module is missing ({root / MODULE_FILES[1]}) and "
                           f"tools/build_wasm.sh is not beside {root}: run lic serve from a lic-core checkout")
    if shutil.which("em++") is None:
        if have:
            if not quiet:
                print(f"lic serve: serving the module built before ({root / 'build'}); em++ is not "
                      f"installed, so whether it is up to date was not checked", file=sys.stderr)
            return
        raise CommandError("the page's WebAssembly module is not built, and building it needs Emscripten: "
                           "apt-get install emscripten node-acorn (Debian/Ubuntu; elsewhere "
                           "https://emscripten.org), then run tools/build_wasm.sh or lic serve again")
    check = subprocess.run([str(script), "--check"], capture_output=True)
    if check.returncode == 0:
        return
    if not quiet:
        print("lic serve: building the WebAssembly module (tools/build_wasm.sh, about a minute) ...",
              file=sys.stderr)
    done = subprocess.run([str(script)], capture_output=True, text=True)
    if done.returncode != 0:
        raise CommandError(f"tools/build_wasm.sh failed (exit {done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-2000:]}")


# --------------------------------------------------------------------------- the command

def port_arg(text: str) -> int:
    import argparse
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be an integer, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in 0..65535 (0: any free port), got {port}")
    return port


def add_parser(sub, parents) -> None:
    p = sub.add_parser("serve", parents=parents,
                       help="serve the in-browser decoder page and the weights on 127.0.0.1")
    p.add_argument("--port", type=port_arg, default=DEFAULT_PORT,
                   help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free port)")
    p.add_argument("--root", type=Path, default=None,
                   help="the page's folder (default: web/ of this lic-core checkout)")
    p.add_argument("--no-build", action="store_true",
                   help="serve the module as it is, without building or checking it")
    p.add_argument("--log", action="store_true", help="log each request on stderr")
    p.set_defaults(run=run)


def run(args) -> int:
    root = (args.root or default_root()).resolve()
    if not (root / SITE_MANIFEST).is_file():
        raise CommandError(f"no page at {root} (its {SITE_MANIFEST} is missing): lic serve needs the web/ "
                           f"folder of a lic-core source checkout (git clone, then pip install -e .), "
                           f"or --root DIR")
    if not args.no_build:
        build_module(root, quiet=args.quiet)
    site = Site.installed(root)
    try:
        server = make_server(site, args.port, quiet=not args.log)
    except OSError as exc:
        raise CommandError(f"cannot listen on {HOST}:{args.port}: {exc.strerror or exc}"
                           + ("; choose another with --port N" if args.port else "")) from None
    with server:
        releases = ", ".join(site.releases) or "none with decoder weights"
        print(f"lic serve: {server.url} (releases: {releases}; Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:  # the way to stop it: not a failure
            pass
    return 0
