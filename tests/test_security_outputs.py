"""Outputs never destroy a user's data, and spreadsheets are formula-free (issue 10, sections 2 and 3).

- ``--overwrite`` replaces a folder only when geofupin wrote it (its ``.geofupin`` marker lists every
  file in it) or it is empty; the root, the home folder, the current folder and any folder holding an
  input are refused whatever ``--overwrite`` says.
- Temporary folders left by a run killed with SIGKILL are removed by the next run (only geofupin's).
- An unwritable output folder is reported before computing; a failed write is a named error and the
  previous output is left byte for byte.
- Text cells in XLSX are string cells (never formulas); CSV text cells starting with = + - @ tab CR
  get a leading quote (OWASP); numbers stay numbers.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from demo_helpers import REPO, invoke, sha
from openpyxl import load_workbook
from shapely.geometry import LineString, Point

from geofupin import demo, pipeline
from geofupin import io as gio
from geofupin.errors import DataError, GeofupinError, OutputError, OutputExistsError, UnsafeOutputError

LON, LAT = 109.32, 36.86
PAYLOADS = ['=HYPERLINK("http://x","y")', "=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1"]
NO_MARKER = "not written by geofupin (no marker"


# ----------------------------------------------------------------------------- a tiny county
@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A two-village county (villages, one road, facilities) whose run writes tables: the scenario file.

    Township names and village ids are formula payloads: they reach the coverage and before/after tables.
    """
    inputs = tmp_path / "in"
    inputs.mkdir()
    v = gpd.GeoDataFrame(
        {
            "village_id": ["=1+1", "@SUM(A1)"],
            "name": ['=HYPERLINK("http://x","y")', "-1+2"],
            "township": ['=HYPERLINK("http://x","y")', "+1"],
            "households": [10, 20],
            "persons": [40, 70],
            "relocate_households": [3, 2],
            "relocate_persons": [12, 8],
        },
        geometry=[Point(LON, LAT), Point(LON + 0.01, LAT)],
        crs=4490,
    )
    gio.write_vector(v, inputs / "villages.gpkg", layer="villages")
    road = LineString([(LON - 0.01, LAT), (LON + 0.03, LAT)])
    gio.write_vector(
        gpd.GeoDataFrame({"road_class": ["county"]}, geometry=[road], crs=4490), inputs / "roads.gpkg", layer="roads"
    )
    f = gpd.GeoDataFrame(
        {"kind": ["school", "clinic", "town", "county_seat"], "name": ["\t=1", "=1+1", "+1", "-1+2"]},
        geometry=[Point(LON + 0.02, LAT)] * 4,
        crs=4490,
    )
    gio.write_vector(f, inputs / "facilities.gpkg", layer="facilities")
    scenario = inputs / "s.yaml"
    scenario.write_text(
        "name: tiny\nlayers:\n  villages: villages.gpkg\n  roads: roads.gpkg\n  facilities: facilities.gpkg\n"
        "steps: [access]\noutputs:\n  tables: [csv, xlsx]\n",
        encoding="utf-8",
    )
    return scenario


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its SHA-256."""
    return {p.relative_to(folder).as_posix(): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def run_ok(scenario: Path, out: Path, *extra: str) -> None:
    code, text = invoke("-q", "run", str(scenario), "--out", str(out), *extra)
    assert code == 0, text


def refused(scenario: Path, out: Path | str, *extra: str) -> str:
    """Run with --overwrite into ``out``; it must fail with exit code 1; return the message."""
    code, text = invoke("-q", "run", str(scenario), "--out", str(out), "--overwrite", *extra)
    assert code == 1, text
    assert text.startswith("错误 error:") and "Traceback" not in text
    return text


@pytest.fixture
def no_compute(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record calls of pipeline.run: a refused or unwritable output folder must be reported before computing."""
    calls: list[object] = []
    real = pipeline.run

    def spy(*args: object, **kwargs: object) -> pipeline.RunOutput:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "run", spy)
    return calls


# ----------------------------------------------------------------------------- refusals
def test_home_folder_is_refused_whatever_overwrite_says(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_compute: list[object]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("export PS1=x\n")
    monkeypatch.setenv("HOME", str(home))
    text = refused(tiny, home)
    assert "it is your home folder" in text and "Fix:" in text
    # outputs.dir: "~" in the scenario is the home folder too
    sc = tiny.with_name("home.yaml")
    sc.write_text(tiny.read_text(encoding="utf-8") + '  dir: "~"\n', encoding="utf-8")
    code, text = invoke("-q", "run", str(sc), "--overwrite")
    assert code == 1 and "it is your home folder" in text
    # a folder above the home folder would delete it as well
    assert "your home folder" in refused(tiny, tmp_path)
    assert (home / ".bashrc").read_text() == "export PS1=x\n" and sorted(p.name for p in home.iterdir()) == [".bashrc"]
    assert no_compute == []


def test_current_folder_and_folders_above_it_are_refused(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_compute: list[object]
) -> None:
    work = tmp_path / "work" / "here"
    work.mkdir(parents=True)
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    assert "it is the current folder" in refused(tiny, ".")
    assert "it is the current folder" in refused(tiny, work)
    assert "the current folder" in refused(tiny, work.parent)
    assert (work / "notes.txt").read_text() == "mine"
    assert no_compute == []


def test_filesystem_root_is_refused() -> None:
    with pytest.raises(UnsafeOutputError, match="root of the file system"):
        gio.check_output_dir(Path("/"), overwrite=True)
    # the body never runs: refused before a temporary folder exists
    with pytest.raises(UnsafeOutputError, match="root of the file system"), gio.atomic_dir("/", overwrite=True):
        raise AssertionError("atomic_dir must refuse the root before yielding")


def test_a_folder_holding_an_input_is_refused(tiny: Path, tmp_path: Path, no_compute: list[object]) -> None:
    inputs = tiny.parent
    before = tree(inputs)
    for out in (inputs, tmp_path):  # the input folder and a folder above it
        text = refused(tiny, out)
        assert "holds the input" in text
    # the policy file counts as an input too
    pol = tmp_path / "pol"
    pol.mkdir()
    shutil.copy(REPO / "scenarios" / "policy" / "seed-county.yaml", pol / "policy.yaml")
    sc = tiny.with_name("pol.yaml")
    sc.write_text(tiny.read_text(encoding="utf-8") + f"policy:\n  file: {(pol / 'policy.yaml').as_posix()}\n")
    code, text = invoke("-q", "run", str(sc), "--out", str(pol), "--overwrite")
    assert code == 1 and "holds the input" in text and "policy.yaml" in text
    assert {k: v for k, v in tree(inputs).items() if k != "pol.yaml"} == before and (pol / "policy.yaml").exists()
    assert no_compute == []
    # the refusal is a DataError (as before) of its own class
    with pytest.raises(DataError, match="holds the input"):
        gio.check_output_dir(inputs, overwrite=True, protect=[tiny])


def test_a_non_empty_folder_without_marker_is_refused(tiny: Path, tmp_path: Path, no_compute: list[object]) -> None:
    out = tmp_path / "mine"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "thesis.docx").write_bytes(b"years of work")
    for extra in ((), ("--overwrite",)):
        code, text = invoke("-q", "run", str(tiny), "--out", str(out), *extra)
        assert code == 1 and NO_MARKER in text and "delete it yourself or choose another --out" in text
    # an output of an older version (run.json, index.html, no marker) gets the same clear message
    old = tmp_path / "maps" / "demo"
    old.mkdir(parents=True)
    (old / "run.json").write_text('{"geofupin": "0.1.0"}')
    (old / "index.html").write_text("<html></html>")
    text = refused(tiny, old)
    assert NO_MARKER in text and "older geofupin version" in text
    # a marker that is not geofupin's, or a file where the folder should be
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / gio.MARKER_FILE).write_text("hello")
    assert NO_MARKER in refused(tiny, fake)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(UnsafeOutputError, match="is a file, not a folder"):  # (the CLI's --out refuses it too)
        gio.check_output_dir(a_file, overwrite=True)
    assert (out / "sub" / "thesis.docx").read_bytes() == b"years of work"
    assert (old / "run.json").exists() and (fake / gio.MARKER_FILE).read_text() == "hello" and a_file.exists()
    assert no_compute == []


def test_compare_and_import_osm_refuse_before_computing(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_compute: list[object]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "roads.gpkg").write_bytes(b"my roads")
    code, text = invoke("-q", "compare", str(tiny), str(tiny), "--out", str(mine), "--overwrite")
    assert code == 1 and NO_MARKER in text
    monkeypatch.setattr(gio, "read_osm", lambda *a, **k: pytest.fail("must refuse before reading the extract"))
    pbf = tmp_path / "x.osm.pbf"
    pbf.write_bytes(b"not read")
    code, text = invoke("-q", "import-osm", str(pbf), "--out", str(mine), "--overwrite")
    assert code == 1 and NO_MARKER in text
    code, text = invoke("-q", "import-osm", str(pbf), "--out", str(tmp_path), "--overwrite")
    assert code == 1 and "holds the input" in text
    assert (mine / "roads.gpkg").read_bytes() == b"my roads" and no_compute == []


def test_geofupin_folder_with_a_users_file_added_is_refused(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_ok(tiny, out)
    (out / "tables" / "my notes.txt").write_text("keep me")
    text = refused(tiny, out)
    assert "holds files geofupin did not write (tables/my notes.txt)" in text
    assert (out / "tables" / "my notes.txt").read_text() == "keep me"


# ----------------------------------------------------------------------------- acceptance
def test_empty_folder_is_filled_and_marked(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    run_ok(tiny, out)
    marker = gio.read_marker(out)
    assert marker is not None and marker["kind"] == "run"
    written = gio.folder_files(out)
    assert {"results.gpkg", "run.json", "tables.xlsx", "tables/coverage.csv"} <= set(written)
    assert marker["files"] == [f for f in written if f != gio.MARKER_FILE]  # lists exactly what is there


def test_own_folder_is_replaced_and_repeated_runs_agree(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "maps" / "tiny"
    run_ok(tiny, out)
    first = tree(out)
    code, text = invoke("-q", "run", str(tiny), "--out", str(out))  # without --overwrite: kept
    assert code == 1 and "--overwrite" in text and tree(out) == first
    (out / "tables" / "coverage.csv").write_text("stale")  # changed content is fine: the file is geofupin's
    for _ in range(2):
        run_ok(tiny, out, "--overwrite")
        again = tree(out)
        assert set(again) == set(first)
        assert again["tables/coverage.csv"] == first["tables/coverage.csv"]
        assert again["results.gpkg"] == first["results.gpkg"] and again[gio.MARKER_FILE] == first[gio.MARKER_FILE]
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny"]  # no temp or .old folders left


def test_the_api_refuses_the_same_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    (tmp_path / "h").mkdir()
    with pytest.raises(UnsafeOutputError, match="home folder"), gio.atomic_dir(tmp_path / "h", overwrite=True):
        raise AssertionError("refused before yielding")
    out = tmp_path / "x" / "out"
    with gio.atomic_dir(out, kind="compare") as tmp:
        (tmp / "a.csv").write_text("1")
    marker = gio.read_marker(out)
    assert marker is not None and marker["kind"] == "compare" and marker["files"] == ["a.csv"]
    with pytest.raises(OutputExistsError, match="--overwrite"), gio.atomic_dir(out):
        pass
    assert issubclass(UnsafeOutputError, GeofupinError) and issubclass(OutputError, OSError)


# ----------------------------------------------------------------------------- demo folders
def test_demo_refuses_a_folder_of_someone_elses_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "my-county"
    mine.mkdir()
    (mine / "villages.gpkg").write_bytes(b"the survey")
    monkeypatch.setattr(demo, "build", lambda **kw: pytest.fail("must refuse before building"))
    for extra in ((), ("--overwrite",)):
        code, text = invoke("demo", "--out", str(mine), *extra)
        assert code == 1 and NO_MARKER in text and "choose another --out, or delete it yourself" in text
        assert "delete the 'demo:' section" in text  # the user's own layers under a scenario's demo section
    # a scenario with a demo section pointing at the user's layers does not regenerate over them
    with pytest.raises(UnsafeOutputError, match="not written by geofupin"):
        demo.ensure(mine, seed=7)
    assert (mine / "villages.gpkg").read_bytes() == b"the survey" and len(list(mine.iterdir())) == 1


def test_demo_folders_are_recognised_by_marker_or_older_demo_json(tmp_path: Path) -> None:
    committed = REPO / "layers" / "demo"
    marker = gio.read_marker(committed)
    assert marker is not None and marker["kind"] == "demo-layers"
    assert marker["files"] == sorted([*(p.name for p in demo.output_paths(committed).values()), demo.STAMP_FILE])
    assert demo._is_demo_folder(committed)
    legacy = tmp_path / "legacy"  # written by an older version: demo.json, no marker
    legacy.mkdir()
    shutil.copy(committed / demo.STAMP_FILE, legacy / demo.STAMP_FILE)
    (legacy / "README.md").write_text("notes")
    assert demo._is_demo_folder(legacy)
    demo._check_folder(legacy)  # accepted: the demo writes only its own files there
    (legacy / demo.STAMP_FILE).write_text('{"generator": "someone else"}')
    assert not demo._is_demo_folder(legacy)
    with pytest.raises(UnsafeOutputError, match="no marker"):
        demo._check_folder(legacy)


# ----------------------------------------------------------------------------- SIGKILL mid-write
KILLED_RUN = """
import shutil, signal, sys, time
signal.alarm(300)  # never outlive a broken test
from geofupin import io as gio
from geofupin.cli import main

mode = sys.argv[1]
if mode == "tmp":  # block while writing run.json into the temporary folder
    def stall(*args, **kwargs):
        print("writing", flush=True)
        time.sleep(120)
    gio.write_json = stall
else:  # block after the new folder is in place, before the previous one (.old) is removed
    real = shutil.rmtree
    def stall(path, *args, **kwargs):
        if str(path).endswith(".old"):
            print("writing", flush=True)
            time.sleep(120)
        return real(path, *args, **kwargs)
    shutil.rmtree = stall
main(["-q", "run", sys.argv[2], "--out", sys.argv[3], "--overwrite"])
"""


def killed_mid_write(scenario: Path, out: Path, mode: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, mode, str(scenario), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "writing"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["tmp", "old"])
def test_sigkill_leftovers_are_removed_by_the_next_run(tiny: Path, tmp_path: Path, mode: str) -> None:
    out = tmp_path / "maps" / "tiny"
    run_ok(tiny, out)
    killed_mid_write(tiny, out, mode)
    suffix = ".tmp" if mode == "tmp" else ".old"
    stale = [p for p in out.parent.iterdir() if p.name.endswith(suffix)]
    assert len(stale) == 1 and gio.read_marker(stale[0]) is not None  # marked as geofupin's from the start
    assert stale[0].name.startswith(".tiny.")
    assert (out / "run.json").exists()  # the published output is whole either way
    # look-alikes that are not stale leftovers of geofupin: no marker, or a live process
    users = out.parent / ".tiny.999999-abcdefgh.tmp"
    users.mkdir()
    (users / "keep.txt").write_text("mine")
    live = out.parent / f".tiny.{os.getpid()}-abcdefgh.tmp"
    live.mkdir()
    gio.write_marker(live, (), kind="run")
    older = out.parent / ".tiny.k3j9x0qa.tmp"  # an older version's leftover: no pid, no marker
    older.mkdir()
    run_ok(tiny, out, "--overwrite")
    assert not stale[0].exists() and older.is_dir()
    assert (users / "keep.txt").read_text() == "mine" and gio.read_marker(live) is not None
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([users.name, live.name, older.name, "tiny"])
    assert (out / "run.json").exists() and gio.read_marker(out) is not None


# ----------------------------------------------------------------------------- write failures
def test_parent_that_is_a_file_is_reported_before_computing(
    tiny: Path, tmp_path: Path, no_compute: list[object]
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    code, text = invoke("-q", "run", str(tiny), "--out", str(blocker / "sub" / "out"))
    assert code == 1 and "is a file, not a folder" in text and str(blocker) in text
    assert no_compute == [] and blocker.read_text() == "a file"


def test_read_only_parent_is_reported_before_computing(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_compute: list[object]
) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    real = os.access

    def access(path: object, mode: int, **kwargs: object) -> bool:  # root ignores permission bits: pretend
        if mode & os.W_OK and Path(str(path)).resolve() == parent.resolve():
            return False
        return real(path, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    code, text = invoke("-q", "run", str(tiny), "--out", str(parent / "out"))
    assert code == 1 and f"cannot write in {parent}" in text and "Fix:" in text
    assert no_compute == [] and list(parent.iterdir()) == []
    with pytest.raises(OutputError) as info:
        gio.require_writable_parent(parent / "a" / "b")
    assert info.value.errno == errno.EACCES


@pytest.mark.parametrize(
    ("where", "code_", "words"),
    [
        ("gpkg", errno.ENOSPC, "the disk is full"),
        ("xlsx", errno.EACCES, "permission denied"),
        ("publish", errno.ENOSPC, "the disk is full"),
    ],
)
def test_write_failure_is_a_named_error_and_the_previous_output_stays(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, code_: int, words: str
) -> None:
    out = tmp_path / "maps" / "tiny"
    run_ok(tiny, out)
    before = tree(out)
    err = OSError(code_, os.strerror(code_))

    def fail(*args: object, **kwargs: object) -> None:
        raise err

    if where == "gpkg":
        monkeypatch.setattr(gio.pyogrio, "write_dataframe", fail)
    elif where == "xlsx":
        monkeypatch.setattr(gio, "_pin_zip_times", fail)
    else:  # the final move of the new folder into place
        real = os.replace

        def replace(src: object, dst: object) -> None:
            if str(src).endswith(".tmp") and Path(str(src)).is_dir():
                raise err
            real(src, dst)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "replace", replace)
    code, text = invoke("-q", "run", str(tiny), "--out", str(out), "--overwrite")
    assert code == 1 and words in text and "previous output, if any, is unchanged" in text, text
    assert "Traceback" not in text
    assert tree(out) == before  # every file, byte for byte
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny"]


# ----------------------------------------------------------------------------- formula injection
def numbers_and_payloads() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": [*PAYLOADS, "张家塬村"],
            "change_min": [-12.5, 3.0, -1.0, 0.0, 7.25, -0.5, 2.0],  # legitimately negative numbers
            "persons": pd.array([-3, 1, 2, 3, 4, 5, 6], dtype="int64"),
            "mixed": [-2, "-2", 1.5, "+x", None, "@a", "ok"],
            "=cmd|' /C calc'!A0": ["a", "b", "c", "d", "e", "f", "g"],  # a header from the data
        }
    )


def test_csv_text_cells_and_headers_are_neutralised_numbers_untouched(tmp_path: Path) -> None:
    p = gio.write_csv(numbers_and_payloads(), tmp_path / "t.csv")
    with p.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["name", "change_min", "persons", "mixed", "'=cmd|' /C calc'!A0"]
    assert [r[0] for r in rows[1:]] == [*("'" + x for x in PAYLOADS), "张家塬村"]
    assert [r[1] for r in rows[1:]] == ["-12.5", "3.0", "-1.0", "0.0", "7.25", "-0.5", "2.0"]
    assert [r[2] for r in rows[1:]] == ["-3", "1", "2", "3", "4", "5", "6"]
    assert [r[3] for r in rows[1:]] == ["-2", "'-2", "1.5", "'+x", "", "'@a", "ok"]  # numbers stay, text is quoted
    back = pd.read_csv(p, encoding="utf-8-sig")
    assert back["change_min"].tolist() == [-12.5, 3.0, -1.0, 0.0, 7.25, -0.5, 2.0]
    # two header rows (report.write_tables): every level is covered
    two = pd.DataFrame({("=a", "+b"): [1], ("c", "@d"): ["x"]})
    q = gio.write_csv(two, tmp_path / "two.csv")
    with q.open(encoding="utf-8-sig", newline="") as fh:
        assert list(csv.reader(fh))[:2] == [["'=a", "c"], ["'+b", "'@d"]]


def sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_xlsx_text_cells_are_strings_never_formulas(tmp_path: Path) -> None:
    df = numbers_and_payloads()
    df.loc[len(df)] = ["#N/A", -9.0, -9, "bell\x07", "x"]  # an error code and a control character
    tables = {'=HYPERLINK("http://x","y")': df, "'quoted'": df, "History": df, "Sheet": df, "sheet": df}
    p = gio.write_xlsx(tables, tmp_path / "t.xlsx", headers_en={"Sheet": {"name": "=en"}})
    assert "<f>" not in sheet_xml(p) and "<f " not in sheet_xml(p)
    wb = load_workbook(p)
    assert wb.sheetnames == ['=HYPERLINK("http___x","y")', "quoted", "history_", "Sheet", "sheet~2"]
    ws = wb.worksheets[0]
    header = [c for c in ws[1]]
    assert header[4].value == "=cmd|' /C calc'!A0" and header[4].data_type == "s"
    names = [ws.cell(row=r, column=1) for r in range(2, 10)]
    assert [c.value for c in names] == [*PAYLOADS, "张家塬村", "#N/A"]
    assert all(c.data_type == "s" for c in names)
    assert all(c.quotePrefix for c in names[:6]) and not names[6].quotePrefix
    change = [ws.cell(row=r, column=2) for r in range(2, 10)]
    assert [c.value for c in change] == [-12.5, 3, -1, 0, 7.25, -0.5, 2, -9] and {c.data_type for c in change} == {"n"}
    mixed = [ws.cell(row=r, column=4) for r in range(2, 10)]
    assert [c.value for c in mixed] == [-2, "-2", 1.5, "+x", None, "@a", "ok", "bell\ufffd"]
    assert [c.data_type for c in mixed[:4]] == ["n", "s", "n", "s"]
    en = wb["Sheet"]
    assert en.cell(row=2, column=1).value == "=en" and en.cell(row=2, column=1).data_type == "s"


def test_formula_payloads_in_layers_stay_text_through_a_run(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_ok(tiny, out)
    xlsx = out / "tables.xlsx"
    assert "<f>" not in sheet_xml(xlsx) and "<f " not in sheet_xml(xlsx)
    wb = load_workbook(xlsx)
    texts = {c.value: c.data_type for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value}
    for payload in ('=HYPERLINK("http://x","y")', "+1", "=1+1", "@SUM(A1)"):
        assert texts.get(payload) == "s", payload
    with (out / "tables" / "coverage.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    townships = {r["township"] for r in rows}
    assert {'\'=HYPERLINK("http://x","y")', "'+1"} <= townships
    assert not any(t.startswith(gio.FORMULA_START) for t in townships)
    assert all(float(r["persons"]) >= 0 for r in rows)  # numbers are still numbers
    with (out / "tables" / "before_after.csv").open(encoding="utf-8-sig", newline="") as fh:
        ids = [r["village_id"] for r in csv.DictReader(fh)]
    assert ids == ["'=1+1", "'@SUM(A1)"]
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert "coverage" in record["tables"]
