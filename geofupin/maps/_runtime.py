# ruff: noqa: E501  (embedded JavaScript and CSS)
"""The small JavaScript runtime that draws geofupin layers from compact JSON specs.

Every text that comes from data is put into the page with ``textContent`` or as a DOM
node, never through ``innerHTML``: a village named ``<img src=x onerror=alert(1)>`` shows
as text. The specs themselves are embedded as escaped JSON (see :func:`safe_json`).
"""

from __future__ import annotations

import json
from typing import Any


def safe_json(obj: Any) -> str:
    """JSON that can sit inside ``<script>`` safely (``<``, ``>``, ``&``, U+2028/2029 escaped)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


CSS = """
.gfp-v{border-radius:50%;border:1.5px solid #333;box-sizing:border-box;opacity:.9}
.gfp-f{border-radius:4px;border:1px solid #222;color:#fff;font:bold 11px/15px "Noto Sans CJK SC","Noto Sans SC",sans-serif;
 text-align:center;box-shadow:0 1px 2px rgba(0,0,0,.4)}
.gfp-label{background:transparent;border:none;box-shadow:none;font:bold 13px "Noto Sans CJK SC","Noto Sans SC",sans-serif;
 color:#222;text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 3px #fff}
.gfp-label:before{display:none}
.gfp-rank{background:#fff;border:1.5px solid #333;border-radius:10px;padding:0 5px;font:bold 12px sans-serif}
.gfp-rank:before{display:none}
.gfp-pop{font:13px/1.5 "Noto Sans CJK SC","Noto Sans SC",sans-serif;word-break:keep-all;overflow-wrap:anywhere}
.gfp-pop h4{margin:0 0 2px 0;font-size:15px}.gfp-pop .en{color:#666;font-size:11px}
.gfp-pop table{border-collapse:collapse;margin-top:4px}.gfp-pop td{padding:1px 6px 1px 0;vertical-align:top}
.gfp-pop td.k{color:#444;white-space:nowrap}.gfp-pop td.v{font-weight:bold}
.gfp-pop .sec{margin-top:6px;font-weight:bold;border-top:1px solid #ddd;padding-top:3px}
.gfp-pop ul{margin:2px 0 0 16px;padding:0}
.gfp-box{background:rgba(255,255,255,.93);padding:6px 8px;border-radius:5px;box-shadow:0 1px 4px rgba(0,0,0,.35);
 font:12px/1.4 "Noto Sans CJK SC","Noto Sans SC",sans-serif;max-height:45vh;overflow:auto}
.gfp-box h4{margin:0 0 3px 0;font-size:13px}.gfp-sw{display:inline-block;width:14px;height:14px;margin-right:5px;vertical-align:middle}
.gfp-legend{max-width:300px}.gfp-legend .row{padding-left:19px;text-indent:-19px}.gfp-legend .en{color:#666}
.gfp-search input{width:170px;font-size:13px;padding:2px 4px}.gfp-search .msg{color:#a00;font-size:11px}
.gfp-title{font:bold 16px "Noto Sans CJK SC","Noto Sans SC",sans-serif}.gfp-title .en{font-size:12px;font-weight:normal;color:#555}
.gfp-verdict{font-weight:bold;font-size:14px}.gfp-verdict.ok{color:#006837}.gfp-verdict.no{color:#b2182b}
.gfp-pop ul.gfp-why{margin:2px 0 4px 16px}.gfp-more summary{cursor:pointer;color:#08519c;margin-top:4px}
.gfp-north{padding:2px 6px;text-align:center;line-height:1.1;min-width:24px}.gfp-north .arr{font-size:16px;color:#222}
.gfp-north .lab{font-weight:bold;font-size:11px}
.gfp-summary{max-width:296px}.gfp-summary table{border-collapse:collapse}
.gfp-summary td{padding:1px 6px 1px 0;vertical-align:top}.gfp-summary td.v{font-weight:bold}
.gfp-summary td.k{white-space:nowrap}
.leaflet-top.leaflet-right{z-index:1001}.leaflet-control-layers-list{font-size:12px}
.gfp-lgroup summary{cursor:pointer;font-weight:bold;margin-top:3px}.gfp-lgroup label{margin-left:14px}
.gfp-lgroup .en{color:#666;font-weight:normal;font-size:11px}
@media (max-width:600px){.gfp-summary{max-width:62vw;font-size:11px}.gfp-summary td.k{white-space:normal}
 .gfp-box{max-height:26vh;font-size:11px;padding:4px 6px}.gfp-legend{max-width:56vw}
 .gfp-note{max-width:60vw;font-size:9px;max-height:9vh}.gfp-title{font-size:13px}.gfp-title .en{font-size:10px}
 .gfp-search input{width:120px}}
@page{size:landscape;margin:8mm}
@media print{html,body{width:100%;height:100%;margin:0}
 .leaflet-control-zoom,.leaflet-control-layers,.gfp-search,.leaflet-control-fullscreen,.leaflet-control-measure,
 .leaflet-popup-pane,.gfp-tog{display:none!important}
 .gfp-box{max-height:none;overflow:visible;box-shadow:none;border:1px solid #999}
 .gfp-legend .gfp-body,.gfp-summary .gfp-body{display:block!important}.gfp-box{font-size:10px}
 .gfp-legend{max-width:none}.gfp-legend .gfp-body{column-count:2;column-gap:14px}.gfp-lsec{break-inside:avoid}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
.gfp-diff table{border-collapse:collapse}.gfp-diff td,.gfp-diff th{border:1px solid #ccc;padding:1px 5px;text-align:right}
.gfp-diff td:first-child,.gfp-diff th:first-child{text-align:left}
.gfp-panel{position:absolute;box-sizing:border-box;overflow:auto;padding:8px 10px;background:#fff;border-left:1px solid #bbb;
 font:12px/1.4 "Noto Sans CJK SC","Noto Sans SC",sans-serif}
.gfp-panel table{width:100%}.gfp-panel .basis{color:#666;font-size:11px}.gfp-panel .note{color:#444;margin-top:6px}
.gfp-panel tr.sub td:first-child{padding-left:14px}
"""

JS = r"""
var gfp = window.gfp || {};
window.gfp = gfp;
gfp.search = gfp.search || [];
gfp.data = function(id) { return JSON.parse(document.getElementById(id).textContent); };
gfp.el = function(tag, text, cls) {
  var e = document.createElement(tag);
  if (text !== undefined && text !== null) { e.textContent = String(text); }
  if (cls) { e.className = cls; }
  return e;
};
gfp.fmt = function(v, f) {
  if (v === null || v === undefined || v === '') { return null; }
  if (typeof v === 'boolean') { return v ? '是 yes' : '否 no'; }
  if (typeof v === 'number') {
    if (f === 'pct') { return (v * 100).toFixed(1) + '%'; }
    if (f === 'int') { return Math.round(v).toLocaleString('zh-CN'); }
    if (f === 'm2') { return Math.round(v).toLocaleString('zh-CN') + '（' + (v * 0.0015).toFixed(1) + ' 亩）'; }
    if (Math.abs(v) >= 100) { return Math.round(v).toLocaleString('zh-CN'); }
    if (Math.abs(v) >= 10) { return String(Math.round(v * 10) / 10); }
    return String(Math.round(v * 1000) / 1000);
  }
  return String(v);
};
gfp.decode = function(g) {
  // delta-coded integer lat/lon pairs -> nested latlng arrays per feature
  var xy = g.xy, s = g.scale, lat = 0, lon = 0, k = 0, r = 0, p = 0, feats = [];
  for (var f = 0; f < g.ppf.length; f++) {
    var parts = [];
    for (var i = 0; i < g.ppf[f]; i++) {
      var rings = [];
      var nr = g.rpp ? g.rpp[p] : 1;
      for (var j = 0; j < nr; j++) {
        var n = g.nv[r], ring = new Array(n);
        for (var q = 0; q < n; q++) { lat += xy[k]; lon += xy[k + 1]; k += 2; ring[q] = new L.LatLng(lat / s, lon / s); }
        rings.push(ring); r++;
      }
      parts.push(g.rpp ? rings : rings[0]); p++;
    }
    feats.push(parts);
  }
  return feats;
};
gfp.popup = function(spec, i) {
  // the answer first (a site's verdict and reasons), then the name, then the technical rows (folded)
  var P = spec.props, box = gfp.el('div', null, 'gfp-pop'), host = box;
  var lead = spec.lead || [];
  // lead: [verdict, reasons, passed (or null: no colour)]; a village's move is composed from spec.move
  var verdict = lead[0] && P[lead[0]] ? P[lead[0]][i] : null;
  var whys = lead[1] && P[lead[1]] ? P[lead[1]][i] : null;
  var mv = spec.move ? gfp.move(spec, i) : null;
  if (mv) { verdict = mv[0]; whys = mv[1]; }
  if (verdict) {
    box.appendChild(gfp.el('div', verdict, 'gfp-verdict' + (lead[2] ? (P[lead[2]] && P[lead[2]][i] ? ' ok' : ' no') : '')));
  }
  if (spec.title) { box.appendChild(gfp.el('h4', P[spec.title][i])); }
  if (spec.title_en && P[spec.title_en][i]) { box.appendChild(gfp.el('div', P[spec.title_en][i], 'en')); }
  if (whys && whys.length) {
    var why = gfp.el('ul', null, 'gfp-why');
    whys.forEach(function(t) { why.appendChild(gfp.el('li', t)); });
    box.appendChild(why);
  }
  if (spec.fold && (!spec.fold_if || verdict)) {  // fold_if: fold only where the first line answers
    host = gfp.el('details', null, 'gfp-more');
    var sm = gfp.el('summary', '更多 ');
    sm.appendChild(gfp.el('span', 'details', 'en'));
    host.appendChild(sm); box.appendChild(host);
  }
  var tb = gfp.el('table');
  (spec.fields || []).forEach(function(fd) {
    var v = gfp.fmt(P[fd[0]][i], fd[3]);
    if (v === null) { return; }
    var tr = gfp.el('tr');
    var k = gfp.el('td', fd[1], 'k');
    if (fd[2]) { k.appendChild(gfp.el('span', ' ' + fd[2], 'en')); }
    tr.appendChild(k); tr.appendChild(gfp.el('td', v, 'v')); tb.appendChild(tr);
  });
  host.appendChild(tb);
  (spec.sections || []).forEach(function(sec) {
    var items = P[sec[0]][i];
    if (!items || !items.length) { return; }
    var h = gfp.el('div', sec[1], 'sec');
    if (sec[2]) { h.appendChild(gfp.el('span', ' ' + sec[2], 'en')); }
    host.appendChild(h);
    var ul = gfp.el('ul');
    items.forEach(function(t) { ul.appendChild(gfp.el('li', t)); });
    host.appendChild(ul);
  });
  return box;
};
gfp.move = function(spec, i) {
  // a village's move from compact numbers: [group, [[site, households, persons]], [years], [[now lo, hi, after lo, hi]]]
  var M = spec.move, P = spec.props, v = P[M.prop][i];
  if (v === null || v === undefined) { return null; }
  if (v === 0) { return ['尚未安置：暂无可去的安置点', []]; }
  var name = (spec.title ? String(P[spec.title][i]) : '') + (v[0] ? '（' + v[0] + '）' : '');
  var why = v[1].map(function(s) {
    var n = (s[1] !== null ? s[1] + ' 户' : '') + (s[1] !== null && s[2] !== null ? ' ' : '') + (s[2] !== null ? s[2] + ' 人' : '');
    return '安置点：' + M.sites[s[0]] + (n ? '（' + n + '）' : '');
  });
  if (v[2].length) { why.push('搬迁时间：' + v[2].join('、') + ' 年'); }
  var span = function(lo, hi) { return lo === null ? '无道路可达' : (lo === hi ? lo + ' 分钟' : lo + '–' + hi + ' 分钟'); };
  v[3].forEach(function(t, k) { if (t) { why.push('到' + M.kinds[k] + '：现在 ' + span(t[0], t[1]) + '，搬迁后 ' + span(t[2], t[3])); } });
  return ['从 ' + name + ' 搬到 ' + v[1].map(function(s) { return M.sites[s[0]]; }).join('、'), why];
};
gfp.style = function(spec, i) {
  var st = {}, base = spec.style || {}, per = spec.per || {}, k;
  for (k in base) { st[k] = base[k]; }
  for (k in per) { st[k] = per[k][i]; }
  return st;
};
gfp.open = function(map, spec, layer, latlng) {
  // the popup pans clear of the open legend (bottom right) on a wide screen
  var lg = map.getContainer().querySelector('.gfp-legend'), right = 20;
  if (lg && map.getSize().x >= 1000 && lg.offsetWidth) { right = lg.offsetWidth + 20; }
  var opt = {maxWidth: spec.max_width || 420, minWidth: 220, maxHeight: 460, autoPanPaddingTopLeft: [60, 80],
    autoPanPaddingBottomRight: [right, 20]};
  if (layer.options && layer.options.icon) { opt.offset = [0, -Math.round(layer.options.icon.options.iconSize[1] / 2)]; }
  return L.popup(opt).setLatLng(layer.getLatLng ? layer.getLatLng() : latlng)
    .setContent(gfp.popup(spec, layer._gfp)).openOn(map);
};
gfp.lazy = function(map, id) {
  // an empty group that builds its content the first time it is switched on
  var g = L.featureGroup();
  g.once('add', function() { g.addLayer(gfp.layer(map, gfp.data(id))); });
  return g;
};
gfp.Icon = L.DivIcon.extend({
  // the marker's DOM is built only when the marker is shown (clusters keep most markers off the map)
  createIcon: function(old) {
    var div = L.DivIcon.prototype.createIcon.call(this, old), o = this.options;
    var e = gfp.el('div', o.glyph, o.cls);
    e.style.width = o.iconSize[0] + 'px'; e.style.height = o.iconSize[1] + 'px';
    if (o.fill) { e.style.background = o.fill; }
    div.appendChild(e);
    return div;
  }
});
gfp.layer = function(map, spec) {
  var group = spec.cluster ? L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false,
      maxClusterRadius: 50, disableClusteringAtZoom: 14}) : L.featureGroup();
  var n = spec.n, i, lyr;
  var feats = spec.geom ? gfp.decode(spec.geom) : null;
  var layers = [];
  for (i = 0; i < n; i++) {
    var st = gfp.style(spec, i);
    if (spec.kind === 'points') {
      var ll = [spec.lat[i], spec.lon[i]];
      if (spec.marker === 'div') {
        var d = st.size || 12;
        lyr = L.marker(ll, {icon: new gfp.Icon({className: spec.divclass || 'gfp-div', iconSize: [d, d], cls: st.cls || 'gfp-v',
            fill: st.fillColor, glyph: spec.glyph && spec.props[spec.glyph] ? spec.props[spec.glyph][i] : null}),
          riseOnHover: true, title: spec.title ? String(spec.props[spec.title][i]) : ''});
      } else {
        lyr = L.circleMarker(ll, st);
      }
    } else if (spec.kind === 'lines') {
      if (!feats[i].length) { continue; }
      lyr = L.polyline(feats[i], st);
    } else {
      if (!feats[i].length) { continue; }
      lyr = L.polygon(feats[i], st);
    }
    if (spec.interactive !== false) {
      lyr._gfp = i;  // one click handler on the group opens the popup (no per-feature popup objects)
      var hov = spec.hover_label || spec.title;
      if (hov && spec.hover !== false && spec.marker !== 'div') {  // div markers use the title attribute
        (function(l, j) { l.bindTooltip(function() { return gfp.el('span', spec.props[hov][j]); },
          {sticky: spec.kind !== 'points'}); })(lyr, i);
      }
    }
    if (spec.search && spec.title) {
      gfp.search.push({name: String(spec.props[spec.title][i]), layer: lyr, group: group, map: map, spec: spec});
    }
    layers.push(lyr);
    if (spec.label && spec.props[spec.label]) {
      var lab = spec.props[spec.label][i];
      if (lab !== null && lab !== undefined && lab !== '') {
        var at = spec.kind === 'points' ? lyr.getLatLng() : (spec.label_at ? L.latLng(spec.label_at[i]) : lyr.getBounds().getCenter());
        var tip = L.tooltip({permanent: true, direction: 'center', className: spec.label_class || 'gfp-label',
          interactive: false}).setLatLng(at).setContent(gfp.el('span', lab));
        var pr = spec.label_prio;
        gfp.labels(map).push({tip: tip, prio: pr === undefined ? 1e9 : (typeof pr === 'number' ? pr : pr[i]),
          seq: map._gfpLabels.length});
        layers.push(tip);
      }
    }
  }
  if (spec.cluster) { group.addLayers(layers); } else { layers.forEach(function(l) { group.addLayer(l); }); }
  if (spec.interactive !== false) {
    group.on('click', function(e) { if (e.layer && e.layer._gfp !== undefined) { gfp.open(map, spec, e.layer, e.latlng); } });
  }
  return group;
};
gfp.fit = function(map, spec) {
  // the first view; on a wide screen the legend (bottom right) and the boxes on the left do not cover it
  // (the legend is at most 300 px wide, see .gfp-legend)
  var wide = map.getSize().x >= 1000;
  map.fitBounds(spec.bounds, {paddingTopLeft: [wide ? 70 : 20, 30], paddingBottomRight: [wide ? 330 : 20, 30]});
};
gfp.labels = function(map) {
  // the map's permanent labels; after every zoom (and when a layer is switched on) they are decluttered
  if (!map._gfpLabels) {
    map._gfpLabels = [];
    var pending = false;
    var run = function() { pending = false; gfp.declutter(map); };
    map.on('zoomend layeradd', function() { if (!pending) { pending = true; setTimeout(run, 0); } });
  }
  return map._gfpLabels;
};
gfp.declutter = function(map) {
  // most important first (lowest prio: rank 1, ...): a label shows only where it overlaps no label shown
  // before it; the others show when zooming in makes room (and their feature's name shows on hover)
  var pad = 2, shown = [], cell = 64, grid = {};
  var items = map._gfpLabels.filter(function(l) { return map.hasLayer(l.tip) && l.tip.getElement(); });
  items.sort(function(a, b) { return (a.prio - b.prio) || (a.seq - b.seq); });
  items.forEach(function(l) {
    var el = l.tip.getElement(), p = map.latLngToLayerPoint(l.tip.getLatLng());
    var w = el.offsetWidth / 2 + pad, h = el.offsetHeight / 2 + pad;
    var r = [p.x - w, p.y - h, p.x + w, p.y + h], free = true, i, j, k, cands;
    var i0 = Math.floor(r[0] / cell), i1 = Math.floor(r[2] / cell), j0 = Math.floor(r[1] / cell), j1 = Math.floor(r[3] / cell);
    for (i = i0; i <= i1 && free; i++) {
      for (j = j0; j <= j1 && free; j++) {
        cands = grid[i + ',' + j] || [];
        for (k = 0; k < cands.length; k++) {
          var s = cands[k];
          if (r[0] < s[2] && r[2] > s[0] && r[1] < s[3] && r[3] > s[1]) { free = false; break; }
        }
      }
    }
    el.style.visibility = free ? '' : 'hidden';
    if (free) {
      shown.push(r);
      for (i = i0; i <= i1; i++) { for (j = j0; j <= j1; j++) { (grid[i + ',' + j] = grid[i + ',' + j] || []).push(r); } }
    }
  });
  return shown.length;
};
gfp.box = function(map, pos, build, cls) {
  var C = L.Control.extend({onAdd: function() {
    var d = gfp.el('div', null, 'gfp-box ' + (cls || ''));
    build(d); L.DomEvent.disableClickPropagation(d); L.DomEvent.disableScrollPropagation(d); return d; }});
  return new C({position: pos}).addTo(map);
};
gfp.fold = function(head, box, collapsed) {
  // click the heading to show/hide the body
  var body = gfp.el('div', null, 'gfp-body');
  head.style.cursor = 'pointer';
  head.appendChild(gfp.el('span', collapsed ? ' ▸' : ' ▾', 'gfp-tog'));
  if (collapsed) { body.style.display = 'none'; }
  head.addEventListener('click', function() {
    var hide = body.style.display !== 'none';
    body.style.display = hide ? 'none' : '';
    head.lastChild.textContent = hide ? ' ▸' : ' ▾';
  });
  box.appendChild(body);
  return body;
};
gfp.small = function(px) {
  return !!(px && window.matchMedia && window.matchMedia('(max-width: ' + px + 'px)').matches);
};
gfp.layergroups = function(ctl, spec) {
  // the layer list in collapsible groups (Chinese first); Leaflet rebuilds the list on every change, so the
  // grouping is redone after each rebuild and every group keeps its open/folded state
  var labels = {}, open = {}, add = ctl._addItem, update = ctl._update, small = gfp.small(spec.small_px);
  spec.groups.forEach(function(g) { open[g.id] = !small; });
  ctl._addItem = function(obj) {
    var lab = add.call(this, obj);
    if (obj.overlay) { labels[L.stamp(obj.layer)] = lab; }
    return lab;
  };
  ctl._update = function() {
    labels = {};
    update.call(this);
    var list = this._overlaysList;
    spec.groups.forEach(function(g) {
      var items = g.layers.map(function(v) { return window[v] && labels[L.stamp(window[v])]; })
        .filter(function(x) { return x; });
      if (!items.length) { return; }
      var det = gfp.el('details', null, 'gfp-lgroup'), sm = gfp.el('summary', g.zh + ' ');
      sm.appendChild(gfp.el('span', g.en, 'en')); det.appendChild(sm); det.open = open[g.id];
      det.addEventListener('toggle', function() { open[g.id] = det.open; });
      items.forEach(function(l) { det.appendChild(l); });
      list.appendChild(det);
    });
    return this;
  };
  ctl._update();
  return ctl;
};
gfp.alone = function(map, head, body, px) {
  // on a phone the legend and the summary do not open together: opening one folds the other
  var all = map._gfpAlone = map._gfpAlone || [];
  all.push({head: head, body: body});
  head.addEventListener('click', function() {
    if (!gfp.small(px) || body.style.display === 'none') { return; }
    all.forEach(function(o) { if (o.body !== body && o.body.style.display !== 'none') { o.head.click(); } });
  });
};
gfp.legend = function(map, spec) {
  // the legend follows the visible layers: a section shows while any of its layers is on the map
  return gfp.box(map, spec.position || 'bottomright', function(d) {
    var h = gfp.el('h4', '图例 ');
    h.appendChild(gfp.el('span', 'Legend', 'en')); d.appendChild(h);
    var body = gfp.fold(h, d, spec.collapsed || gfp.small(spec.small_px)), parts = [];
    gfp.alone(map, h, body, spec.small_px || 600);
    d = body;
    var none = gfp.el('div', '（未打开任何图层） no layer shown', 'en');
    var refresh = function() {
      var any = false;
      parts.forEach(function(p) {
        var on = !p.layers.length || p.layers.some(function(v) { return window[v] && map.hasLayer(window[v]); });
        p.el.style.display = on ? '' : 'none'; any = any || on;
      });
      none.style.display = any ? 'none' : '';
    };
    spec.sections.forEach(function(sec) {
      var part = gfp.el('div', null, 'gfp-lsec');
      parts.push({el: part, layers: sec.layers || []});
      d.appendChild(part);
      var t = gfp.el('div', sec.zh); t.style.fontWeight = 'bold'; t.style.marginTop = '4px';
      t.appendChild(gfp.el('span', ' ' + sec.en, 'en')); part.appendChild(t);
      sec.items.forEach(function(it) {
        var row = gfp.el('div', null, 'row'), sw = gfp.el('span', it.glyph || null, 'gfp-sw');
        if (it.shape === 'circle') { sw.style.borderRadius = '50%'; sw.style.border = '1px solid #333'; sw.style.background = it.color; }
        else if (it.shape === 'line') { sw.style.height = '0'; sw.style.borderTop = (it.width || 3) + 'px ' + (it.dash ? 'dashed ' : 'solid ') + it.color; }
        else if (it.shape === 'glyph') { sw.style.background = it.color; sw.style.color = '#fff'; sw.style.fontSize = '10px'; sw.style.textAlign = 'center'; sw.style.lineHeight = '14px'; sw.style.borderRadius = '3px'; }
        else { sw.style.background = it.color; sw.style.opacity = it.opacity || 0.7; sw.style.border = '1px solid ' + (it.stroke || it.color); }
        row.appendChild(sw); row.appendChild(gfp.el('span', it.zh + ' '));
        row.appendChild(gfp.el('span', it.en, 'en')); part.appendChild(row);
      });
    });
    d.appendChild(none);
    refresh();
    map.on('overlayadd overlayremove', refresh);
  }, 'gfp-legend');
};
gfp.north = function(map) {
  // the web map is always north-up: a small fixed arrow
  return gfp.box(map, 'topright', function(d) {
    d.title = '指北 North';
    d.appendChild(gfp.el('div', '▲', 'arr'));
    d.appendChild(gfp.el('div', '北 N', 'lab'));
  }, 'gfp-north');
};
gfp.summary = function(map, spec) {
  // the run's key figures, Chinese first; click the heading to fold
  return gfp.box(map, 'topright', function(d) {
    var h = gfp.el('h4', spec.public ? '搬迁安置概况（公示） ' : '搬迁安置概况 ');
    h.appendChild(gfp.el('span', 'Summary', 'en')); d.appendChild(h);
    var body = gfp.fold(h, d, spec.collapsed), tb = gfp.el('table');
    gfp.alone(map, h, body, 600);
    spec.rows.forEach(function(r) {
      var tr = gfp.el('tr'), k = gfp.el('td', r.zh, 'k');
      if (r.en) { tr.title = r.en; }  // English on hover: the panel stays short
      tr.appendChild(k); tr.appendChild(gfp.el('td', r.value, 'v')); tb.appendChild(tr);
    });
    body.appendChild(tb);
    // once someone opens a popup the panel folds out of the way (a pan may bring features under it);
    // the heading unfolds it
    map.on('popupopen', function() { if (body.style.display !== 'none') { h.click(); } });
  }, 'gfp-summary');
};
gfp.info = function(map, spec) {
  L.control.scale({metric: true, imperial: false, position: 'bottomleft'}).addTo(map);
  // the printed sheet has another size than the screen: redraw the map for it and back
  var resize = function() { map.invalidateSize({animate: false}); };
  if (window.matchMedia) {
    var mq = window.matchMedia('print');
    if (mq.addEventListener) { mq.addEventListener('change', resize); } else if (mq.addListener) { mq.addListener(resize); }
  }
  window.addEventListener('beforeprint', resize);
  window.addEventListener('afterprint', resize);
  if (spec.title) {
    gfp.box(map, 'topleft', function(d) {
      var t = gfp.el('div', spec.title, 'gfp-title');
      if (spec.title_en) { t.appendChild(gfp.el('div', spec.title_en, 'en')); }
      d.appendChild(t);
    });
  }
  if (spec.lines && spec.lines.length) {
    gfp.box(map, 'bottomleft', function(d) {
      spec.lines.forEach(function(l) { d.appendChild(gfp.el('div', l)); });
    }, 'gfp-note');
  }
};
gfp.table = function(map, spec) {
  return gfp.box(map, spec.position || 'topright', function(d) {
    var h = gfp.el('h4', spec.title || '');
    if (spec.title_en) { h.appendChild(gfp.el('span', ' ' + spec.title_en, 'en')); }
    d.appendChild(h);
    d = gfp.fold(h, d, spec.collapsed);
    var tb = gfp.el('table'), tr = gfp.el('tr');
    spec.header.forEach(function(c) { tr.appendChild(gfp.el('th', c)); }); tb.appendChild(tr);
    spec.rows.forEach(function(r) {
      var row = gfp.el('tr'); r.forEach(function(c) { row.appendChild(gfp.el('td', c === null ? '—' : c)); }); tb.appendChild(row);
    });
    d.appendChild(tb);
  }, 'gfp-diff');
};
gfp.panel = function(map, spec) {
  // a panel of the page (not a map control): beside the maps on a wide screen, below them on a narrow one
  var d = gfp.el('div', null, 'gfp-panel gfp-diff'), h = gfp.el('h4', spec.title || '');
  if (spec.title_en) { h.appendChild(gfp.el('span', ' ' + spec.title_en, 'en')); }
  d.appendChild(h);
  var tb = gfp.el('table'), tr = gfp.el('tr');
  spec.header.forEach(function(c) { tr.appendChild(gfp.el('th', c)); }); tb.appendChild(tr);
  spec.rows.forEach(function(r) {
    var row = gfp.el('tr', null, r.zh.indexOf('其中') === 0 ? 'sub' : ''), k = gfp.el('td');
    k.appendChild(gfp.el('div', r.zh)); k.appendChild(gfp.el('div', r.en, 'en'));
    if (r.basis) { k.appendChild(gfp.el('div', r.basis, 'basis')); }
    row.appendChild(k);
    r.cells.forEach(function(c) { row.appendChild(gfp.el('td', c === null ? '—' : c)); });
    row.setAttribute('data-key', r.key || '');
    tb.appendChild(row);
  });
  d.appendChild(tb);
  if (spec.note) { d.appendChild(gfp.el('div', spec.note, 'note')); }
  document.body.appendChild(d);
  return d;
};
gfp.searchbox = function(map) {
  return gfp.box(map, 'topleft', function(d) {
    var inp = gfp.el('input'), msg = gfp.el('div', null, 'msg'), dl = gfp.el('datalist');
    dl.id = 'gfp-names-' + L.stamp(map);
    inp.setAttribute('list', dl.id); inp.type = 'search';
    inp.placeholder = '搜索村庄 Search village';
    var seen = {};
    gfp.search.forEach(function(s) {
      if (s.map === map && !seen[s.name]) { seen[s.name] = 1; var o = gfp.el('option'); o.value = s.name; dl.appendChild(o); }
    });
    var last = null;
    function go() {
      var q = inp.value.trim();
      if (!q || q === last) { return; }  // 'change' and 'Enter' both fire for one search
      last = q; msg.textContent = '';
      setTimeout(function() { last = null; }, 300);
      var hit = null;
      gfp.search.forEach(function(s) { if (!hit && s.map === map && s.name === q) { hit = s; } });
      if (!hit) { gfp.search.forEach(function(s) { if (!hit && s.map === map && s.name.indexOf(q) >= 0) { hit = s; } }); }
      if (!hit) { msg.textContent = '未找到 not found'; return; }
      if (!map.hasLayer(hit.group)) { map.addLayer(hit.group); }
      var open = function() { map.setView(hit.layer.getLatLng(), Math.max(map.getZoom(), 13)); gfp.open(map, hit.spec, hit.layer); };
      if (hit.group.zoomToShowLayer) { hit.group.zoomToShowLayer(hit.layer, open); } else { open(); }
    }
    inp.addEventListener('change', go);
    inp.addEventListener('keydown', function(ev) { if (ev.key === 'Enter') { go(); } });
    d.appendChild(inp); d.appendChild(dl); d.appendChild(msg);
  }, 'gfp-search');
};
"""
