"""The cheaper ``access``, ``site`` and ``map`` code paths give what the plain computation gives.

No timings are asserted: each test computes the old, straightforward way next to the new one
and compares the results exactly (frames with their dtypes, page text byte for byte).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geofupin.accessibility import coverage


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
