"""geofupin: planning poverty-alleviation resettlement (扶贫易地搬迁) from spatial layers."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
