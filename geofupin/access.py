"""Accessibility on GeoDataFrames (可达性): the public face of :mod:`geofupin.accessibility`.

Four functions, each GeoDataFrames in and a GeoDataFrame or table out, with keyword-only
options (or an :class:`~geofupin.config.access.AccessConfig`), on a network from
:func:`geofupin.network.from_roads`::

    net = geofupin.network.from_roads(roads)
    village_access = geofupin.access.nearest(net, villages, facilities)   # indexed like villages
    od = geofupin.access.od(net, villages, sites)                          # village_id, site_id, time_min, dist_m
    bands = geofupin.access.isochrones(net, facilities, bands_min=(15, 30))
    share = geofupin.access.coverage(village_access, ["school"], [30])

The ``access`` step of a run calls exactly these. :mod:`geofupin.accessibility` holds them
(as ``nearest_facilities``, ``od_pairs``, ``service_areas``) beside the engine they run on:
shortest paths over node arrays (its own ``nearest``, ``od_matrix`` and ``isochrones`` take
node indices, not GeoDataFrames).
"""

from __future__ import annotations

from .accessibility import coverage
from .accessibility import nearest_facilities as nearest
from .accessibility import od_pairs as od
from .accessibility import service_areas as isochrones

__all__ = ["coverage", "isochrones", "nearest", "od"]
