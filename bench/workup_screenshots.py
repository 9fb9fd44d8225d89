"""Screenshots of the work-up page at an EHR side panel's width (420 px) and a desktop's (1,280 px), for docs/.

    .venv/bin/python -m bench.workup_screenshots            # writes docs/workup-420-*.png and docs/workup-1280-*.png

The page is the magnesium trend patient (fixtures/workup/magnesium_trend.json) as of the fixtures' clock, rendered by
the offline ``workup`` path and opened in the system's headless Chromium (scripts/ensure-chromium).
"""

from __future__ import annotations

import base64
import datetime as dt
import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from service.workup.offline import bundle_page

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "fixtures" / "workup" / "magnesium_trend.json"
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)  # the fixtures' clock (fixtures/README.md)
WIDTHS = (420, 1280)
# (file part, element whose top the shot starts at, height in CSS px)
SHOTS = (("banner", "body", 900), ("grid", "#grid", 700), ("trends", "#trends", 1500))


def _browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)


def _shot(driver: webdriver.Chrome, width: int, selector: str, height: int, out: Path) -> None:
    top = driver.execute_script(f"return document.querySelector('{selector}').getBoundingClientRect().top + scrollY;")
    clip = {"x": 0, "y": top, "width": width, "height": height, "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"clip": clip, "captureBeyondViewport": True})
    out.write_bytes(base64.b64decode(shot["data"]))


def main(out_dir: Path = ROOT / "docs") -> int:
    """Render the page once and write one banner and one trends shot per width."""
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "page.html"
        page.write_text(bundle_page(str(BUNDLE), now=NOW, highlight="lab.magnesium.low"), encoding="utf-8")
        driver = _browser()
        try:
            for width in WIDTHS:
                metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
                for name, selector, height in SHOTS:
                    driver.get(page.as_uri() + ("#trends" if name == "trends" else ""))
                    _shot(driver, width, selector, height, out_dir / f"workup-{width}-{name}.png")
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"))
