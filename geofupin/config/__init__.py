"""Step configurations: plain frozen dataclasses, one module per scenario section.

``access`` (:mod:`geofupin.config.access`), ``siting`` (:mod:`~geofupin.config.siting`),
``allocation`` (:mod:`~geofupin.config.allocate`), ``policy`` (:mod:`~geofupin.config.policy`),
``plans`` (:mod:`~geofupin.config.plans`) and ``map`` (:mod:`~geofupin.config.maps`).
:mod:`geofupin.scenario` parses YAML into them; compute modules read them. They import only
:mod:`geofupin.errors`, :mod:`geofupin.vocabulary`, :mod:`geofupin._schema` and
:mod:`geofupin.ahp`, never a compute module (see ARCHITECTURE.md).
"""
