"""folium elements that draw geofupin layers, legends and boxes through :mod:`._runtime`.

Text from data is never a template. branca compiles the text of an ``Element(text)`` as a
Jinja2 template, and a ``MacroElement`` compiles the output of its macros once more; a
village named ``{{ 7*7 }}`` would show as ``49`` (or run code). So:

- every block geofupin puts on the page is a :class:`RawHtml`, written verbatim;
- geofupin's elements, and every folium element of the run page (the map, the layer
  control, tile layers, the hillshade overlay, the full-screen and measuring controls, the
  ``addTo`` statements folium adds), render their macros through :class:`RawMacroElement`,
  which writes the macro output verbatim; their templates hold only constant markup and
  generated element names. No template is compiled while a page renders (only branca's
  figure compiles its constant ``<meta>`` tag), which also saves a Jinja compile per
  element on every page;
- data reaches the page only as JSON in ``<script type="application/json">`` blocks
  (:func:`~._runtime.safe_json` escapes ``<``, ``>``, ``&``, U+2028/2029), which the runtime
  parses and turns into DOM text nodes. Nothing inserts data through ``innerHTML``.
"""

from __future__ import annotations

from typing import Any, TypeGuard

import folium
import folium.plugins
import folium.raster_layers
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


class RawHtml(Element):
    """A block of HTML that goes into the page exactly as given: never compiled as a template."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "RawHtml"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


def json_block(element_id: str, obj: Any) -> RawHtml:
    """``obj`` as a ``<script type="application/json">`` block that ``gfp.data(element_id)`` reads."""
    return RawHtml(f'<script type="application/json" id="{element_id}">{safe_json(obj)}</script>')


def _plain(element: Element) -> TypeGuard[MacroElement]:
    """Whether ``element`` is a ``MacroElement`` rendered by branca's own ``MacroElement.render``.

    folium adds such elements while rendering (``ElementAddToElement``: the ``addTo`` of a
    layer shown at first); :class:`RawMacroElement` writes their macros verbatim too.
    """
    return isinstance(element, MacroElement) and type(element).render is MacroElement.render


def _render_verbatim(element: MacroElement, kwargs: dict[str, Any]) -> None:
    figure = element.get_root()
    if not isinstance(figure, Figure):
        raise TypeError(f"{type(element).__name__} can only be rendered inside a Figure (add it to a map first).")
    module = element._template.module.__dict__
    for part, target in (("header", figure.header), ("html", figure.html), ("script", figure.script)):
        macro = module.get(part)
        if macro is not None:
            target.add_child(RawHtml(str(macro(element, kwargs))), name=element.get_name())
    for child in element._children.values():
        if _plain(child):
            _render_verbatim(child, kwargs)
        else:
            child.render(**kwargs)


class RawMacroElement(MacroElement):
    """A ``MacroElement`` whose macro output is put on the page verbatim.

    branca's ``MacroElement.render`` wraps each macro's output in ``Element(output)``, which
    compiles it as a template a second time: any value the macro wrote (a layer name, a
    tile URL) would be evaluated, and every element of every page costs a Jinja compile (the
    hillshade's ``data:`` URL, hundreds of kilobytes, is lexed as a template). This does the
    same work with :class:`RawHtml`, for its children rendered by branca's ``MacroElement.render``
    (folium's ``ElementAddToElement``) as well.
    """

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        _render_verbatim(self, kwargs)


class Map(folium.Map, RawMacroElement):
    """folium's map, its macros and those of the ``addTo`` statements it gets written verbatim."""


class ImageOverlay(folium.raster_layers.ImageOverlay, RawMacroElement):
    """folium's image overlay (the hillshade), its ``data:`` URL written verbatim, not lexed as a template."""


class Fullscreen(folium.plugins.Fullscreen, RawMacroElement):
    """folium's full-screen button, written verbatim (see :class:`RawMacroElement`)."""


class MeasureControl(folium.plugins.MeasureControl, RawMacroElement):
    """folium's measuring tool, written verbatim (see :class:`RawMacroElement`)."""


class LayerControl(folium.LayerControl, RawMacroElement):
    """folium's layer control, with the layer names written verbatim (see :class:`RawMacroElement`).

    Leaflet puts layer names into the control with ``innerHTML``: names that may hold data
    are HTML-escaped by the builder (``Page.add``) before they get here.
    """


class GroupedLayerControl(LayerControl):
    """The layer control with its overlays in collapsible groups, Chinese first (``gfp.layergroups``).

    Each overlay's group is its ``gfp_group`` attribute (see :data:`~.page.LAYER_GROUPS`;
    other overlays, e.g. the hillshade image, go to the first group). Groups start open on a
    wide screen and folded on a phone (<= ``small_px`` wide).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }}_layers = {
                base_layers : {
                    {%- for key, val in this.base_layers.items() %}
                    {{ key|tojson }} : {{val}},
                    {%- endfor %}
                },
                overlays :  {
                    {%- for key, val in this.overlays.items() %}
                    {{ key|tojson }} : {{val}},
                    {%- endfor %}
                },
            };
            let {{ this.get_name() }} = L.control.layers(
                {{ this.get_name() }}_layers.base_layers,
                {{ this.get_name() }}_layers.overlays,
                {{ this.options|tojavascript }}
            ).addTo({{this._parent.get_name()}});
            gfp.layergroups({{ this.get_name() }}, gfp.data("{{ this.get_name() }}_groups"));
        {% endmacro %}
        """
    )

    def __init__(self, groups: list[tuple[str, str, str]], *, small_px: int = 600, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.groups = groups
        self.small_px = small_px

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        _add_runtime(self)
        members: dict[str, list[str]] = {g[0]: [] for g in self.groups}
        first = self.groups[0][0]
        parent = self._parent
        for item in parent._children.values() if parent is not None else ():
            if isinstance(item, Layer) and item.control and item.overlay:
                got = getattr(item, "gfp_group", None) or first
                members[got if got in members else first].append(item.get_name())
        spec = {
            "small_px": self.small_px,
            "groups": [{"id": g, "zh": zh, "en": en, "layers": members[g]} for g, zh, en in self.groups],
        }
        figure = self.get_root()
        if isinstance(figure, Figure):
            figure.html.add_child(json_block(f"{self.get_name()}_groups", spec), name=f"{self.get_name()}_groups")
        super().render(**kwargs)


class TileLayer(folium.TileLayer, RawMacroElement):
    """folium's tile layer, with its URL (which may hold a user's key) written verbatim."""


def _add_runtime(element: MacroElement) -> None:
    figure = element.get_root()
    if isinstance(figure, Figure):
        figure.header.add_child(RawHtml(f"<style>{CSS}</style>"), name="gfp_css")
        figure.header.add_child(RawHtml(f"<script>{JS}</script>"), name="gfp_js")


class DataLayer(JSCSSMixin, Layer, RawMacroElement):
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
    group
        The layer control group (an id of :data:`~.page.LAYER_GROUPS`).
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

    def __init__(
        self, spec: dict[str, Any], *, name: str, show: bool = True, control: bool = True, group: str | None = None
    ) -> None:
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = "GfpLayer"
        #: the layer control group (see :class:`GroupedLayerControl`)
        self.gfp_group = group
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
                RawHtml(f'<script type="application/json" id="{self.get_name()}">{self.spec_json}</script>'),
                name=f"{self.get_name()}_data",
            )
        super().render(**kwargs)


#: The runtime functions a :class:`_Call` may call (closed set: the name is written into script).
CALLS = frozenset({"legend", "info", "searchbox", "table", "fit", "north", "summary", "panel"})


class _Call(RawMacroElement):
    """Calls ``gfp.<func>(map, spec)`` once the map exists; the spec is read from its JSON block."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        gfp.{{ this.func }}({{ this._parent.get_name() }}
          {%- if this.spec is not none %}, gfp.data("{{ this.get_name() }}"){% endif %});
        {% endmacro %}
        """
    )

    def __init__(self, func: str, spec: Any = None) -> None:
        if func not in CALLS:
            raise ValueError(f"unknown runtime call {func!r}; one of {sorted(CALLS)}")
        super().__init__()
        self._name = "GfpCall"
        self.func = func
        self.spec = spec

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        _add_runtime(self)
        figure = self.get_root()
        if isinstance(figure, Figure) and self.spec is not None:
            figure.html.add_child(json_block(self.get_name(), self.spec), name=f"{self.get_name()}_data")
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


def FirstView(bounds: list[list[float]]) -> MacroElement:
    """Fit ``[[south, west], [north, east]]`` clear of the legend (right) and the controls (left) on a wide screen.

    Add it before the layers (``index=0``): markercluster's chunked loading breaks on a later fit.
    """
    return _Call("fit", {"bounds": bounds})


def NorthArrow() -> MacroElement:
    """A small fixed north arrow (北 N), top right: the web map is always north-up."""
    return _Call("north")


def SummaryPanel(spec: dict[str, Any]) -> MacroElement:
    """The collapsible run summary (top right): ``{'rows': [{'zh', 'en', 'value'}], 'public', 'collapsed'}``.

    The rows come from :func:`~geofupin.maps.summary.run_summary`; every text is a DOM text node.
    """
    return _Call("summary", spec)


class ComparePanel(_Call):
    """The compare page's "what differs" panel (``gfp.panel``), beside the two maps and never over them.

    A wide screen (> 800 px) gets the two maps side by side and the panel (400 px) to their
    right; a narrow one gets the maps stacked and the panel below them. ``left``/``right``
    are the two maps' element names.
    """

    def __init__(self, spec: dict[str, Any], left: str, right: str) -> None:
        super().__init__("panel", spec)
        self.left, self.right = left, right

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        figure = self.get_root()
        if isinstance(figure, Figure):
            a, b, w = f"#{self.left}", f"#{self.right}", "400px"
            css = (
                f"@media (min-width:801px){{{a},{b}{{top:0!important;height:100%!important;"
                f"width:calc((100% - {w}) / 2)!important}}{a}{{left:0!important}}"
                f"{b}{{left:calc((100% - {w}) / 2)!important}}"
                f".gfp-panel{{right:0;top:0;width:{w};height:100%}}}}"
                f"@media (max-width:800px){{{a},{b}{{left:0!important;width:100%!important;height:31%!important}}"
                f"{a}{{top:0!important}}{b}{{top:31%!important}}.gfp-panel{{left:0;top:62%;width:100%;height:38%}}}}"
            )
            figure.header.add_child(RawHtml(f"<style>{css}</style>"), name=f"{self.get_name()}_css")
        super().render(**kwargs)
