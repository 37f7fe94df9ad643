"""The cheaper ``access``, ``site`` and ``map`` code paths give what the plain computation gives.

No timings are asserted: each test computes the old, straightforward way next to the new one
and compares the results exactly (frames with their dtypes, page text byte for byte).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from geofupin.accessibility import coverage
from geofupin.config.maps import MapConfig
from geofupin.context import RunContext


# --------------------------------------------------------------------------- access: coverage
def _coverage_per_band(access: pd.DataFrame, kinds: list[str], bands: list[float], total: str) -> pd.DataFrame:
    """The original coverage: one frame and one groupby per (kind, band), concatenated, then sorted."""
    twp = access["township"].fillna("").astype(str)
    persons = pd.to_numeric(access["persons"], errors="coerce").fillna(0).to_numpy(float)
    poor = pd.to_numeric(access["poor_persons"], errors="coerce").fillna(0).to_numpy(float)
    labels = pd.concat([twp, pd.Series(total, index=access.index)], ignore_index=True)
    p2, q2 = np.r_[persons, persons], np.r_[poor, poor]
    rows = []
    for kind in kinds:
        col = f"time_min_{kind}"
        t = access[col].to_numpy(float) if col in access else np.full(len(access), np.nan)
        t2 = np.r_[t, t]
        for band in bands:
            cov = np.nan_to_num(t2, nan=np.inf) <= band
            df = pd.DataFrame({"township": labels, "p": p2, "q": q2, "pc": p2 * cov, "qc": q2 * cov})
            g = df.groupby("township", sort=True).sum()
            with np.errstate(invalid="ignore", divide="ignore"):
                rows.append(
                    pd.DataFrame(
                        {
                            "township": g.index,
                            "facility_kind": kind,
                            "band_min": float(band),
                            "persons": g["p"].to_numpy(),
                            "poor_persons": g["q"].to_numpy(),
                            "persons_share": np.where(g["p"] > 0, g["pc"] / g["p"], np.nan),
                            "poor_persons_share": np.where(g["q"] > 0, g["qc"] / g["q"], np.nan),
                        }
                    )
                )
    out = pd.concat(rows, ignore_index=True)
    out["_total"] = out["township"] == total
    out = out.sort_values(["facility_kind", "band_min", "_total", "township"], kind="stable").drop(columns="_total")
    return out.reset_index(drop=True)


def _tiny_access() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "township": ["乙乡", "甲乡", "乙乡", None, "丙乡"],
            "persons": [100, 50, 30, 20, 0],
            "poor_persons": [10, 0, 3, 2, 0],
            "time_min_school": [10.0, 25.0, np.nan, 50.0, 5.0],
            "time_min_clinic": [40.0, 14.9, 15.0, np.nan, np.nan],
        }
    )


def test_coverage_hand_values() -> None:
    cov = coverage(_tiny_access(), ["school", "clinic"], [15.0, 30.0])
    # clinic first (sorted kinds), bands ascending, townships sorted with the county last
    first = cov[(cov["facility_kind"] == "clinic") & (cov["band_min"] == 15.0)]
    assert first["township"].tolist() == ["", "丙乡", "乙乡", "甲乡", "全县"]
    # 乙乡: 100 persons at 40 min, 30 at 15 min -> 30 / 130 within 15 min; the county: (50 + 30) / 200
    assert first["persons_share"].tolist()[2:] == pytest.approx([30 / 130, 1.0, 80 / 200])
    assert first["poor_persons_share"].tolist()[2] == pytest.approx(3 / 13)
    assert np.isnan(first["poor_persons_share"].tolist()[3])  # 甲乡 has no poor persons
    assert np.isnan(first["persons_share"].tolist()[1])  # 丙乡 has nobody
    school30 = cov[(cov["facility_kind"] == "school") & (cov["band_min"] == 30.0)]
    assert school30["persons_share"].tolist()[-1] == pytest.approx(150 / 200)
    assert school30["persons"].tolist() == [20.0, 0.0, 130.0, 50.0, 200.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coverage_equals_one_groupby_per_band(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    access = pd.DataFrame(
        {
            "township": rng.choice(["乡一", "乡二", "乡三", "B", "a"], n),
            # fractional weights: the sums must add in the same order as the per-band groupby
            "persons": rng.uniform(0, 900, n),
            "poor_persons": rng.uniform(0, 90, n),
            "time_min_school": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 120, n)),
            "time_min_town": rng.uniform(0, 120, n),
        }
    )
    kinds, bands = ["town", "school", "hospital"], [15.0, 30.0, 60.0]
    got = coverage(access, kinds, bands, total_label="全县")
    pd.testing.assert_frame_equal(got, _coverage_per_band(access, kinds, bands, "全县"), check_exact=True)


def test_coverage_without_cases_is_empty_with_the_columns() -> None:
    got = coverage(_tiny_access(), [], [15.0])
    assert got.empty and list(got.columns)[:3] == ["township", "facility_kind", "band_min"]


# --------------------------------------------------------------------------- map: no template per page
def _write_dem(path: Path) -> Path:
    """A small sloped DEM with a nodata corner (EPSG:4545, 30 m cells) around the fixtures' layers."""
    import rasterio
    from _maps_fixtures import X0, Y0
    from rasterio.transform import from_origin

    yy, xx = np.mgrid[0:80, 0:90]
    z = (900 + 3.0 * xx + 40 * np.sin(yy / 7.0)).astype("float32")
    z[:6, :6] = -9999.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # rasterio's own Affine use
        transform = from_origin(X0 - 600, Y0 + 1800, 30, 30)
    profile = {"driver": "GTiff", "width": 90, "height": 80, "count": 1, "dtype": "float32", "nodata": -9999.0}
    with rasterio.open(path, "w", crs="EPSG:4545", transform=transform, **profile) as d:
        d.write(z, 1)
    return path


def _page(ctx: RunContext) -> str:
    from geofupin.maps import build_run_map, render_html

    return render_html(build_run_map(ctx, config=MapConfig()), offline=False)


def _plain_folium(monkeypatch: pytest.MonkeyPatch) -> None:
    """The old code path: folium's own classes, and branca rendering the elements geofupin does not own."""
    import folium
    import folium.plugins
    import folium.raster_layers

    from geofupin.maps import elements, layers_base, overview

    monkeypatch.setattr(overview, "Map", folium.Map)
    monkeypatch.setattr(overview, "Fullscreen", folium.plugins.Fullscreen)
    monkeypatch.setattr(overview, "MeasureControl", folium.plugins.MeasureControl)
    monkeypatch.setattr(layers_base, "ImageOverlay", folium.raster_layers.ImageOverlay)
    monkeypatch.setattr(elements, "_plain", lambda element: False)


def test_page_is_the_page_branca_renders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from _maps_fixtures import XSS_SCRIPT, make_ctx

    ctx = make_ctx(_write_dem(tmp_path / "dem.tif"))
    new = _page(ctx)
    with monkeypatch.context() as mp:
        _plain_folium(mp)
        old = _page(ctx)
    assert new == old  # byte for byte (one process: the same set orders)
    assert "data:image/png;base64," in new and ".addTo(" in new and "L.control.fullscreen" in new
    # a hostile village name is data: escaped in its JSON block, never markup
    assert XSS_SCRIPT not in new and "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in new


def test_a_page_compiles_no_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jinja2
    from _maps_fixtures import make_ctx

    ctx = make_ctx(_write_dem(tmp_path / "dem.tif"))
    _page(ctx)  # every class of the page imported
    compiled: list[str] = []
    plain = jinja2.Environment.from_string

    def counting(self: jinja2.Environment, source: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append(str(source))
        return plain(self, source, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "from_string", counting)
    _page(ctx)
    # only branca's Figure still compiles its constant <meta> tag (once per page)
    assert compiled == ['<meta http-equiv="content-type" content="text/html; charset=UTF-8" />']
    compiled.clear()
    with monkeypatch.context() as mp:  # the old path compiled each macro output again, the hillshade URL too
        _plain_folium(mp)
        _page(ctx)
    assert len(compiled) >= 5 and max(map(len, compiled)) > 1000


def test_macro_text_that_looks_like_a_template_is_written_as_it_is() -> None:
    """An ``addTo`` (or any folium macro) output is text: ``{{ 7*7 }}`` stays, it is not evaluated."""
    from branca.element import Figure, MacroElement
    from folium.template import Template

    from geofupin.maps.elements import Map, RawMacroElement

    class Odd(MacroElement):
        _template = Template("{% macro script(this, kwargs) %}var x = '{{ this.text }}';{% endmacro %}")

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Holder(RawMacroElement):
        _template = Template("")

    m = Map(tiles=None)
    holder = Holder()
    holder.add_child(Odd("{{ 7*7 }}"))  # a plain MacroElement child: rendered verbatim by its holder
    m.add_child(holder)
    assert isinstance(m.get_root(), Figure)
    html = m.get_root().render()
    assert "var x = '{{ 7*7 }}';" in html and "'49'" not in html


# --------------------------------------------------------------------------- map: the comparison sheet
def test_by_site_indexes_each_table_once_with_the_same_values() -> None:
    from geofupin.maps.whatif import _by_site

    table = pd.DataFrame(
        {
            "site_id": [3, "S1", "S2", "S1", 3],
            "a": [1.5, 2.0, np.nan, 9.0, 4.0],
            "b": pd.array([1, 2, 3, 4, 5], dtype="Int64"),
        }
    )
    ids = ["S1", "3", "S9", "S2"]
    indexed: dict[int, pd.DataFrame] = {}
    for column in ("a", "b", "c"):
        plain = _by_site(table, ids, column)
        assert _by_site(table, ids, column, indexed) == plain or column == "a"
        got = _by_site(table, ids, column, indexed)
        assert [None if v is None or pd.isna(v) else v for v in got] == [
            None if v is None or pd.isna(v) else v for v in plain
        ]
    assert list(indexed) == [id(table)]  # one index for every column
    assert _by_site(table, ids, "a", indexed)[:3] == [2.0, 1.5, None]  # a site's first row; unknown -> None
    assert _by_site(None, ids, "a", indexed) == [None] * 4
