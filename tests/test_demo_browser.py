"""The published demo map (``geofupin run scenarios/demo.yaml``) in a real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from test_browser import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python package) is absent")


def test_demo_page_works_offline_and_shows_the_county(demo_run: tuple[Path, Path]) -> None:
    _, out = demo_run
    villages = gpd.read_file(out / "results.gpkg", layer="input_villages")
    sites = gpd.read_file(out / "results.gpkg", layer="sites")
    network: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})

        def route(r) -> None:  # offline: everything but the file itself is refused and recorded
            if r.request.url.startswith(("file:", "data:", "blob:")):
                r.continue_()
            else:
                network.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto((out / "index.html").as_uri())
        page.wait_for_selector(".leaflet-marker-pane .gfp-village", state="attached", timeout=30000)
        page.wait_for_timeout(500)
        assert errors == [] and network == []
        # one marker per village row (the demo has fewer villages than the clustering threshold)
        assert page.locator(".leaflet-marker-pane .gfp-village").count() == len(villages)
        # the title is the scenario's, Chinese first
        assert "示范县" in page.locator(".gfp-title").inner_text()
        # click the first relocating group: its Chinese village name and counts appear
        row = villages[villages["relocate_persons"] > 0].iloc[0]
        page.locator(f'.gfp-village[title="{row["name"]}"]').first.click()
        popup = page.locator(".leaflet-popup-content .gfp-pop")
        popup.wait_for(timeout=5000)
        lines = popup.inner_text().splitlines()
        # the move first (issue 15: from, to, when), then the name; the counts are in the folded details
        assert lines[0].startswith(f"从 {row['name']}") and lines[1] == row["name"]
        assert f"{int(row['persons']):,}" in popup.text_content()
        # ranked sites carry their rank labels; those that would overlap a better rank's label are hidden
        ranks = sorted(int(t) for t in page.locator(".gfp-rank").all_text_contents())
        assert ranks == sorted(int(r) for r in sites["rank"].dropna())
        shown = [int(t) for t in page.locator(".gfp-rank").all_inner_texts() if t]
        assert min(ranks) in shown
        browser.close()
