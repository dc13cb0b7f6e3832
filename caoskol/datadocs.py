"""Great Expectations Data Docs that work on a school's intranet.

GX renders its HTML with stylesheets, scripts and logos from public CDNs. Schools run
intranets and the portal's Content-Security-Policy allows no third-party origin, so those
references would only fail (or leak that someone opened the page). They are removed; the
pages' content (tables of expectations and observed values) is plain HTML and stays
readable with the styles GX ships locally under ``static/``.
"""

from __future__ import annotations

import re
from pathlib import Path

_EXTERNAL = r"""["']https?://[^"']*["']"""
# <script src="https://..."></script>, <link ... href="https://...">, <img src="https://...">
# and CSS url('https://...') backgrounds.
_PATTERNS = [
    (re.compile(rf"<script\b[^>]*\bsrc={_EXTERNAL}[^>]*>\s*</script>", re.IGNORECASE), ""),
    (re.compile(rf"<link\b[^>]*\bhref={_EXTERNAL}[^>]*/?>", re.IGNORECASE), ""),
    (re.compile(rf"<img\b[^>]*\bsrc={_EXTERNAL}[^>]*/?>", re.IGNORECASE), ""),
    (re.compile(r"""url\(\s*["']?https?://[^)]*\)""", re.IGNORECASE), "none"),
]
EXTERNAL_URL = re.compile(r"""(?:src|href)=["']https?://""", re.IGNORECASE)


def make_offline(docs_dir: Path) -> int:
    """Strip every external stylesheet, script and image from the HTML under ``docs_dir``.

    Returns how many references were removed. Links (<a href>) to GX's site stay: they load
    nothing unless clicked.
    """
    removed = 0
    for page in Path(docs_dir).rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for pattern, replacement in _PATTERNS:
            html, n = pattern.subn(replacement, html)
            removed += n
        page.write_text(html, encoding="utf-8")
    return removed


def external_loads(html: str) -> list[str]:
    """Tags and CSS urls pointing off this machine that a browser would load by itself."""
    found = [t for t in re.findall(r"<(?:script|link|img)\b[^>]*>", html, re.IGNORECASE) if EXTERNAL_URL.search(t)]
    return found + re.findall(r"""url\(\s*["']?https?://[^)]*\)""", html, re.IGNORECASE)
