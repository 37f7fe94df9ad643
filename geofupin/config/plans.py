"""The ``plans`` section of a scenario: unit costs, ratios, road rules, works dates.

Plain data: :mod:`geofupin.plans` reads it; it imports only :mod:`geofupin.errors`,
:mod:`geofupin.vocabulary` and the disbursement :class:`~geofupin.config.policy.Milestones`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import Problems
from ..vocabulary import PowerKind, RoadClass, WaterKind
from .policy import Milestones

#: Surface of the roads a plan builds (``paved`` = 水泥路, ``gravel`` = 碎石路).
NewRoadSurface = Literal["paved", "gravel"]

#: How a site's houses are built (建设方式): 集中统建, 联户建设, 群众自建.
BuildMode = Literal["centralised", "joint", "self_built"]


@dataclass(frozen=True)
class UnitCosts:
    """Unit costs in yuan (illustrative defaults: set your county's quotas)."""

    gravel_road_yuan_per_km: float = 300_000.0
    cement_road_yuan_per_km: float = 800_000.0
    upgrade_to_cement_yuan_per_km: float = 500_000.0
    footpath_yuan_per_km: float = 100_000.0
    water_pipe_yuan_per_m: float = 150.0
    power_line_yuan_per_m: float = 200.0
    pond_new_yuan_each: float = 80_000.0
    pond_repair_yuan_each: float = 30_000.0
    canal_repair_yuan_per_m: float = 200.0
    clinic_yuan_each: float = 300_000.0
    kindergarten_yuan_per_place: float = 20_000.0
    primary_school_yuan_per_place: float = 25_000.0
    #: In-site works of a new village (移民新村的巷道硬化、给排水、电力入户), per household moving in:
    #: illustrative assumptions, not quotas (about 60 m2 of hardened lane at 150 yuan/m2; a house's
    #: share of the water network, drainage and sewage; of the transformer, low-voltage lines and
    #: meter) - about 4,200 yuan a person at 4.5 persons a household; set your county's quotas.
    site_lane_yuan_per_household: float = 9_000.0
    site_water_drainage_yuan_per_household: float = 6_000.0
    site_power_yuan_per_household: float = 4_000.0

    def validate(self, where: str, problems: Problems) -> None:
        for f in dataclasses.fields(self):
            if getattr(self, f.name) < 0:
                problems.add(f"{where}.{f.name}", f"{getattr(self, f.name)} is negative.", "Give a cost >= 0.")


@dataclass(frozen=True)
class PlanTargets:
    """The plan document's own summary figures, checked against the registry (all optional).

    Report 4's summary says 1,526 households, 6,886 persons, 9 townships, 34 villages and 61 village
    groups, while its per-township lists name 59 groups: the township table says where the
    registry and the summary differ, and by how much.
    """

    households: int | None = None
    persons: int | None = None
    townships: int | None = None
    villages: int | None = None
    groups: int | None = None
    source: str = ""

    def validate(self, where: str, problems: Problems) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name != "source" and v is not None and v < 0:
                problems.add(f"{where}.{f.name}", f"{v} is negative.", "Give a count >= 0, or leave it out.")


@dataclass(frozen=True)
class PlansConfig:
    """Scenario section ``plans``: unit costs, ratios, road rules, works dates.

    Attributes
    ----------
    unit_costs
        :class:`UnitCosts`.
    start_date
        ISO date the public works start (``2026-03-01``); without it the disbursement table
        gives days relative to the start only.
    milestones
        :class:`~geofupin.config.policy.Milestones` (days: advance before start, half-way
        inspection, completion, warranty of the deposit).
    road_connect_classes
        Road classes a site or village must reach.
    new_road_class
        Class of the new roads (in the ``planned_roads`` layer).
    connected_m
        A site/village this close to a suitable road needs no road.
    search_radius_m
        Largest distance searched for the road; farther sites get a straight line.
    upgrade_access_m, connect_tol_m
        An earth/gravel road within ``upgrade_access_m`` that comes within ``connect_tol_m``
        of a suitable road may be upgraded instead of building a new road.
    site_road_surface, village_road_surface
        Surface of new roads (``paved`` = 水泥路, ``gravel`` = 碎石路).
    dem_cell_m
        Cell size of the grid the least-cost path runs on.
    window_margin, max_window_cells
        The DEM window of a road search covers the feature and the nearest point of the
        nearest suitable road plus ``window_margin`` x their distance on each side (room for
        detours); its cells grow beyond ``dem_cell_m`` so that a side has at most
        ``max_window_cells`` cells.
    slope_ref_pct, max_slope_pct
        Slope cost: factor ``1 + (slope/ref)**2``; steeper than ``max_slope_pct`` impassable.
    pipe_detour_factor
        Pipe and power line length = straight distance x this factor.
    water_source_kinds, power_kinds
        Features that count as a water source or a power connection.
    kindergarten_places_per_1000, primary_places_per_1000
        School places per 1,000 persons moving in.
    village_access_m
        A staying village farther than this from a suitable road gets a new road.
    clinic_max_dist_m
        A staying village with no clinic/hospital this close gets a village clinic (at most one
        村卫生室 per administrative village, whatever the number of its groups).
    targets
        The plan document's summary figures (:class:`PlanTargets`), compared in the township table.
    central_village_build_mode
        How a central-village or community site's houses are built (安置点建设规划表): ``centralised``
        (集中统建, default), ``joint`` (联户建设) or ``self_built`` (群众自建). The document requires
        统建 for households moved across townships and for county-seat and market-town sites, and
        allows all three in a central village (report 5, 新迁村建设方法); the table names the basis.
    in_situ_partly_relocated
        Whether a village group that relocates some of its households gets in-situ works for the
        households that stay. Default ``False``: every poor household of a project village moves
        (项目村贫困户全部纳入搬迁范围), so a relocating group is a relocation project and its leftover
        non-poor households get no in-situ roads or clinic; ``True`` plans for them too, the plan
        line quoting those who stay. The works total of the other reading is in the plan summary.
    """

    unit_costs: UnitCosts = field(default_factory=UnitCosts)
    #: ``str`` (ISO) or ``datetime.date``: YAML reads an unquoted 2026-03-01 as a date.
    start_date: Any = None
    milestones: Milestones = field(default_factory=Milestones)
    road_connect_classes: tuple[RoadClass, ...] = ("national", "provincial", "county", "township", "village")
    new_road_class: RoadClass = "village"
    connected_m: float = 50.0
    search_radius_m: float = 8000.0
    upgrade_access_m: float = 300.0
    connect_tol_m: float = 20.0
    site_road_surface: NewRoadSurface = "paved"
    village_road_surface: NewRoadSurface = "gravel"
    dem_cell_m: float = 30.0
    window_margin: float = 0.5
    max_window_cells: int = 400
    slope_ref_pct: float = 10.0
    max_slope_pct: float = 60.0
    pipe_detour_factor: float = 1.0
    water_source_kinds: tuple[WaterKind, ...] = ("river", "stream", "reservoir", "lake", "well", "spring", "waterworks")
    power_kinds: tuple[PowerKind, ...] = ("line", "substation")
    kindergarten_places_per_1000: float = 40.0
    primary_places_per_1000: float = 80.0
    village_access_m: float = 200.0
    clinic_max_dist_m: float = 3000.0
    in_situ_partly_relocated: bool = False
    central_village_build_mode: BuildMode = "centralised"
    targets: PlanTargets = field(default_factory=PlanTargets)

    def validate(self, where: str, problems: Problems) -> None:
        if self.start_date is not None and not isinstance(self.start_date, dt.date):
            try:
                dt.date.fromisoformat(str(self.start_date))
            except ValueError:
                problems.add(f"{where}.start_date", f"{self.start_date!r} is not a date.", "Write e.g. 2026-03-01.")
        for name in (
            "dem_cell_m",
            "slope_ref_pct",
            "max_slope_pct",
            "search_radius_m",
            "pipe_detour_factor",
            "window_margin",
            "max_window_cells",
        ):
            if getattr(self, name) <= 0:
                problems.add(f"{where}.{name}", f"{getattr(self, name)} must be positive.", "Give a value > 0.")
        if not self.road_connect_classes:
            problems.add(f"{where}.road_connect_classes", "no road class given.", "List e.g. [county, township].")

    @property
    def start(self) -> dt.date | None:
        """The works' start date, or None."""
        if self.start_date is None or isinstance(self.start_date, dt.date):
            return self.start_date
        return dt.date.fromisoformat(str(self.start_date))
