"""The ``map`` section of a scenario: basemap, public-notice mode, scale limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import Problems

Basemap = Literal["none", "osm", "tianditu", "gaode"]


@dataclass(frozen=True)
class MapConfig:
    """How published maps are drawn (scenario section ``map``).

    Attributes
    ----------
    basemap
        ``none`` (DEM hillshade only; works with no network, the default), ``osm``
        (OpenStreetMap), ``tianditu`` (天地图, CGCS2000 needs no shift; needs a key) or
        ``gaode`` (高德; overlays are shifted to GCJ-02).
    imagery
        Use the satellite imagery variant (Tianditu ``img_w`` + ``cia_w`` labels, Gaode
        satellite) instead of the vector map (``vec_w`` + ``cva_w``).
    tianditu_key
        Tianditu key; when empty the environment variable ``TIANDITU_KEY`` is used.
    public
        Public-notice mode (公示): popups show village totals only; household-level
        attributes (poor households, income, poverty cause, village groups) are masked and
        allocation flows are summed per village.
    approval_number
        Map approval number (审图号) printed in the corner, e.g. ``陕S(2026)001号``.
    title, title_en
        Title box, Chinese first.
    attribution
        Data credits shown in the notes box of every map (a text or a list of texts), e.g.
        ``"© OpenStreetMap contributors (ODbL)"`` for layers derived from OpenStreetMap.
        Layers whose GeoDataFrame carries ``attrs["attribution"]`` (``geofupin.osm.import_osm``
        sets it) are credited too; each credit is shown once.
    simplify_tolerance_m
        Douglas-Peucker tolerance applied to lines and polygons before drawing (metres).
    coord_decimals
        Decimals kept in longitude/latitude (5 is about 1 m).
    isochrone_max_vertices
        The page embeds isochrone bands of one facility kind after another (in the access step's
        order; the first is shown) while their simplified polygons stay within this many
        vertices in all; the kinds left out stay in ``results.gpkg`` and the page's notes name
        them, so a province's page grows with what people look at (default 200,000; 0 = all).
    cluster_threshold
        Villages are clustered when there are more than this many.
    merge_roads_over
        Roads are merged into one line per class (no per-road popup) above this many segments.
    hillshade
        Draw the DEM hillshade as an image inside the page.
    hillshade_max_px
        Longest side of the hillshade image in pixels.
    popup_max_width_px
        Popup width limit; wide enough that Chinese text does not wrap per character.
    offline
        Inline Leaflet, plugins and CSS into the page (no CDN requests).
    """

    basemap: Basemap = "none"
    imagery: bool = False
    tianditu_key: str | None = None
    public: bool = False
    approval_number: str | None = None
    title: str = "易地扶贫搬迁规划图"
    title_en: str = "Poverty-alleviation relocation plan"
    attribution: str | tuple[str, ...] | None = None
    simplify_tolerance_m: float = 10.0
    coord_decimals: int = 5
    isochrone_max_vertices: int = 200_000
    cluster_threshold: int = 300
    merge_roads_over: int = 3000
    hillshade: bool = True
    hillshade_max_px: int = 1200
    popup_max_width_px: int = 460
    offline: bool = True

    def credits(self) -> tuple[str, ...]:
        """The ``attribution`` texts as a tuple (empty when none)."""
        if self.attribution is None:
            return ()
        if isinstance(self.attribution, str):
            return (self.attribution,) if self.attribution.strip() else ()
        return tuple(t for t in self.attribution if t.strip())

    def validate(self, where: str, problems: Problems) -> None:
        """Cross-field and range checks (called by :func:`geofupin._schema.parse`)."""
        if self.simplify_tolerance_m < 0:
            problems.add(f"{where}.simplify_tolerance_m", f"{self.simplify_tolerance_m} is negative.", "Use 0 or more.")
        if not 3 <= self.coord_decimals <= 8:
            problems.add(f"{where}.coord_decimals", f"{self.coord_decimals} is outside 3..8.", "Use 5 (about 1 m).")
        if self.isochrone_max_vertices < 0:
            problems.add(
                f"{where}.isochrone_max_vertices", f"{self.isochrone_max_vertices} is negative.", "Use 0 (all) or more."
            )
        if self.cluster_threshold < 0:
            problems.add(f"{where}.cluster_threshold", f"{self.cluster_threshold} is negative.", "Use 0 or more.")
        if not 64 <= self.hillshade_max_px <= 8000:
            problems.add(f"{where}.hillshade_max_px", f"{self.hillshade_max_px} is outside 64..8000.", "Use e.g. 1200.")
        if not 150 <= self.popup_max_width_px <= 1200:
            problems.add(
                f"{where}.popup_max_width_px", f"{self.popup_max_width_px} is outside 150..1200.", "Use e.g. 460."
            )
