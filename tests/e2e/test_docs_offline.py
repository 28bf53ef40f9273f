"""/docs (Swagger UI) and /redoc work with no internet: their JS and CSS come from the server itself.

The pages are FastAPI's own (get_swagger_ui_html, get_redoc_html) pointed at /docs-assets/, which serves
the files of the pinned `fastapi-offline` package. Headless Chromium renders /docs with every host but
127.0.0.1 unresolvable, and the operations list must appear.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e


class AssetUrls(HTMLParser):
    """Collects every script src and stylesheet/icon href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def assets_of(html: str) -> list[str]:
    """Return the script and link URLs of `html`."""
    parser = AssetUrls()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_the_server_itself(live_server, page):
    server = str(live_server)
    html = httpx.get(f"{server}{page}").text
    urls = assets_of(html)
    assert urls, html
    for url in urls:
        assert url.startswith("/docs-assets/"), f"{page} loads {url} from elsewhere"
        asset = httpx.get(f"{server}{url}")
        assert asset.status_code == 200 and len(asset.content) > 1000, url
    assert "fonts.googleapis" not in html and "cdn." not in html


def test_docs_render_the_operations_offline_in_a_browser(live_server, tmp_path):
    dom = chromium(f"{live_server}/docs", tmp_path / "profile", offline=True, budget_ms=15000)
    # Swagger UI gives each rendered operation the id operations-<tag>-<operationId>
    ids = set(re.findall(r'id="operations-[a-z_]+-([a-z_]+-[A-Za-z_]+)"', dom))
    assert {"series-get_series", "observations-post_observations", "forecasts-spillover"} <= ids, sorted(ids)[:20]
    assert "/v1/series/thresholds" in dom
