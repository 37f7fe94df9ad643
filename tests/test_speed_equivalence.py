"""The faster code paths of the county run give what the straightforward computation gives (tiny cases).

No timings are asserted: each test computes the old, plain way next to the optimised one and
compares the values exactly (arrays bit for bit, images pixel for pixel).
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from geofupin.routing import grid_graph, least_cost_path


# --------------------------------------------------------------------------- the routing grid graph
def _coo_grid_graph(factor: np.ndarray, *, xres_m: float, yres_m: float) -> sp.csr_matrix:
    """The 8-neighbour graph as edge lists converted COO -> CSR (the original construction)."""
    h, w = factor.shape
    idx = np.arange(h * w).reshape(h, w)
    us, vs, ws = [], [], []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        r1 = h - dr
        c0, c1 = (0, w - dc) if dc >= 0 else (-dc, w)
        a, b = idx[0:r1, c0:c1], idx[dr : r1 + dr, c0 + dc : c1 + dc]
        fa, fb = factor[0:r1, c0:c1], factor[dr : r1 + dr, c0 + dc : c1 + dc]
        wt = math.hypot(dr * yres_m, dc * xres_m) * (fa + fb) / 2
        ok = np.isfinite(wt)
        us.append(a[ok])
        vs.append(b[ok])
        ws.append(wt[ok])
    u, v, wgt = np.concatenate(us), np.concatenate(vs), np.concatenate(ws)
    return sp.csr_matrix((wgt, (u, v)), shape=(h * w, h * w))


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (4, 1), (2, 2), (2, 3), (3, 2), (6, 7), (31, 17)])
def test_grid_graph_is_the_coo_graph(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    factor = 1 + 4 * rng.random(shape)
    factor[rng.random(shape) < 0.15] = np.inf  # impassable cells have no edges
    got = grid_graph(factor, xres_m=30.0, yres_m=20.0)
    ref = _coo_grid_graph(factor, xres_m=30.0, yres_m=20.0)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got.indptr, ref.indptr)
    np.testing.assert_array_equal(got.indices, ref.indices)
    np.testing.assert_array_equal(got.data, ref.data)  # bit for bit: the same float operations
    assert got.indices.dtype == ref.indices.dtype


def test_grid_graph_hand_values() -> None:
    # 2 x 2 cells of factor 1, 2 / 3, 4 at 10 m: east 0-1 = 10 x 1.5, south 0-2 = 10 x 2, diagonals 10*sqrt2 x mean
    g = grid_graph(np.array([[1.0, 2.0], [3.0, 4.0]]), xres_m=10.0, yres_m=10.0).toarray()
    d = 10 * math.sqrt(2)
    expected = np.array(
        [[0, 15.0, 20.0, d * 2.5], [0, 0, d * 2.5, 30.0], [0, 0, 0, 35.0], [0, 0, 0, 0]],
    )
    np.testing.assert_allclose(g, expected, rtol=0, atol=1e-12)


def test_least_cost_path_on_the_new_graph_matches_the_old() -> None:
    from scipy.sparse.csgraph import dijkstra

    rng = np.random.default_rng(3)
    factor = 1 + 9 * rng.random((25, 30))
    factor[5:20, 14] = np.inf  # a wall with a gap at the top and bottom
    src = np.zeros(factor.shape, dtype=bool)
    tgt = np.zeros(factor.shape, dtype=bool)
    src[12, 2] = True
    tgt[12, 27] = True
    path = least_cost_path(factor, src, tgt, xres_m=30.0, yres_m=30.0)
    ref = _coo_grid_graph(factor, xres_m=30.0, yres_m=30.0)
    dist, pred = dijkstra(ref, directed=False, indices=[12 * 30 + 2], return_predecessors=True)
    chain = [12 * 30 + 27]
    while pred[0, chain[-1]] >= 0:
        chain.append(int(pred[0, chain[-1]]))
    cells = np.column_stack([np.array(chain[::-1]) // 30, np.array(chain[::-1]) % 30])
    np.testing.assert_array_equal(path.cells, cells)
    assert path.cost == dist[0, 12 * 30 + 27]
    assert not (path.cells[:, 1] == 14).any() or set(path.cells[path.cells[:, 1] == 14, 0]) <= {0, 1, 2, 3, 4, 20, 21}


# --------------------------------------------------------------------------- the printable PNG
def _figure(transparent: bool = False):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.0, 1.5), dpi=80)
    if transparent:
        fig.patch.set_alpha(0.0)
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    ax.imshow(np.linspace(0, 1, 120).reshape(10, 12), cmap="Greys_r", alpha=0.45, interpolation="bilinear")
    ax.plot([0, 5, 11], [0, 7, 3], color="#e6550d", lw=2)
    ax.text(2, 2, "N 10 km", parse_math=False)
    return fig


@pytest.mark.parametrize("transparent", [False, True])
def test_figure_png_has_savefigs_pixels(transparent: bool) -> None:
    pytest.importorskip("matplotlib")
    from PIL import Image

    from geofupin.maps.step import figure_bytes

    fig = _figure(transparent)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})  # matplotlib's own PNG
    ref = Image.open(io.BytesIO(buf.getvalue()))
    got = Image.open(io.BytesIO(figure_bytes(fig, "png")))
    assert got.size == ref.size == (160, 120)
    assert got.mode == ("RGBA" if transparent else "RGB")  # an opaque map needs no alpha channel
    np.testing.assert_array_equal(np.asarray(got.convert("RGBA")), np.asarray(ref.convert("RGBA")))
    assert got.info.get("dpi") == pytest.approx((80, 80), abs=0.01)
    assert "Software" not in got.info  # no producer text, as before: the same run gives the same bytes
    assert figure_bytes(fig, "png") == figure_bytes(fig, "png")


# --------------------------------------------------------------------------- the hillshade, shaded once
def _dem(path: Path) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    yy, xx = np.mgrid[0:40, 0:50]
    elev = (900 + 6.0 * xx + 25 * np.sin(yy / 4.0)).astype("float32")
    elev[:2, :2] = -9999
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # rasterio's own Affine use
        transform = from_origin(620000, 4090000, 90.0, 90.0)
    profile = {"driver": "GTiff", "height": 40, "width": 50, "count": 1, "dtype": "float32"}
    with rasterio.open(path, "w", **profile, crs="EPSG:4545", transform=transform, nodata=-9999) as dst:
        dst.write(elev, 1)
    return path


def _plain_hillshade_warped(dem: Path, dst_crs: str, max_px: int) -> tuple[np.ndarray, object]:
    """Read, shade and warp in one go, as the map step did for each map before it shaded once."""
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform, reproject

    from geofupin.maps.hillshade import hillshade

    with rasterio.open(dem) as src:
        f = min(1.0, max_px / max(src.width, src.height))
        h, w = max(2, round(src.height * f)), max(2, round(src.width * f))
        elev = src.read(1, out_shape=(h, w), resampling=Resampling.average, masked=True).astype(float).filled(np.nan)
        t = src.transform @ Affine.scale(src.width / w, src.height / h)
        crs, (left, bottom, right, top) = src.crs, src.bounds
    shade = hillshade(np.where(np.isnan(elev), np.nanmean(elev), elev), dx_m=abs(t.a), dy_m=abs(t.e))
    shade[np.isnan(elev)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        dst_t, dw, dh = calculate_default_transform(crs, dst_crs, w, h, left, bottom, right, top)
    out = np.full((dh, dw), np.nan, dtype="float32")
    reproject(
        shade.astype("float32"),
        out,
        src_transform=t,
        src_crs=crs,
        dst_transform=dst_t,
        dst_crs=dst_crs,
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    return out, dst_t


@pytest.mark.parametrize("max_px", [30, 1200])
def test_one_shade_warped_twice_equals_two_plain_warps(tmp_path: Path, max_px: int) -> None:
    from geofupin.maps.hillshade import dem_shade, hillshade_warped

    dem = _dem(tmp_path / "dem.tif")
    shade = dem_shade(dem, max_px=max_px)
    assert shade is not None and not shade.shade.flags.writeable  # shared: nobody may change it
    for crs in ("EPSG:3857", "EPSG:4545"):
        got = hillshade_warped(dem, crs, max_px=max_px, shade=shade)
        alone = hillshade_warped(dem, crs, max_px=max_px)
        ref = _plain_hillshade_warped(dem, crs, max_px)
        assert got is not None and alone is not None
        np.testing.assert_array_equal(got[0], ref[0])  # NaN where NaN, bit for bit elsewhere
        np.testing.assert_array_equal(alone[0], ref[0])
        assert got[1] == ref[1] == alone[1]
        assert np.isnan(got[0]).any() and np.isfinite(got[0]).mean() > 0.5


def test_map_step_shades_the_dem_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    import importlib

    from _maps_fixtures import make_ctx

    hs = importlib.import_module("geofupin.maps.hillshade")
    step = importlib.import_module("geofupin.maps.step")
    ctx = make_ctx(_dem(tmp_path / "dem.tif"))
    calls: list[Path] = []
    real = hs.dem_shade

    def counted(dem: Path, **kw: object):
        calls.append(dem)
        return real(dem, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(hs, "dem_shade", counted)
    monkeypatch.setattr(step, "dem_shade", counted)
    files = step.map_outputs(ctx, static=("A4",), formats=("png",))
    assert len(calls) == 1  # the page and the printed map share one read of the DEM
    monkeypatch.undo()
    # the same page as when each map reads and shades the DEM on its own
    from geofupin.maps.offline import render_html
    from geofupin.maps.overview import build_run_map

    config = step.map_config(ctx)
    alone = render_html(build_run_map(ctx, config=config), offline=config.offline, title=config.title)
    assert files["index.html"] == alone
    assert "data:image/png;base64," in alone


# --------------------------------------------------------------------------- the roster's pages and sheets
def _roster_tables():
    from test_roster import raw_roster, read

    from geofupin import roster as ro

    raw = raw_roster(所在村={2: "乙村"}, 村民小组={2: "一组"})  # 乙村 gets three households, not in row order
    h, _ = read(raw)
    return ro.notice_table(h)


def test_notice_page_lists_each_villages_households_in_order() -> None:
    import re

    from geofupin.notice import NOTICE_HEADERS, _e, notice_html

    lst, vil = _roster_tables()
    vil = pd.concat([vil, vil.iloc[[0]].assign(village_id="V9", village_name="空村")], ignore_index=True)
    page = notice_html(lst, vil)
    sections = re.findall(r'<section class="village" data-village-id="([^"]*)">(.*?)</section>', page, flags=re.S)
    assert [s[0] for s in sections] == list(vil["village_id"])
    for vid, body in sections:
        rows = re.findall(r"<tbody>(.*?)</tbody>", body, flags=re.S)[0]
        got = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", rows)]
        mine = lst[lst["village_id"] == vid]  # the plain filter, row by row as iterrows gives them
        want = [[_e(r[c]) for c in NOTICE_HEADERS] for _, r in mine.iterrows()]
        assert got == want
        assert len(got) == {"V1": 2, "V2": 3, "V9": 0}[vid]


def test_village_sheets_equal_the_plain_filter() -> None:
    from geofupin.notice import NOTICE_HEADERS, _village_sheets

    lst, vil = _roster_tables()
    got = _village_sheets(lst, vil, NOTICE_HEADERS)
    for (_, v), (name, sheet) in zip(vil.iterrows(), got.items(), strict=True):
        want = lst[lst["village_id"] == v["village_id"]][list(NOTICE_HEADERS)].copy()
        want.columns = list(NOTICE_HEADERS.values())
        pd.testing.assert_frame_equal(sheet, want)
        assert name.startswith(str(v["village_name"]))
    totals = _village_sheets(lst, vil, NOTICE_HEADERS, total=["persons"])
    for (_, v), sheet in zip(vil.iterrows(), totals.values(), strict=True):
        persons = lst.loc[lst["village_id"] == v["village_id"], "persons"].sum()
        assert sheet.iloc[-1, 0] == "合计" and sheet[NOTICE_HEADERS["persons"]].iloc[-1] == float(persons)
