"""Pipeline seams: steps skipped when their inputs are absent, inputs protected, nobody-placed runs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from geofupin import io as gio
from geofupin.context import RunContext, StepResult
from geofupin.errors import LayerError, Problems
from geofupin.layers import prepare_layers, validate_layer
from geofupin.pipeline import skip_reason

LON, LAT = 109.32, 36.86


def villages(relocate: tuple[int, int] = (12, 0), relocate_hh: tuple[int, int] = (3, 0)) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_id": ["001", "002"],
            "name": ["张家塬村", "曹家洼村"],
            "households": [10, 20],
            "persons": [40, 70],
            "relocate_households": list(relocate_hh),
            "relocate_persons": list(relocate),
        },
        geometry=[Point(LON, LAT), Point(LON + 0.01, LAT)],
        crs=4490,
    )


def test_steps_without_their_inputs_are_skipped_with_a_reason() -> None:
    layers = prepare_layers({"villages": villages()})
    assert "no roads layer" in (skip_reason("access", layers) or "")
    assert skip_reason("allocate", layers) is None
    nobody = prepare_layers({"villages": villages(relocate=(0, 0), relocate_hh=(0, 0))})
    assert "relocate_persons > 0" in (skip_reason("allocate", nobody) or "")
    assert skip_reason("map", nobody) is None


def test_relocating_persons_need_households() -> None:
    with pytest.raises(LayerError, match=r"\[id 001\].*relocate_persons > 0 but relocate_households = 0"):
        prepare_layers({"villages": villages(relocate=(12, 0), relocate_hh=(0, 0))})


def test_a_column_map_onto_an_unknown_name_is_an_error() -> None:
    p = Problems()
    validate_layer(villages(), "villages", p, columns={"搬迁户": "relocate_housholds"})
    (e,) = [x for x in p.errors if "columns" in x.where]
    assert "'relocate_housholds'" in e.message and "did you mean 'relocate_households'" in e.message


def test_csv_ids_keep_leading_zeros(tmp_path: Path) -> None:
    v = villages()
    csv = tmp_path / "v.csv"
    v.drop(columns="geometry").assign(lon=v.geometry.x, lat=v.geometry.y).to_csv(csv, index=False)
    out = validate_layer(gio.read_vector(csv), "villages", Problems())
    assert out is not None
    assert out["village_id"].tolist() == ["001", "002"] and out["persons"].tolist() == [40, 70]


def test_output_folder_holding_an_input_is_never_replaced(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    layer = project / "villages.gpkg"
    layer.write_bytes(b"data")
    with pytest.raises(ValueError, match="holds the input"), gio.atomic_dir(project, overwrite=True, protect=[layer]):
        pass
    with pytest.raises(ValueError, match="holds the input"), gio.atomic_dir(tmp_path, overwrite=True, protect=[layer]):
        pass
    assert layer.read_bytes() == b"data"
    with gio.atomic_dir(project / "out", protect=[layer]) as tmp:  # a folder of its own is fine
        (tmp / "run.json").write_text("{}")
    assert (project / "out" / "run.json").exists() and layer.exists()


def test_allocate_reports_everyone_unserved_when_no_site_passes() -> None:
    from geofupin.allocate import AllocationConfig
    from geofupin.allocate import step as allocate_step

    layers = prepare_layers({"villages": villages()})
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1"], "name": ["城北安置点"], "passed": [False], "capacity_persons": [500]},
        geometry=[Point(LON, LAT).buffer(0.002)],
        crs=4490,
    ).to_crs(layers.crs)
    ctx = RunContext(
        scenario=SimpleNamespace(allocation=AllocationConfig()),  # type: ignore[arg-type]
        layers=layers,
        results={"site": StepResult(layers={"sites": sites})},
    )
    res = allocate_step(ctx)
    unserved = res.tables["unserved"]
    assert unserved["village_id"].tolist() == ["001"] and unserved["persons"].tolist() == [12]
    assert unserved["reason_zh"].iloc[0] == "没有通过筛选且有容量的安置点"
    assert len(res.tables["assignment"]) == 0
    assert res.summary["served_persons"] == 0 and res.summary["unserved_persons"] == 12
    assert any("unserved" in w for w in res.warnings)
    assert isinstance(res.tables["assignment"], pd.DataFrame)


def test_the_same_map_renders_to_the_same_bytes(tmp_path: Path) -> None:
    from _maps_fixtures import make_ctx
    from test_maps import _write_dem

    from geofupin.maps import MapConfig, build_run_map, render_html

    ctx = make_ctx(_write_dem(tmp_path / "dem.tif"))
    pages = [render_html(build_run_map(ctx, config=MapConfig())) for _ in range(2)]
    assert pages[0] == pages[1]
    assert "map_00000000000000000000000000000001" in pages[0]  # branca's random ids became counters


def test_check_reports_what_run_will_warn_about(tmp_path: Path) -> None:
    from demo_helpers import invoke

    gio.write_vector(villages(), tmp_path / "villages.gpkg", layer="villages")
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: tiny\nlayers:\n  villages: villages.gpkg\n", encoding="utf-8")
    code, text = invoke("check", str(scenario))
    assert code == 0, text
    assert "no roads layer" in text  # a warning: access will be skipped
    # the default siting criteria needing layers this county lacks are dropped (one warning), not an error
    assert text.count("dropped for missing data") == 1
    assert "dist_water_m (no water layer)" in text and "slope_mean_deg (no DEM)" in text
    n_check = int(text.rsplit("error(s), ", 1)[1].split(" ")[0])
    code, run_text = invoke("run", str(scenario))
    assert code == 0, run_text
    assert f"警告 {n_check} 条" in run_text
