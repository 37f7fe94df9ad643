"""Hostile and broken scenario/policy files: each a named error with the file, the line and the fix.

Issue 10, section 4 (scenario, YAML, CRS, policy and ``check``). Every hostile case is bounded in
time by design: the YAML reader refuses alias expansions beyond a limit while it composes, so a
"billion laughs" file fails at once; the subprocess timeout below is only a guard against a
regression turning into a hung test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geofupin import io as gio
from geofupin import scenario
from geofupin.cli import main
from geofupin.config.policy import parse_policy
from geofupin.errors import ScenarioError
from geofupin.io import load_policy

REPO = Path(__file__).resolve().parents[1]
LON, LAT = 109.32, 36.86

#: 1 KB that expands to 9**9 (387 million) values when every alias is written out.
BILLION_LAUGHS = "".join(
    f"{a}: &{a} [{', '.join([f'*{b}'] * 9)}]\n" for b, a in zip("abcdefgh", "bcdefghi", strict=True)
)
BILLION_LAUGHS = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + BILLION_LAUGHS


def cli(*args: str) -> Result:
    """Run ``geofupin ARGS`` in-process (exceptions are caught, so a traceback shows as a non-SystemExit)."""
    return CliRunner().invoke(main, list(args))


def assert_named_failure(res: Result, *fragments: str) -> None:
    """Exit code 1 through geofupin's own error handling (SystemExit), never an uncaught exception."""
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit), f"uncaught {res.exception!r}\n{res.output}"
    assert "Traceback" not in res.output
    for f in fragments:
        assert f in res.output, f"{f!r} not in:\n{res.output}"


def problem_lines(output: str) -> set[str]:
    """The ``- error: ...`` lines of a check or run output."""
    return {line.strip() for line in output.splitlines() if line.strip().startswith("- error:")}


@pytest.fixture
def villages_gpkg(tmp_path: Path) -> Path:
    """Two hand-made villages (CGCS2000 lon/lat), three people moving."""
    gdf = gpd.GeoDataFrame(
        {
            "village_id": ["001", "002"],
            "name": ["张家塬村", "曹家洼村"],
            "households": [10, 20],
            "persons": [40, 70],
            "relocate_households": [1, 0],
            "relocate_persons": [3, 0],
        },
        geometry=[Point(LON, LAT), Point(LON + 0.01, LAT)],
        crs=4490,
    )
    p = tmp_path / "layers" / "villages.gpkg"
    p.parent.mkdir()
    gio.write_vector(gdf, p, layer="villages")
    return p


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def scenario_text(villages: Path, extra: str = "", *, name: str = "t", steps: str = "[plan]") -> str:
    return f"name: {name}\nsteps: {steps}\nlayers:\n  villages: {villages.as_posix()}\n{extra}"


# --------------------------------------------------------------------------- 1. billion laughs
def _guarded_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "geofupin.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # a guard only: the reader refuses the file as soon as the count passes its limit
    )


@pytest.mark.parametrize("command", ["check", "run"])
def test_billion_laughs_scenario_is_refused_by_name(tmp_path: Path, command: str) -> None:
    p = write(tmp_path / "laughs.yaml", BILLION_LAUGHS + "name: x\nlayers: {villages: v.gpkg}\n")
    assert p.stat().st_size < 1024
    done = _guarded_cli(command, str(p), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    text = done.stdout + done.stderr
    assert "Traceback" not in text
    assert str(p) in text and "billion laughs" in text and "100,000 values" in text
    assert "Fix: Write the values out" in text
    assert "(line 6)" in text  # the level at which the expansion passes 100,000 (9**6 > 1e5 > 9**5)


def test_billion_laughs_policy_file_is_refused_by_name(tmp_path: Path, villages_gpkg: Path) -> None:
    pol = write(tmp_path / "policy.yaml", BILLION_LAUGHS + "name: x\nrules: []\n")
    sc = write(tmp_path / "s.yaml", scenario_text(villages_gpkg, f"policy: {{file: {pol.name}}}\n"))
    done = _guarded_cli("check", str(sc), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"error: {pol} (line 6): its aliases (*name) expand to more than 100,000 values" in done.stdout
    with pytest.raises(ScenarioError, match="billion laughs"):
        load_policy(pol)


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path / "loop.yaml", "name: x\nlayers: {villages: v.gpkg}\nsteps: &s [access, *s]\n")
    res = cli("check", str(p))
    assert_named_failure(res, f"{p} (line 3)", "the alias *s is used inside &s itself")


def test_normal_aliases_and_merge_keys_keep_working_with_lines(tmp_path: Path) -> None:
    p = write(
        tmp_path / "s.yaml",
        "name: x\n"
        "speeds: &speeds {track: 12, path: 5}\n"  # unknown top-level key, to see its line
        "layers:\n"
        "  villages: v.gpkg\n"
        "access:\n"
        "  speeds_kph: *speeds\n"
        "  bands_min: &bands [10, 20]\n"
        "allocation:\n"
        "  cutoff_min: 120\n"
        "siting:\n"
        "  rules: {<<: {max_slope_deg: 20}, max_dist_road_m: 800}\n",
    )
    data, lines = gio.read_yaml_with_lines(p)
    assert data["access"]["speeds_kph"] == {"track": 12, "path": 5}
    assert data["siting"]["rules"] == {"max_slope_deg": 20, "max_dist_road_m": 800}
    assert lines["access.speeds_kph"] == 6 and lines["speeds.track"] == 2 and lines["access.bands_min[1]"] == 7
    assert "access.speeds_kph.track" not in lines  # an alias is not walked again
    with pytest.raises(ScenarioError) as info:
        scenario.load(p)
    (only,) = info.value.problems
    assert only.where == "speeds" and only.line == 2


def test_a_few_thousand_expanded_values_are_fine(tmp_path: Path) -> None:
    # four levels of nine: 9**4 = 6,561 values once expanded, well under the limit
    text = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + "".join(
        f"{a}: &{a} [{', '.join([f'*{b}'] * 9)}]\n" for b, a in zip("abc", "bcd", strict=True)
    )
    data = gio.read_yaml(write(tmp_path / "ok.yaml", text))
    assert len(data["d"]) == 9 and data["d"][8][8][8] == ["x"] * 9


# --------------------------------------------------------------------------- 2. unreadable files
BAD_FILES: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "gbk": ("name: 示范县\nlayers: {villages: v.gpkg}\n".encode("gbk"), ("(line 1)", "looks GBK-encoded", "UTF-8")),
    "binary": (bytes(range(256)) * 4, ("this is a binary file, not YAML text", "Fix:")),
    "deep": (
        ("a: " + "[" * 10_000 + "]" * 10_000 + "\n").encode(),
        ("(line 1)", "nested more than 64 levels deep", "Fix: Flatten"),
    ),
    "empty": (b"", ("the scenario is empty", "Fix: Start the file with 'name: ...'")),
    "list": (b"- name: x\n- layers: {}\n", ("the scenario is a list, not a mapping", "(line 1)")),
    "scalar": (b"just some text\n", ("the scenario is a single text value, not a mapping", "(line 1)")),
    "syntax": (
        b"name: x\nlayers: {villages: v.gpkg\nsteps: [access]\n",
        ("(line 3): not valid YAML (syntax error)", "not closed starts on line 2", "Fix: Check the brackets"),
    ),
    "tab": (b"name: x\nlayers:\n\tvillages: v.gpkg\n", ("(line 3)", "not valid YAML", "spaces, not tabs")),
    "duplicate": (
        b"name: x\ncrs: EPSG:4545\nlayers: {villages: v.gpkg}\ncrs: auto\n",
        ("(line 4)", "the key 'crs' appears twice in one mapping (lines 2 and 4)", "Keep one 'crs:'"),
    ),
    "huge_int": (
        b"name: x\nlayers: {villages: v.gpkg}\ndemo: {seed: " + b"9" * 5000 + b"}\n",
        ("(line 3)", "cannot be read", "Fix:"),
    ),
    "bad_date": (b"name: x\nlayers: {villages: v.gpkg}\nwhen: 2016-13-45\n", ("(line 3)", "cannot be read")),
    "control": (b"name: x\nlayers: {villages: v.gpkg}\ntitle: {zh: a\x01b}\n", ("(line 3)", "#x0001 is not allowed")),
    "python_tag": (
        b"name: x\nlayers: {villages: v.gpkg}\ntitle: !!python/object/apply:os.system [id]\n",
        ("(line 3)", "could not determine a constructor", "without '!' tags"),
    ),
    "odd_tag": (b"name: x\nlayers: {villages: v.gpkg}\nseed: !!timestamp x\n", ("(line 3)", "cannot be read")),
}


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_unreadable_scenario_files_are_named_errors(tmp_path: Path, case: str, command: str) -> None:
    content, fragments = BAD_FILES[case]
    p = tmp_path / f"{case}.yaml"
    p.write_bytes(content)
    res = cli(command, str(p))
    assert_named_failure(res, str(p), *fragments)


@pytest.mark.parametrize("case", ["gbk", "binary", "deep", "empty", "list", "scalar", "syntax", "duplicate"])
def test_unreadable_policy_files_are_named_errors_in_check_and_run(
    tmp_path: Path, villages_gpkg: Path, case: str
) -> None:
    content, fragments = BAD_FILES[case]
    pol = tmp_path / f"policy-{case}.yaml"
    pol.write_bytes(content)
    sc = write(tmp_path / "s.yaml", scenario_text(villages_gpkg, f"policy: {{file: {pol.name}}}\n"))
    fragments = tuple(f.replace("the scenario is", "the policy is") for f in fragments if "Start the file" not in f)
    checked = cli("check", str(sc))
    assert_named_failure(checked, str(pol), *fragments)
    ran = cli("run", str(sc), "--out", str(tmp_path / "out"))
    assert_named_failure(ran, str(pol), *fragments)
    assert problem_lines(checked.output) == problem_lines(ran.output)
    assert not (tmp_path / "out").exists()


def test_a_folder_or_missing_file_as_policy(tmp_path: Path, villages_gpkg: Path) -> None:
    (tmp_path / "pol").mkdir()
    sc = write(tmp_path / "s.yaml", scenario_text(villages_gpkg, "policy: {file: pol}\n"))
    assert_named_failure(cli("check", str(sc)), f"{tmp_path / 'pol'}: this is a folder, not a file.")
    with pytest.raises(ScenarioError, match="the file does not exist"):
        load_policy(tmp_path / "nope.yaml")


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    p = tmp_path / "big.yaml"
    p.write_bytes(b"name: x\nlayers: {villages: v.gpkg}\n# " + b"x" * (gio.YAML_MAX_BYTES + 1) + b"\n")
    assert_named_failure(cli("check", str(p)), f"{p}: the file is 5.2 MB; a scenario or policy file is a few kilobytes")


def test_policy_problems_carry_line_numbers(tmp_path: Path) -> None:
    text = (REPO / "scenarios" / "policy" / "seed-county.yaml").read_text(encoding="utf-8")
    text = text.replace("hardship_share: 0.10", "hardship_share: .nan\nhardship_shares: 0.1", 1)
    pol = write(tmp_path / "p.yaml", text)
    line = text.splitlines().index("hardship_share: .nan") + 1
    with pytest.raises(ScenarioError) as info:
        load_policy(pol)
    probs = {p.where: p for p in info.value.problems}
    assert probs[f"{pol}.hardship_share"].line == line
    assert "nan is not a finite number" in probs[f"{pol}.hardship_share"].message
    assert probs[f"{pol}.hardship_shares"].line == line + 1
    assert "did you mean 'hardship_share'" in probs[f"{pol}.hardship_shares"].message


def test_policy_bounds_catch_unit_slips() -> None:
    raw = gio.read_yaml(REPO / "scenarios" / "policy" / "seed-county.yaml")
    assert raw["rules"][0]["basis"] == "per_person"
    raw["rules"][0]["amount"] = 4.5e11  # yuan typed as fen, and then some
    raw["housing"] = {"min_floor_area_m2_per_person": -20, "max_floor_area_m2_per_household": 1e9}
    with pytest.raises(ScenarioError) as info:
        parse_policy(raw, where="p")
    probs = {p.where: p.message for p in info.value.problems}
    assert probs["p.rules[0].amount"].startswith("amount 450,000,000,000 yuan per person is above 10,000,000 yuan")
    assert probs["p.housing.min_floor_area_m2_per_person"] == "-20.0 m2 is outside (0, 10000]."
    assert probs["p.housing.max_floor_area_m2_per_household"] == "1000000000.0 m2 is outside (0, 10000]."
    assert len(probs) == 3


# --------------------------------------------------------------------------- 3. CRS
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("GCJ-02", "GCJ-02 (火星坐标: Gaode/AMap, Tencent) is a shifted longitude/latitude, not a metric CRS"),
        ("bd09", "BD-09 (百度坐标: Baidu) is a shifted longitude/latitude"),
        ("foo", "cannot read CRS 'foo'. Fix: Write 'auto', or a metric CRS given as an EPSG code (EPSG:4490"),
        ("EPSG:4978", "is not a map CRS"),
    ],
)
def test_unknown_scenario_crs_lists_what_is_accepted(tmp_path: Path, value: str, expected: str) -> None:
    p = write(tmp_path / "s.yaml", f"name: x\ncrs: {value}\nlayers: {{villages: v.gpkg}}\n")
    assert_named_failure(cli("check", str(p)), "crs (line 2): ", expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("foo", "cannot read CRS 'foo'. Fix: Write an EPSG code (EPSG:4490 CGCS2000 经纬度, EPSG:4326 WGS84"),
        ("auto", "'auto' chooses the run's CRS"),
    ],
)
def test_unknown_layer_crs_is_named_even_when_the_file_has_a_crs(
    tmp_path: Path, villages_gpkg: Path, value: str, expected: str
) -> None:
    text = f"name: x\nlayers:\n  villages: {{path: {villages_gpkg.as_posix()}, crs: '{value}'}}\n"
    p = write(tmp_path / "s.yaml", text)
    assert_named_failure(cli("check", str(p)), "layers.villages.crs (line 3):", expected)
    assert_named_failure(cli("run", str(p), "--out", str(tmp_path / "o")), "layers.villages.crs (line 3):", expected)


def test_a_sound_layer_crs_is_accepted(tmp_path: Path, villages_gpkg: Path) -> None:
    sc = scenario.from_dict(
        {"name": "x", "layers": {"villages": {"path": str(villages_gpkg), "crs": "EPSG:4490"}}, "crs": "4545"}
    )
    assert sc.layers.sources()["villages"].crs == "EPSG:4490" and sc.crs == "4545"


def test_an_unknown_layer_encoding_is_named_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "v.csv").write_text("village_id,lon,lat\n001,109.3,36.9\n", encoding="utf-8")
    p = write(tmp_path / "s.yaml", "name: t\nlayers:\n  villages: {path: v.csv, encoding: GBKK}\n")
    assert_named_failure(
        cli("check", str(p)),
        "layers.villages.encoding (line 3): unknown text encoding 'GBKK' (did you mean 'GBK'?).",
        "Fix: Use one of UTF-8, GBK, GB18030",
    )


# --------------------------------------------------------------------------- 4. non-finite numbers
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN", "1.0e+999"])
def test_non_finite_numbers_are_refused_with_key_and_line(tmp_path: Path, value: str) -> None:
    p = write(
        tmp_path / "s.yaml",
        f"name: x\nlayers: {{villages: v.gpkg}}\naccess:\n  snap_tolerance_m: {value}\n"
        f"  speeds_kph: {{track: {value}}}\n",
    )
    with pytest.raises(ScenarioError) as info:
        scenario.load(p)
    probs = {pr.where: pr for pr in info.value.problems}
    assert set(probs) == {"access.snap_tolerance_m", "access.speeds_kph.track"}
    assert probs["access.snap_tolerance_m"].line == 4 and probs["access.speeds_kph.track"].line == 5
    assert "is not a finite number" in probs["access.snap_tolerance_m"].message


def test_a_negative_demo_seed_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path / "s.yaml", "name: x\nlayers: {villages: v.gpkg}\ndemo: {seed: -1}\n")
    with pytest.raises(ScenarioError, match=r"demo.seed \(line 3\): seed -1 is negative"):
        scenario.load(p)


# --------------------------------------------------------------------------- 5. check finds what run stops on
def test_missing_policy_file_check_and_run_say_the_same(tmp_path: Path, villages_gpkg: Path) -> None:
    sc = write(tmp_path / "s.yaml", scenario_text(villages_gpkg, "policy: {file: nope.yaml}\n"))
    checked = cli("check", str(sc))
    ran = cli("run", str(sc), "--out", str(tmp_path / "out"))
    expected = f"- error: {tmp_path / 'nope.yaml'}: the file does not exist."
    assert_named_failure(checked, expected)
    assert_named_failure(ran, expected)
    assert problem_lines(checked.output) == problem_lines(ran.output)


def test_invalid_policy_file_check_and_run_say_the_same(tmp_path: Path, villages_gpkg: Path) -> None:
    pol = write(tmp_path / "p.yaml", "name: 政策\nrules:\n  - {id: a, payer: provnce, purpose: housing}\n")
    sc = write(tmp_path / "s.yaml", scenario_text(villages_gpkg, "policy: {file: p.yaml}\n"))
    checked = cli("check", str(sc))
    ran = cli("run", str(sc), "--out", str(tmp_path / "out"))
    assert_named_failure(checked, f"{pol}.rules[0].payer (line 3): 'provnce' is not one of", "did you mean 'province'")
    assert_named_failure(ran, f"{pol}.rules[0].payer (line 3)")
    assert problem_lines(checked.output) == problem_lines(ran.output)
    assert len(problem_lines(checked.output)) == 3  # bad payer, missing basis, missing amount


def test_missing_dem_is_reported_with_missing_layer_files(tmp_path: Path, villages_gpkg: Path) -> None:
    extra = "  roads: roads-missing.gpkg\n  water: water-missing.gpkg\n  dem: dem-missing.tif\n"
    sc = write(tmp_path / "s.yaml", scenario_text(villages_gpkg, steps="[access]") + extra)
    checked = cli("check", str(sc))
    ran = cli("run", str(sc), "--out", str(tmp_path / "out"))
    for fragment in ("roads-missing.gpkg does not exist", "water-missing.gpkg does not exist"):
        assert_named_failure(checked, fragment)
    assert_named_failure(checked, f"- error: dem: DEM file {tmp_path / 'dem-missing.tif'} does not exist.")
    assert problem_lines(checked.output) == problem_lines(ran.output)
    assert len(problem_lines(checked.output)) == 3
    assert "Fix: check the path in the scenario's layers section. Fix:" not in checked.output  # one fix each


def test_bad_name_is_reported_with_every_other_problem(tmp_path: Path, villages_gpkg: Path) -> None:
    text = (
        "name: 'a/b'\n"
        "steps: [access, plan]\n"
        "crs: GCJ-02\n"
        "acess: {}\n"
        f"policy: {{file: nope.yaml}}\n"
        "layers:\n"
        f"  villages: {villages_gpkg.as_posix()}\n"
        "  roads: {path: missing-roads.gpkg}\n"
        "  water: {path: w.gpkg, crs: foo}\n"
        "  dem: missing.tif\n"
    )
    sc = write(tmp_path / "s.yaml", text)
    res = cli("check", str(sc))
    assert_named_failure(
        res,
        "name (line 1): name 'a/b' cannot be used as a folder name (it contains '/')",
        "crs (line 3): GCJ-02",
        "acess (line 4): unknown key 'acess' (did you mean 'access'?)",
        "layers.water.crs (line 9): 无法识别坐标系 cannot read CRS 'foo'",
        f"{tmp_path / 'nope.yaml'}: the file does not exist",
        "layers.roads: layer file",
        "missing-roads.gpkg does not exist",
        "dem: DEM file",
        "7 error(s)",
    )


def test_check_exits_0_with_warnings_when_run_would_go_on(tmp_path: Path, villages_gpkg: Path) -> None:
    sc = write(tmp_path / "s.yaml", scenario_text(villages_gpkg, steps="[access]"))
    res = cli("check", str(sc))
    assert res.exit_code == 0, res.output
    assert "0 error(s), 1 warning(s)" in res.output and "access skipped: no roads layer" in res.output
    ran = cli("run", str(sc), "--out", str(tmp_path / "out"))
    assert ran.exit_code == 0, ran.output


def test_check_uses_the_dem_check_of_run(tmp_path: Path, villages_gpkg: Path) -> None:
    # a DEM file that is not a raster: the same problem from check and from run
    (tmp_path / "dem.tif").write_bytes(b"not a tiff at all")
    sc = write(tmp_path / "s.yaml", scenario_text(villages_gpkg, steps="[access]") + "  dem: dem.tif\n")
    checked = cli("check", str(sc))
    ran = cli("run", str(sc), "--out", str(tmp_path / "out"))
    assert_named_failure(checked, "- error: dem:")
    assert_named_failure(ran, "- error: dem:")
    assert problem_lines(checked.output) == problem_lines(ran.output)


# --------------------------------------------------------------------------- fuzz: only named errors
YAML_PIECES = [
    *"ab: -[]{},&*!|>'\"#\n\t?%@`0123.5e+",
    "&a ", "*a", "<<: ", ".nan", ".inf", "---", "...", "!!str ", "!!binary ", "!!set ", "!!omap ", "!!pairs ",
    "!!timestamp ", "!!int ", "!!float ", "!!python/object:os.system ", "2016-13-45", "\\x", "é", "\ufeff", "\x85",
    "\x01", "0x", "1:20", "name: ", "layers: ", "villages: ", "crs: ", "access: ", "snap_tolerance_m: ", "steps: ",
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(YAML_PIECES), max_size=40).map("".join))
def test_fuzzed_scenario_text_gives_only_named_errors(tmp_path: Path, text: str) -> None:
    p = tmp_path / "fuzz.yaml"
    p.write_text(text, encoding="utf-8")
    try:
        scenario.load(p)
    except ScenarioError as exc:
        assert all(pr.where and pr.message for pr in exc.problems)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["auto", "GCJ-02", "EPSG:4545", "EPSG:4326", "a/b", "", "access", "v.gpkg", "../x"]),
)
KEYS = st.sampled_from(
    ["name", "layers", "villages", "roads", "dem", "crs", "path", "steps", "access", "snap_tolerance_m",
     "speeds_kph", "track", "policy", "file", "siting", "allocation", "outputs", "tables", "demo", "seed", "x"]
)  # fmt: skip
DATA = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(KEYS, kids, max_size=5))


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(KEYS, DATA, max_size=6))
def test_fuzzed_scenario_data_gives_only_named_errors(data: dict[str, object]) -> None:
    try:
        scenario.from_dict(data, base_dir=REPO)
    except ScenarioError as exc:
        assert all(pr.where and pr.message for pr in exc.problems)
