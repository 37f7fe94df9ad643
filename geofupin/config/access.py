"""The ``access`` section of a scenario: road graph, snapping and accessibility options.

Plain data: :mod:`geofupin.network` and :mod:`geofupin.accessibility` read it; it imports only
:mod:`geofupin.errors` and :mod:`geofupin.vocabulary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import Problems
from ..vocabulary import ROAD_CLASSES, FacilityKind, RoadClass

#: Default class speeds (km/h) for rural China: design speeds of the highway classes
#: (JTG B01) lowered for mountain alignments; ``path`` is walking.
DEFAULT_SPEEDS_KPH: dict[str, float] = {
    "national": 60.0,
    "provincial": 50.0,
    "county": 40.0,
    "township": 30.0,
    "village": 20.0,
    "track": 10.0,
    "path": 4.0,
}

#: Speed multipliers by surface (``paved`` 1.0).
DEFAULT_SURFACE_FACTORS: dict[str, float] = {"paved": 1.0, "gravel": 0.7, "earth": 0.5}

#: Grade is taken between elevations this far apart along a road when the elevation
#: function does not tell its DEM's cell size (SRTM 1" and ASTER GDEM cells are about 30 m).
DEFAULT_SLOPE_SAMPLE_M = 30.0

#: The slope penalty never makes a road or path slower than this many times its flat time:
#: Tobler's factor reaches 10 at a grade of about 66 % (33 degrees) uphill, where walking is
#: scrambling (0.5 km/h) and no track is driven; steeper DEM grades are cliffs or DEM noise.
DEFAULT_SLOPE_MAX_FACTOR = 10.0

#: Facility kinds measured by default (``market`` is optional: add it to ``facility_kinds``).
DEFAULT_FACILITY_KINDS: tuple[str, ...] = (
    "county_seat",
    "town",
    "school",
    "kindergarten",
    "clinic",
    "hospital",
    "industrial_park",
)


@dataclass(frozen=True)
class AccessConfig:
    """Scenario section ``access``: road graph, snapping and accessibility options.

    Attributes
    ----------
    speeds_kph
        Class speed table (km/h) for ``national`` ... ``path``; keys given here replace the
        defaults (:data:`DEFAULT_SPEEDS_KPH`: 60/50/40/30/20/10/4). Chinese class names and
        OSM ``highway`` values are mapped onto these classes first.
    default_speed_kph
        Speed of roads with neither a known class nor a ``speed_kph`` (default 20, warned).
    surface_factors
        Speed multipliers by surface (default paved 1.0, gravel 0.7, earth 0.5).
    use_road_speed
        Use a road's own ``speed_kph`` when positive (default true).
    snap_tolerance_m
        Junction points closer than this are merged; dangling ends this close to a line are
        joined to it (default 2 m).
    node_intersections
        Split same-level lines where they cross without a shared vertex (default true; set
        false for data where only shared vertices are junctions, as OSM defines them).
    slope_penalty
        Slow ``slope_classes`` roads and the off-road leg by Tobler's hiking function from
        the DEM (default false).
    slope_classes
        Road classes the slope penalty applies to (default track, path).
    slope_sample_m
        Grade is taken between elevations this far apart along each road (default: the DEM's
        cell size; 30 m for an elevation function without one), never over the short
        segments of the road geometry, which a coarse DEM cannot resolve.
    slope_max_factor
        The slope penalty multiplies a road's flat time by at most this (default 10:
        Tobler's factor at about 66 % uphill).
    walk_speed_kph
        Off-road walking speed on flat ground from a point to its road (default 4 km/h).
    max_snap_dist_m
        Points farther than this from any road are unreachable (default 2000 m).
    snap_to
        ``nearest`` road piece, or the nearest piece of the ``main_component`` (largest by
        road length) so that no village lands on a stray fragment (default nearest).
    facility_kinds
        Facility kinds to measure (default county_seat, town, school, kindergarten, clinic,
        hospital, industrial_park).
    bands_min
        Isochrone and coverage bands in minutes (default 15, 30, 60).
    od_cutoff_min
        OD pairs slower than this are left out of ``od_village_site`` (default 180 min).
    isochrone_buffer_m
        Half-width of the service-area polygons around reached roads (default 250 m).
    threads
        Threads for the isochrone polygons, one (facility kind, band) union each (default 0:
        one per core). The polygons are the same for any number.
    """

    speeds_kph: dict[str, float] = field(default_factory=dict)
    default_speed_kph: float = 20.0
    surface_factors: dict[str, float] = field(default_factory=dict)
    use_road_speed: bool = True
    snap_tolerance_m: float = 2.0
    node_intersections: bool = True
    slope_penalty: bool = False
    slope_classes: tuple[RoadClass, ...] = ("track", "path")
    slope_sample_m: float | None = None
    slope_max_factor: float = DEFAULT_SLOPE_MAX_FACTOR
    walk_speed_kph: float = 4.0
    max_snap_dist_m: float = 2000.0
    snap_to: Literal["nearest", "main_component"] = "nearest"
    facility_kinds: tuple[FacilityKind, ...] = DEFAULT_FACILITY_KINDS  # type: ignore[assignment]
    bands_min: tuple[float, ...] = (15.0, 30.0, 60.0)
    od_cutoff_min: float = 180.0
    isochrone_buffer_m: float = 250.0
    threads: int = 0

    def validate(self, where: str, problems: Problems) -> None:
        """Cross-field rules: known classes and surfaces, positive speeds and distances."""
        for k, v in self.speeds_kph.items():
            if k not in ROAD_CLASSES:
                problems.add(
                    f"{where}.speeds_kph.{k}", f"unknown road class '{k}'.", f"Use one of {', '.join(ROAD_CLASSES)}."
                )
            elif not v > 0:
                problems.add(f"{where}.speeds_kph.{k}", f"speed {v} km/h is not positive.", "Give a speed above 0.")
        for k, v in self.surface_factors.items():
            if k not in DEFAULT_SURFACE_FACTORS:
                problems.add(f"{where}.surface_factors.{k}", f"unknown surface '{k}'.", "Use paved, gravel or earth.")
            elif not 0 < v <= 1.5:
                problems.add(f"{where}.surface_factors.{k}", f"factor {v} is outside (0, 1.5].", "Give e.g. 0.7.")
        for name in ("default_speed_kph", "walk_speed_kph", "max_snap_dist_m", "od_cutoff_min", "isochrone_buffer_m"):
            if not getattr(self, name) > 0:
                problems.add(f"{where}.{name}", f"{getattr(self, name)} is not positive.", "Give a value above 0.")
        if self.slope_sample_m is not None and not self.slope_sample_m > 0:
            problems.add(
                f"{where}.slope_sample_m", f"{self.slope_sample_m} is not positive.", "Give e.g. 30 (m) or omit it."
            )
        if not self.slope_max_factor >= 1:
            problems.add(
                f"{where}.slope_max_factor", f"{self.slope_max_factor} is below 1.", "Give e.g. 10 (x the flat time)."
            )
        if self.snap_tolerance_m < 0:
            problems.add(f"{where}.snap_tolerance_m", f"{self.snap_tolerance_m} is negative.", "Give 0 or more metres.")
        if self.threads < 0:
            problems.add(f"{where}.threads", f"threads = {self.threads} is negative.", "Give 0 (one per core) or more.")
        if not self.bands_min or any(not b > 0 for b in self.bands_min):
            problems.add(
                f"{where}.bands_min", f"bands {list(self.bands_min)} must be positive.", "Give e.g. [15, 30, 60]."
            )

    @property
    def speeds(self) -> dict[str, float]:
        """The class speed table with the scenario's overrides applied."""
        return {**DEFAULT_SPEEDS_KPH, **self.speeds_kph}

    @property
    def surfaces(self) -> dict[str, float]:
        """The surface factor table with the scenario's overrides applied."""
        return {**DEFAULT_SURFACE_FACTORS, **self.surface_factors}
