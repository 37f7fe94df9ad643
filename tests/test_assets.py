"""The web assets shipped for offline maps, and the optional dependencies (extras).

Shipped files are checked against their manifest (SHA-256, licence files, the CDN addresses
folium emits); a page is rendered in a fresh interpreter where ``offlinefolium`` cannot be
imported; missing extras are simulated by putting ``None`` into ``sys.modules``.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the backport pytest installs
    import tomli as tomllib  # type: ignore[no-redef]

import folium
import pytest
from _maps_fixtures import make_ctx

from geofupin.errors import MissingDependencyError
from geofupin.maps import MapConfig, build_run_map, offline, render_html
from geofupin.maps.compare import build_compare_map

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "geofupin" / "maps" / "assets"
MANIFEST = json.loads((ASSETS / "manifest.json").read_text(encoding="utf-8"))
TESTS = Path(__file__).resolve().parent

#: attribute patterns under which a page would fetch something
FETCH_PATTERNS = [
    r"""<script[^>]*\bsrc\s*=\s*["']?(?:https?:)?//""",
    r"""<link[^>]*\bhref\s*=\s*["']?(?:https?:)?//""",
    r"""<img[^>]*\bsrc\s*=\s*["']?(?:https?:)?//""",
    r"""url\(\s*["']?(?:https?:)?//""",
    r"""@import""",
    r"""tileLayer\(\s*["'](?:https?:)?//""",
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def emitted_urls(html: str) -> set[str]:
    scripts = re.findall(r'<script\s+src="([^"]+)"', html)
    sheets = re.findall(r'<link\s+rel="stylesheet"\s+href="([^"]+)"', html)
    return set(scripts) | set(sheets)


def pages(*, offline_: bool) -> dict[str, str]:
    """The main map, the clustered map, the public map and the compare page."""
    return {
        "main": render_html(build_run_map(make_ctx(), config=MapConfig()), offline=offline_),
        "cluster": render_html(
            build_run_map(make_ctx(n_villages=60), config=MapConfig(cluster_threshold=10, hillshade=False)),
            offline=offline_,
        ),
        "public": render_html(build_run_map(make_ctx(), config=MapConfig(public=True)), offline=offline_),
        "compare": render_html(build_compare_map(make_ctx(), make_ctx(n_villages=7)), offline=offline_),
    }


def load_refresh() -> ModuleType:
    spec = importlib.util.spec_from_file_location("refresh_assets", REPO / "tools" / "refresh_assets.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["refresh_assets"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


# ----------------------------------------------------------------------------------- the shipped files
def test_every_shipped_file_matches_its_manifest_hash() -> None:
    assert MANIFEST["files"], "the manifest lists no files"
    for e in MANIFEST["files"]:
        path = ASSETS / e["file"]
        assert path.is_file(), e["file"]
        assert sha256(path) == e["sha256"], e["file"]
        assert e["file"].startswith(f"{e['npm']}-{e['version']}/"), e["file"]
        assert re.fullmatch(r"[0-9a-f]{64}", e["sha256"])


def test_nothing_is_shipped_that_the_manifest_does_not_list() -> None:
    listed = {e["file"] for e in MANIFEST["files"]} | {p["license_file"] for p in MANIFEST["packages"]}
    on_disk = {p.relative_to(ASSETS).as_posix() for p in ASSETS.rglob("*") if p.is_file()} - {"manifest.json"}
    assert on_disk == listed


def test_each_package_has_its_licence_file_and_ships_it_in_the_wheel_metadata() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert pyproject["license"] == "MIT" and "LICENSE" in pyproject["license-files"]
    assert "MIT License" in (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "geofupin developers" in (REPO / "LICENSE").read_text(encoding="utf-8")
    packages = {(p["npm"], p["version"]): p for p in MANIFEST["packages"]}
    assert {(e["npm"], e["version"]) for e in MANIFEST["files"]} == set(packages)
    for p in packages.values():
        path = ASSETS / p["license_file"]
        text = path.read_text(encoding="utf-8")
        assert sha256(path) == p["license_sha256"], p["license_file"]
        assert "copyright" in text.lower() and len(text) > 500, p["license_file"]
        assert p["license"] in {"MIT", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Apache-2.0"}, p
        assert p["integrity"].startswith("sha512-")
        wanted = f"geofupin/maps/assets/{p['license_file']}"
        assert any(fnmatch.fnmatchcase(wanted, g) for g in pyproject["license-files"]), wanted
    for e in MANIFEST["files"]:
        assert e["license"] == packages[(e["npm"], e["version"])]["license"]


def test_assets_are_package_data() -> None:
    globs = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    assert "maps/assets/manifest.json" in globs["geofupin"] and "maps/assets/**/*" in globs["geofupin"]


def test_every_url_folium_emits_for_geofupin_elements_is_covered() -> None:
    covered = {u for e in MANIFEST["files"] for u in e["urls"]}
    required = set(offline.required_urls())
    assert required <= covered, required - covered
    # exactly what the elements ask for, nothing more
    assert covered == required
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in required
    # and required_urls() misses nothing the real pages link to
    for name, html in pages(offline_=False).items():
        emitted = {u for u in emitted_urls(html) if not offline._dropped(u)}
        assert emitted, name
        assert emitted <= required, (name, emitted - required)
    # the assets were gathered from a folium the declared bound admits, and the installed one is admitted too
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (spec,) = [Requirement(r).specifier for r in project["dependencies"] if Requirement(r).name == "folium"]
    assert spec.contains(MANIFEST["folium"]) and spec.contains(folium.__version__)


def test_inlined_stylesheet_images_are_the_shipped_files() -> None:
    css = offline.shipped_assets()["https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"]
    assert "images/layers.png" not in css
    m = re.search(r'\.leaflet-control-layers-toggle\s*\{[^}]*url\("data:image/png;base64,([^"]+)"\)', css)
    assert m, "layers.png is not inlined as a data: URI"
    assert base64.b64decode(m.group(1)) == (ASSETS / "leaflet-1.9.3/dist/images/layers.png").read_bytes()
    fs = offline.shipped_assets()["https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css"]
    assert "data:image/svg+xml;base64," in fs and "icon-fullscreen.svg" not in fs.split("*/", 1)[1]
    js = offline.shipped_assets()["https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"]
    assert js.startswith("/* leaflet@1.9.3/dist/leaflet.js (BSD-2-Clause), inlined by geofupin */\n")
    assert js.split("\n", 1)[1] == (ASSETS / "leaflet-1.9.3/dist/leaflet.js").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------------- pages without folium-offline
def test_rendered_pages_need_no_network_and_no_folium_offline(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import json, re, sys
        sys.modules["offlinefolium"] = None  # folium-offline cannot be imported
        sys.path.insert(0, {str(TESTS)!r})
        from _maps_fixtures import make_ctx
        from geofupin.maps import MapConfig, build_run_map, render_html
        from geofupin.maps.compare import build_compare_map
        pages = {{
            "main": render_html(build_run_map(make_ctx(), config=MapConfig())),
            "cluster": render_html(build_run_map(make_ctx(n_villages=60), config=MapConfig(cluster_threshold=10))),
            "public": render_html(build_run_map(make_ctx(), config=MapConfig(public=True))),
            "compare": render_html(build_compare_map(make_ctx(), make_ctx(n_villages=7))),
        }}
        loaded = sorted(m for m in sys.modules if m.startswith("offlinefolium") and sys.modules[m] is not None)
        json.dump({{"pages": pages, "loaded": loaded}}, open({str(tmp_path / "out.json")!r}, "w"))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert out["loaded"] == []
    for name, html in out["pages"].items():
        for pat in FETCH_PATTERNS:
            assert not re.search(pat, html), (name, pat, re.search(pat, html))
        assert "<script src=" not in html and '<link rel="stylesheet"' not in html, name
        assert "Leaflet 1.9.3" in html, name  # the library itself, inline
        assert "leaflet-measure@2.1.7" in html and "leaflet.fullscreen@3.0.0" in html, name
    assert "leaflet.markercluster@1.1.0/dist/leaflet.markercluster.js (MIT)" in out["pages"]["cluster"]
    assert "leaflet.markercluster" not in out["pages"]["main"]
    assert "leaflet.sync@0.2.4/L.Map.Sync.js (BSD-3-Clause)" in out["pages"]["compare"]


# ----------------------------------------------------------------------------------- a folium upgrade
def test_an_address_folium_changed_is_a_named_error_not_an_online_page(monkeypatch: pytest.MonkeyPatch) -> None:
    newer = "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js"
    monkeypatch.setattr(folium.Map, "default_js", [("leaflet", newer), *folium.Map.default_js[1:]])
    with pytest.raises(offline.OfflineAssetError) as err:
        render_html(build_run_map(make_ctx(), config=MapConfig()))
    msg = str(err.value)
    assert newer in msg and "python tools/refresh_assets.py" in msg and f"folium=={MANIFEST['folium']}" in msg
    assert msg.startswith("离线地图缺少")  # Chinese first
    assert newer in offline.required_urls()  # the refresh script would fetch the new version


def test_a_damaged_shipped_file_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "assets"
    shutil.copytree(ASSETS, copy)
    target = copy / "leaflet-1.9.3/dist/leaflet.js"
    target.write_bytes(target.read_bytes() + b"\n//")
    monkeypatch.setattr(offline, "_assets_dir", lambda: copy)
    offline.manifest.cache_clear()
    offline.shipped_assets.cache_clear()
    try:
        with pytest.raises(offline.OfflineAssetError, match=r"leaflet-1\.9\.3/dist/leaflet\.js.*SHA-256"):
            offline.shipped_assets()
        (copy / "manifest.json").unlink()
        offline.manifest.cache_clear()
        with pytest.raises(offline.OfflineAssetError, match=r"manifest\.json"):
            offline.shipped_assets()
    finally:
        offline.manifest.cache_clear()
        offline.shipped_assets.cache_clear()


def test_refresh_script_maps_each_address_to_its_npm_file() -> None:
    r = load_refresh()
    src, version, name = r.source_of("https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.css")
    assert (src.npm, version, name) == ("leaflet", "1.9.4", "dist/leaflet.css")  # the version comes from the address
    src, version, name = r.source_of("https://cdn.jsdelivr.net/gh/jieter/Leaflet.Sync/L.Map.Sync.min.js")
    assert (src.npm, version) == ("leaflet.sync", "0.2.4")  # unversioned address: pinned
    src, version, name = r.source_of(
        "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css"
    )
    assert r.pick_file({"dist/MarkerCluster.Default.css": b""}, src, name, "u") == "dist/MarkerCluster.Default.css"
    src, _, name = r.source_of("https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.min.js")
    # only the source file is published: the CDN minifies it on the fly, the same code
    assert r.pick_file({"Control.FullScreen.js": b""}, src, name, "u") == "Control.FullScreen.js"
    with pytest.raises(r.RefreshError, match=r"no npm source known for https://example\.org/x\.js"):
        r.source_of("https://example.org/x.js")
    files = {"dist/a.css": b"", "dist/images/i.png": b""}
    css = '.a{background:url(images/i.png)} .b{behavior:url(#default#VML)} .c{background:url("data:x")}'
    assert r.css_refs(css, "dist/a.css", files, "p@1") == ["dist/images/i.png"]
    with pytest.raises(r.RefreshError, match="refers to the network"):
        r.css_refs(".a{background:url(https://x.org/i.png)}", "dist/a.css", files, "p@1")
    lic, path = r.licence_of({"package.json": b'{"license": "MIT License"}', "MIT-LICENCE.txt": b"x"}, "p@1")
    assert (lic, path) == ("MIT", "MIT-LICENCE.txt")
    # every address the manifest covers is one the rules understand, with the shipped version
    for e in MANIFEST["files"]:
        for url in e["urls"]:
            src, version, _ = r.source_of(url)
            assert (src.npm, version) == (e["npm"], e["version"])


# ----------------------------------------------------------------------------------- extras
def test_missing_osmium_names_the_osm_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from geofupin.io import read_osm

    pbf = tmp_path / "x.osm.pbf"
    pbf.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "osmium", None)
    with pytest.raises(MissingDependencyError) as err:
        read_osm(pbf)
    assert err.value.extra == "osm" and err.value.module == "osmium" and isinstance(err.value, ImportError)
    msg = str(err.value)
    assert msg.startswith("导入 OpenStreetMap") and "pip install 'geofupin[osm]'" in msg
    assert "install geofupin[osm]" in msg


def test_missing_pyarrow_names_the_parquet_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import geopandas as gpd
    from shapely.geometry import Point

    from geofupin.io import read_vector, write_vector

    path = tmp_path / "v.parquet"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)], crs="EPSG:4326").to_parquet(path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingDependencyError, match=r"install geofupin\[parquet\]"):
        read_vector(path)
    with pytest.raises(MissingDependencyError, match=r"^读写 GeoParquet"):
        write_vector(gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)], crs="EPSG:4326"), tmp_path / "w.parquet")
    assert not (tmp_path / "w.parquet").exists()


def test_missing_matplotlib_skips_the_printable_maps_with_one_note(monkeypatch: pytest.MonkeyPatch) -> None:
    import geofupin.maps as maps
    from geofupin.maps.step import map_outputs, step

    ctx = make_ctx()
    ctx.scenario.outputs = type("O", (), {"static_maps": ("png", "pdf"), "paper": "A3"})()
    with_mpl = step(ctx)
    assert {"map_A3.png", "map_A3.pdf"} <= set(with_mpl.artifacts["files"])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    res = step(ctx)
    assert set(res.artifacts["files"]) == {"index.html"}
    assert res.artifacts["files"]["index.html"] == with_mpl.artifacts["files"]["index.html"]
    notes = [w for w in res.warnings if "matplotlib" in w]
    assert len(notes) == 1 and "\n" not in notes[0]
    assert notes[0].startswith("map: 未安装 matplotlib,跳过静态地图 map_A3.png/pdf") and "geofupin[static]" in notes[0]
    # asked for explicitly through the library: an error naming the extra
    with pytest.raises(MissingDependencyError, match=r"install geofupin\[static\]"):
        map_outputs(ctx, static=("A4",), formats=("png",))
    with pytest.raises(MissingDependencyError, match=r"geofupin\[static\]"):
        maps.build_static_map  # noqa: B018
    with pytest.raises(AttributeError):
        maps.no_such_thing  # noqa: B018


def test_the_base_install_imports_and_maps_without_any_extra(tmp_path: Path) -> None:
    """No pyarrow, matplotlib, osmium or folium-offline: the whole package imports and the map step runs."""
    code = textwrap.dedent(
        f"""
        import sys
        for name in ("pyarrow", "matplotlib", "osmium", "offlinefolium"):
            sys.modules[name] = None
        sys.path.insert(0, {str(TESTS)!r})
        import geofupin, geofupin.cli, geofupin.pipeline, geofupin.io, geofupin.osm, geofupin.maps, geofupin.report
        from _maps_fixtures import make_ctx
        from geofupin.maps.step import step
        ctx = make_ctx()
        ctx.scenario.outputs = type("O", (), {{"static_maps": ("png",), "paper": "A4"}})()
        res = step(ctx)
        assert set(res.artifacts["files"]) == {{"index.html"}}, res.artifacts["files"].keys()
        print(res.warnings[0])
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "geofupin[static]" in proc.stdout


def test_env_size_measures_a_base_closure_without_the_extras() -> None:
    spec = importlib.util.spec_from_file_location("env_size", REPO / "tools" / "env_size.py")
    assert spec is not None and spec.loader is not None
    env_size = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(env_size)
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dists = env_size.installed()
    need, absent = env_size.closure(project["dependencies"], dists)
    assert absent == set()
    assert {"folium", "branca", "jinja2", "pillow", "affine", "numpy", "rasterio"} <= need
    assert not need & {"matplotlib", "pyarrow", "osmium", "folium-offline", "pytest"}
    need_static, _ = env_size.closure([*project["dependencies"], *project["optional-dependencies"]["static"]], dists)
    assert {"matplotlib", "kiwisolver"} <= need_static
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "env_size.py")], capture_output=True, text=True, check=True
    )
    m = re.fullmatch(r"base install: (\d+) MB in (\d+) distributions \(whole environment: (\d+) MB\)\n", proc.stdout)
    assert m, proc.stdout
    assert int(m.group(2)) == len(need) and 0 < int(m.group(1)) <= int(m.group(3))


@pytest.mark.slow
def test_readme_demo_command_on_a_base_install(demo_layers: Path, tmp_path: Path) -> None:
    """README command 1 without any extra or folium-offline: every output but the printable maps, and one note."""
    from demo_helpers import scenario_copy

    scenario = scenario_copy(tmp_path, demo_layers)
    code = textwrap.dedent(
        f"""
        import sys
        for name in ("pyarrow", "matplotlib", "osmium", "offlinefolium"):
            sys.modules[name] = None
        from geofupin.cli import main
        main(["-q", "run", {str(scenario)!r}, "--overwrite"])
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    out = tmp_path / "maps" / "demo"
    assert (out / "index.html").is_file() and (out / "results.gpkg").is_file() and (out / "tables.xlsx").is_file()
    assert not list(out.glob("map_*"))
    html = (out / "index.html").read_text(encoding="utf-8")
    for pat in FETCH_PATTERNS:
        assert not re.search(pat, html), pat
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    notes = [w for w in run["warnings"] if "geofupin[static]" in w]
    assert len(notes) == 1 and "map_A3.png/pdf" in notes[0]
