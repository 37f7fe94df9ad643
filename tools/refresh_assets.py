#!/usr/bin/env python
"""Refresh the web assets geofupin's offline maps inline (``geofupin/maps/assets/``) from npm.

For every script and stylesheet address folium emits for the elements geofupin uses
(:func:`geofupin.maps.offline.required_urls`), :data:`SOURCES` names the npm package and the
version (read from the address itself where it carries one). Each package is fetched with the
npm client (``npm pack NAME@VERSION``: the registry is whatever the client is configured for),
the tarball is checked against the integrity npm reports, and the file, every image its
stylesheet refers to and the package's licence file are written under
``geofupin/maps/assets/<name>-<version>/``. ``manifest.json`` lists each file with its package,
version, SHA-256, licence and the CDN address(es) it stands for.

The new tree is built beside the old one and swapped in only when complete.

Usage::

    python tools/refresh_assets.py          # rewrite geofupin/maps/assets/
    python tools/refresh_assets.py --check  # fetch and compare; exit 1 when the shipped files differ
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geofupin.maps import offline  # noqa: E402

ASSETS = ROOT / "geofupin" / "maps" / "assets"


@dataclass(frozen=True)
class Source:
    """Which npm package serves a CDN address: ``pattern`` matches the whole address.

    The pattern's ``file`` group is the file's path in the package (after ``base``); its
    ``version`` group, when present, the package version. ``version`` pins one for addresses
    without a version (folium links Leaflet.Sync to the repository head).
    """

    npm: str
    pattern: str
    version: str | None = None
    base: str = ""


SOURCES = (
    Source(
        "leaflet", r"https://cdn\.jsdelivr\.net/npm/leaflet@(?P<version>[0-9][^/]*)/(?P<file>dist/leaflet\.(?:js|css))"
    ),
    Source(
        "leaflet.fullscreen",
        r"https://cdn\.jsdelivr\.net/npm/leaflet\.fullscreen@(?P<version>[0-9][^/]*)/(?P<file>Control\.FullScreen\.[a-z.]+)",
    ),
    Source(
        "leaflet-measure",
        r"https://cdn\.jsdelivr\.net/gh/ljagis/leaflet-measure@(?P<version>[0-9][^/]*)/(?P<file>dist/leaflet-measure\.[a-z.]+)",
    ),
    Source(
        "leaflet.markercluster",
        r"https://cdnjs\.cloudflare\.com/ajax/libs/leaflet\.markercluster/(?P<version>[0-9][^/]*)/"
        r"(?P<file>leaflet\.markercluster\.js|MarkerCluster(?:\.Default)?\.css)",
        base="dist/",
    ),
    # folium links the head of the GitHub repository; 0.2.4 is the latest release on npm
    Source(
        "leaflet.sync",
        r"https://cdn\.jsdelivr\.net/gh/jieter/Leaflet\.Sync/(?P<file>L\.Map\.Sync\.min\.js)",
        version="0.2.4",
    ),
)

#: package.json licence values that are not SPDX identifiers
SPDX = {"MIT License": "MIT"}
_LICENCE_NAME = re.compile(r"^(?:MIT-)?LICEN[CS]E(?:\.(?:md|txt))?$", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]*)\1\s*\)""")


class RefreshError(RuntimeError):
    pass


def source_of(url: str) -> tuple[Source, str, str]:
    """(source, version, file name in the address) for a CDN address; an error when no rule matches."""
    for src in SOURCES:
        m = re.fullmatch(src.pattern, url)
        if m:
            version = m.groupdict().get("version") or src.version
            if not version:
                raise RefreshError(f"{url}: no version in the address and none pinned for {src.npm}")
            return src, version, m.group("file")
    raise RefreshError(f"no npm source known for {url}. Fix: add a Source rule to SOURCES in {Path(__file__).name}")


def npm_pack(spec: str, workdir: Path) -> tuple[dict[str, bytes], str]:
    """The files of an npm package (path in package -> bytes) and its integrity, via ``npm pack``."""
    proc = subprocess.run(
        ["npm", "pack", "--json", "--ignore-scripts", spec], cwd=workdir, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RefreshError(f"npm pack {spec} failed:\n{proc.stderr.strip()}")
    info = json.loads(proc.stdout)[0]
    tgz = (workdir / info["filename"]).read_bytes()
    algo, _, expected = info["integrity"].partition("-")
    actual = base64.b64encode(hashlib.new(algo, tgz).digest()).decode("ascii")
    if actual != expected:
        raise RefreshError(f"{spec}: tarball {algo} {actual} does not match npm's integrity {expected}")
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            name = posixpath.normpath(member.name)
            if not name.startswith("package/") or ".." in name.split("/"):
                raise RefreshError(f"{spec}: unexpected path {member.name!r} in the tarball")
            fobj = tar.extractfile(member)
            assert fobj is not None
            files[name.removeprefix("package/")] = fobj.read()
    return files, info["integrity"]


def pick_file(files: dict[str, bytes], src: Source, name: str, url: str) -> str:
    """The package file an address stands for: the same path, else the unminified file of that name.

    jsDelivr serves ``x.min.js`` minified on the fly from ``x.js`` when only that is published.
    """
    for cand in (src.base + name, src.base + name.replace(".min.", ".")):
        if cand in files:
            return cand
    raise RefreshError(f"{url}: {src.npm} has no {src.base + name} (files: {', '.join(sorted(files)[:20])} ...)")


def css_refs(css: str, css_path: str, files: dict[str, bytes], spec: str) -> list[str]:
    """Package paths of the images a stylesheet refers to (``data:`` and fragments excluded)."""
    out = []
    for _, ref in _CSS_URL.findall(css):
        ref = ref.strip()
        if not ref or ref.startswith(("data:", "#")):
            continue
        if "://" in ref or ref.startswith("//"):
            raise RefreshError(f"{spec}: {css_path} refers to the network ({ref}); cannot ship it offline")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(css_path), ref.split("?")[0].split("#")[0]))
        if target not in files:
            raise RefreshError(f"{spec}: {css_path} refers to {ref}, which the package does not contain")
        out.append(target)
    return out


def licence_of(files: dict[str, bytes], spec: str) -> tuple[str, str]:
    """(SPDX identifier from package.json, path of the licence file) of a package."""
    meta = json.loads(files["package.json"])
    lic = meta.get("license") or (meta.get("licenses") or [{}])[0].get("type")
    if isinstance(lic, dict):
        lic = lic.get("type")
    if not lic:
        raise RefreshError(f"{spec}: package.json names no licence")
    names = sorted(p for p in files if "/" not in p and _LICENCE_NAME.match(p))
    if not names:
        raise RefreshError(f"{spec}: the package ships no licence file")
    return SPDX.get(lic, lic), names[0]


def build(out: Path, workdir: Path) -> dict:
    """Fetch every package and write the asset tree and manifest under ``out``; return the manifest."""
    import folium

    wanted: dict[tuple[str, str], list[tuple[Source, str, str]]] = {}
    for url in offline.required_urls():
        src, version, name = source_of(url)
        wanted.setdefault((src.npm, version), []).append((src, name, url))

    packages, entries = [], []
    for (npm, version), items in sorted(wanted.items()):
        spec = f"{npm}@{version}"
        print(f"npm pack {spec}")
        files, integrity = npm_pack(spec, workdir)
        meta = json.loads(files["package.json"])
        if meta.get("name") != npm or meta.get("version") != version:
            raise RefreshError(f"{spec}: npm returned {meta.get('name')}@{meta.get('version')}")
        lic, lic_file = licence_of(files, spec)
        folder = f"{npm}-{version}"
        urls_of: dict[str, list[str]] = {}
        for src, name, url in items:
            urls_of.setdefault(pick_file(files, src, name, url), []).append(url)
        ship = dict.fromkeys(urls_of)
        for path in list(ship):
            if path.endswith(".css"):
                ship.update(dict.fromkeys(css_refs(files[path].decode("utf-8"), path, files, spec)))
        for path in [*ship, lic_file]:
            target = out / folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files[path])
        packages.append(
            {
                "npm": npm,
                "version": version,
                "license": lic,
                "license_file": f"{folder}/{lic_file}",
                "license_sha256": hashlib.sha256(files[lic_file]).hexdigest(),
                "integrity": integrity,
            }
        )
        for path in ship:
            entries.append(
                {
                    "file": f"{folder}/{path}",
                    "npm": npm,
                    "version": version,
                    "sha256": hashlib.sha256(files[path]).hexdigest(),
                    "license": lic,
                    "urls": sorted(urls_of.get(path, [])),
                }
            )
    manifest = {
        "about": "Web assets inlined into geofupin's offline maps, from their npm packages. Do not edit by hand.",
        "refresh": offline.REFRESH_COMMAND,
        "folium": folium.__version__,
        "packages": packages,
        "files": entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def verify(root: Path, manifest: dict) -> None:
    """Every file and licence of ``manifest`` is present under ``root`` with its SHA-256; every address covered."""
    for e in manifest["files"]:
        digest = hashlib.sha256((root / e["file"]).read_bytes()).hexdigest()
        if digest != e["sha256"]:
            raise RefreshError(f"{e['file']}: SHA-256 {digest} differs from the manifest")
    for p in manifest["packages"]:
        if hashlib.sha256((root / p["license_file"]).read_bytes()).hexdigest() != p["license_sha256"]:
            raise RefreshError(f"{p['license_file']}: licence file differs from the manifest")
    covered = {u for e in manifest["files"] for u in e["urls"]}
    missing = [u for u in offline.required_urls() if u not in covered]
    if missing:
        raise RefreshError("not covered: " + ", ".join(missing))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fetch and compare with the shipped files; write nothing")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="geofupin-assets-") as tmp:
        work, new = Path(tmp) / "npm", Path(tmp) / "assets"
        work.mkdir()
        new.mkdir()
        try:
            manifest = build(new, work)
            verify(new, manifest)
        except RefreshError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if args.check:
            old = json.loads((ASSETS / "manifest.json").read_text(encoding="utf-8")) if ASSETS.exists() else {}
            same = {k: v for k, v in old.items() if k != "folium"} == {
                k: v for k, v in manifest.items() if k != "folium"
            }
            print("shipped assets are up to date" if same else "shipped assets differ from npm: run without --check")
            return 0 if same else 1
        staging = ASSETS.with_name("assets.new")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(new, staging)
        old_tree = ASSETS.with_name("assets.old")
        shutil.rmtree(old_tree, ignore_errors=True)
        if ASSETS.exists():
            ASSETS.rename(old_tree)
        staging.rename(ASSETS)
        shutil.rmtree(old_tree, ignore_errors=True)
    size = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file())
    n_files, n_packages = len(manifest["files"]), len(manifest["packages"])
    print(f"wrote {n_files} files of {n_packages} packages ({size / 1024:.0f} KiB) to {ASSETS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
