#!/usr/bin/env python3
"""Copy the browser libraries the reporter pages use from node_modules into api/web/static/vendor.

The pages load only files the service itself serves (no CDN), as plain ES modules (no bundler):
this script starts from each entry module, follows its static imports, copies every module it
reaches and rewrites bare specifiers (``@noble/hashes/sha3.js``) into relative paths, so the
vendored tree loads in a browser as it is. Source-map comments are dropped (the maps are not
vendored). The output is committed; serving needs no build.

    .venv/bin/python scripts/vendor_web.py           # (re)write api/web/static/vendor
    .venv/bin/python scripts/vendor_web.py --check   # exit 1 if the committed copy is stale

Versions come from package.json (pinned with ``npm install --save-exact``); the licences are
copied beside the code and listed in vendor/README.md.

Plain assets (``ASSETS``: Swagger UI's prebuilt bundle and stylesheet for ``/docs``) are copied
as they are, only their source-map comments dropped: nothing else of those packages ships (not
swagger-ui-dist's own init script or HTML, nor its ``@scarf/scarf`` dependency, an install-time
tracker whose install script package.json denies with ``allowScripts``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import posixpath
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "api" / "web" / "static" / "vendor"

# npm package -> (folder under vendor/, entry modules, licence files, licence name)
PACKAGES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str]] = {
    "@noble/hashes": ("noble-hashes", ("sha3.js", "sha2.js", "argon2.js"), ("LICENSE",), "MIT"),
    "@noble/curves": ("noble-curves", ("secp256k1.js",), ("LICENSE",), "MIT"),
    "qr": ("qr", ("index.js",), ("LICENSE", "LICENSE-MIT"), "MIT OR Apache-2.0"),
    # HPKE (RFC 9180) for sealing on the reporter's device; X25519 through its own KEM module.
    "@hpke/core": ("hpke-core", ("esm/mod.js",), ("LICENSE",), "MIT"),
    "@hpke/common": ("hpke-common", ("esm/mod.js",), ("LICENSE",), "MIT"),
    "@hpke/dhkem-x25519": ("hpke-dhkem-x25519", ("esm/mod.js",), ("LICENSE",), "MIT"),
    # Shamir over GF(2^8) for identity records sealed on the device (record version 2).
    "shamir-secret-sharing": (
        "shamir-secret-sharing",
        ("esm/index.js",),
        ("LICENSE",),
        "Apache-2.0",
    ),
}

# npm package -> (folder under vendor/, files copied as they are, licence files, licence name)
ASSETS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str]] = {
    "swagger-ui-dist": (
        "swagger-ui",
        ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"),
        ("LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"),
        "Apache-2.0",
    ),
}

_IMPORT = re.compile(
    r"""^(?P<head>\s*(?:import|export)\b[^'";]*?\bfrom\s*|\s*import\s*)(?P<q>['"])(?P<spec>[^'"]+)(?P=q)""",
    re.MULTILINE,
)
_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$\n?", re.MULTILINE)
_CSS_SOURCE_MAP = re.compile(r"^/\*# sourceMappingURL=.*?\*/$\n?", re.MULTILINE)


def _split_bare(spec: str) -> tuple[str, str] | None:
    """``@noble/hashes/sha3.js`` -> (``@noble/hashes``, ``sha3.js``); None for relative ones."""
    if spec.startswith((".", "/")):
        return None
    parts = spec.split("/")
    name_len = 2 if spec.startswith("@") else 1
    return "/".join(parts[:name_len]), "/".join(parts[name_len:])


def _exported(package: str, subpath: str) -> str:
    """A bare import's file: the package's ``exports`` entry for the browser (``import``, never
    ``node``) where it has one (``shamir-secret-sharing/csprng``), else the path as written."""
    meta = json.loads((NODE_MODULES / package / "package.json").read_text(encoding="utf-8"))
    target = (meta.get("exports") or {}).get("./" + subpath if subpath else ".")
    if isinstance(target, dict):
        target = target.get("browser") or target.get("import") or target.get("default")
    if isinstance(target, str):
        return posixpath.normpath(target)
    return subpath


def _version(package: str) -> str:
    meta = json.loads((NODE_MODULES / package / "package.json").read_text(encoding="utf-8"))
    return str(meta["version"])


def _pinned(package: str) -> str:
    manifest = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    deps = {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}
    return str(deps.get(package, "?"))


def build(out: Path) -> list[tuple[str, str]]:
    """Write the vendored tree to ``out``; returns (vendored path, sha256) for every module."""
    queue: list[tuple[str, str]] = [
        (package, entry)
        for package, (_dir, entries, _lic, _name) in PACKAGES.items()
        for entry in entries
    ]
    done: set[tuple[str, str]] = set()
    written: list[tuple[str, str]] = []
    while queue:
        package, rel = queue.pop()
        if (package, rel) in done:
            continue
        done.add((package, rel))
        folder = PACKAGES[package][0]
        source = NODE_MODULES / package / rel
        if not source.is_file():
            raise SystemExit(f"vendor_web: {source} is missing: run `npm ci` first")
        text = source.read_text(encoding="utf-8")
        here = posixpath.dirname(f"{folder}/{rel}")

        def rewrite(
            match: re.Match[str], package: str = package, rel: str = rel, here: str = here
        ) -> str:
            spec = match["spec"]
            bare = _split_bare(spec)
            if bare is None:
                target_pkg, target_rel = (
                    package,
                    posixpath.normpath(posixpath.join(posixpath.dirname(rel), spec)),
                )
                new_spec = spec
            else:
                target_pkg, target_rel = bare
                if target_pkg not in PACKAGES:
                    raise SystemExit(f"vendor_web: {package}/{rel} imports unvendored {spec!r}")
                target_rel = _exported(target_pkg, target_rel)
                target = f"{PACKAGES[target_pkg][0]}/{target_rel}"
                new_spec = posixpath.relpath(target, here)
                if not new_spec.startswith("."):
                    new_spec = "./" + new_spec
            queue.append((target_pkg, target_rel))
            return f"{match['head']}{match['q']}{new_spec}{match['q']}"

        text = _IMPORT.sub(rewrite, text)
        text = _SOURCE_MAP.sub("", text)
        target = out / folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        target.write_bytes(data)
        written.append((f"{folder}/{rel}", hashlib.sha256(data).hexdigest()))

    for package, (folder, files, _lic, _name) in ASSETS.items():
        for name in files:
            source = NODE_MODULES / package / name
            if not source.is_file():
                raise SystemExit(f"vendor_web: {source} is missing: run `npm ci` first")
            data = source.read_bytes()
            if name.endswith(".js"):
                data = _SOURCE_MAP.sub("", data.decode("utf-8")).encode("utf-8")
            elif name.endswith(".css"):
                data = _CSS_SOURCE_MAP.sub("", data.decode("utf-8")).encode("utf-8")
            target = out / folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written.append((f"{folder}/{name}", hashlib.sha256(data).hexdigest()))

    lines = [
        "# Vendored browser libraries",
        "",
        "Written by `scripts/vendor_web.py` from `node_modules` (versions pinned in package.json",
        "and package-lock.json); do not edit by hand. Only the modules the pages import are",
        "copied, with bare imports rewritten to relative paths and source-map comments removed;",
        "Swagger UI (for `/docs`) is its prebuilt bundle and stylesheet, source maps removed.",
        "",
        "| package | version | folder | licence |",
        "|---|---|---|---|",
    ]
    for package, (folder, _entries, licences, name) in {**PACKAGES, **ASSETS}.items():
        version = _version(package)
        if _pinned(package) != version:
            raise SystemExit(
                f"vendor_web: node_modules has {package} {version}, package.json pins "
                f"{_pinned(package)}: run `npm ci`"
            )
        lines.append(f"| `{package}` | {version} | `{folder}/` | {name} |")
        for lic in licences:
            shutil.copyfile(NODE_MODULES / package / lic, out / folder / lic)
    lines += ["", "## Files (SHA-256)", ""]
    lines += [f"- `{path}` `{digest}`" for path, digest in sorted(written)]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "vendor"
        written = build(fresh)
        if args.check:
            same = VENDOR.is_dir() and _tree(fresh) == _tree(VENDOR)
            print(f"vendor_web: {VENDOR} is {'up to date' if same else 'STALE'}")
            return 0 if same else 1
        if VENDOR.exists():
            shutil.rmtree(VENDOR)
        shutil.copytree(fresh, VENDOR)
    print(f"vendor_web: wrote {len(written)} modules to {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
