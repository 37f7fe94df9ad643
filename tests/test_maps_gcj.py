"""GCJ-02 conversion (geofupin.crs, used by Gaode maps) against the independent `prcoords` package."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pyproj import Geod

from geofupin.crs import GCJ02_BBOX, gcj02_to_wgs84, wgs84_to_gcj02

prcoords = pytest.importorskip("prcoords")
GEOD = Geod(ellps="WGS84")


def _points(n: int = 400, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(74.0, 134.0, n), rng.uniform(18.5, 53.0, n)


def test_forward_matches_prcoords() -> None:
    lon, lat = _points()
    glon, glat = wgs84_to_gcj02(lon, lat)
    ref = np.array([prcoords.wgs_gcj((b, a)) for a, b in zip(lon, lat, strict=True)])  # (lat, lon)
    np.testing.assert_allclose(glat, ref[:, 0], atol=1e-11, rtol=0)
    np.testing.assert_allclose(glon, ref[:, 1], atol=1e-11, rtol=0)


def test_inverse_round_trip_below_a_centimetre() -> None:
    lon, lat = _points(2000, seed=3)
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    _, _, d = GEOD.inv(lon, lat, back_lon, back_lat)
    assert np.max(d) < 0.01  # metres


def test_inverse_beats_prcoords_rough_inverse_and_agrees_with_its_exact_one() -> None:
    lon, lat = _points(100, seed=11)
    glon, glat = wgs84_to_gcj02(lon, lat)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    rough = np.array([prcoords.gcj_wgs((b, a)) for a, b in zip(glon, glat, strict=True)])
    exact = np.array([prcoords.gcj_wgs_bored((b, a)) for a, b in zip(glon, glat, strict=True)])
    _, _, d_ours = GEOD.inv(lon, lat, wlon, wlat)
    _, _, d_rough = GEOD.inv(lon, lat, rough[:, 1], rough[:, 0])
    _, _, d_exact = GEOD.inv(wlon, wlat, exact[:, 1], exact[:, 0])
    assert d_ours.max() < 0.01 < d_rough.max()  # the one-step inverse is metre-level, ours is not
    assert d_exact.max() < 0.05  # prcoords' iterative inverse stops at 1e-5 deg steps; same answer


def test_shift_size_and_outside_china_unchanged() -> None:
    # Yan'an area: the well-known shift of a few hundred metres
    glon, glat = wgs84_to_gcj02(109.49, 36.6)
    _, _, d = GEOD.inv(109.49, 36.6, float(glon), float(glat))
    assert 100 < d < 800
    lon = np.array([1.55, -74.0, GCJ02_BBOX[0] - 0.1])
    lat = np.array([42.55, 40.7, 30.0])
    glon, glat = wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(glon, lon)
    np.testing.assert_array_equal(glat, lat)
    blon, blat = gcj02_to_wgs84(lon, lat)
    np.testing.assert_array_equal(blat, lat)
    np.testing.assert_array_equal(blon, lon)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # prcoords warns outside China
        assert tuple(prcoords.wgs_gcj((42.55, 1.55))) == (42.55, 1.55)


def test_scalars_and_empty_arrays() -> None:
    glon, _ = wgs84_to_gcj02(116.39, 39.9)
    assert np.ndim(glon) == 0 and float(glon) == pytest.approx(prcoords.wgs_gcj((39.9, 116.39)).lon, abs=1e-12)
    e_lon, e_lat = gcj02_to_wgs84(np.array([]), np.array([]))
    assert e_lon.shape == (0,) and e_lat.shape == (0,)
