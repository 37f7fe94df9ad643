"""folium elements that draw geofupin layers, legends and boxes through :mod:`._runtime`.

Data reaches the page only as escaped JSON inside ``<script>``; the runtime turns text
into DOM text nodes. No element here inserts data through ``innerHTML``.
"""

from __future__ import annotations

from typing import Any

from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from ._runtime import CSS, JS, safe_json

_CLUSTER_JS = [
    ("markerclusterjs", "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js")
]
_CLUSTER_CSS = [
    ("markerclustercss", "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css"),
    (
        "markerclusterdefaultcss",
        "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css",
    ),
]


def _add_runtime(element: MacroElement) -> None:
    figure = element.get_root()
    if isinstance(figure, Figure):
        figure.header.add_child(Element(f"<style>{CSS}</style>"), name="gfp_css")
        figure.header.add_child(Element(f"<script>{JS}</script>"), name="gfp_js")


class DataLayer(JSCSSMixin, Layer):
    """One overlay drawn by ``gfp.layer`` from a JSON spec (see :mod:`geofupin.maps.data`).

    Parameters
    ----------
    spec
        The layer spec: geometry (points or delta-coded lines/polygons), properties,
        popup fields, per-feature styles.
    name
        Layer name shown in the layer control (fixed bilingual text, escaped by the caller).
    show
        Whether the layer is on when the page opens.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {% if this.lazy %}
        var {{ this.get_name() }} = gfp.lazy({{ this._parent.get_name() }}, "{{ this.get_name() }}");
        {% else %}
        var {{ this.get_name() }} = gfp.layer({{ this._parent.get_name() }}, gfp.data("{{ this.get_name() }}"));
        {% endif %}
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        {% endmacro %}
        """
    )

    def __init__(self, spec: dict[str, Any], *, name: str, show: bool = True, control: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = "GfpLayer"
        self.spec = spec
        self.spec_json = safe_json(spec)
        # a layer that is off at first and not searched is decoded only when switched on
        self.lazy = not show and not spec.get("search")
        self.default_js = list(_CLUSTER_JS) if spec.get("cluster") else []
        self.default_css = list(_CLUSTER_CSS) if spec.get("cluster") else []

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        _add_runtime(self)
        figure = self.get_root()
        if isinstance(figure, Figure):
            # data as a JSON block: JSON.parse is far faster than parsing the same data as a JS literal
            figure.html.add_child(
                Element(f'<script type="application/json" id="{self.get_name()}">{self.spec_json}</script>'),
                name=f"{self.get_name()}_data",
            )
        super().render(**kwargs)


class _Call(MacroElement):
    """Calls ``gfp.<func>(map, spec)`` once the map exists."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        gfp.{{ this.func }}({{ this._parent.get_name() }}{% if this.spec_json %}, {{ this.spec_json }}{% endif %});
        {% endmacro %}
        """
    )

    def __init__(self, func: str, spec: Any = None) -> None:
        super().__init__()
        self._name = "GfpCall"
        self.func = func
        self.spec_json = None if spec is None else safe_json(spec)

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        _add_runtime(self)
        super().render(**kwargs)


def Legend(spec: dict[str, Any]) -> MacroElement:
    """A bilingual legend box (Chinese first) from ``{'sections': [{'zh', 'en', 'items': [...]}]}``."""
    return _Call("legend", spec)


def InfoBox(spec: dict[str, Any]) -> MacroElement:
    """Title box (top left) and notes box (bottom left: attribution, 审图号, warnings)."""
    return _Call("info", spec)


def SearchBox() -> MacroElement:
    """A search box over the names of searchable layers added to the map before it."""
    return _Call("searchbox")


def HtmlBox(spec: dict[str, Any]) -> MacroElement:
    """A box of text lines / a table built with DOM text nodes: ``{'position', 'title', 'header', 'rows'}``."""
    return _Call("table", spec)
