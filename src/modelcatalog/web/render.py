"""Pages from templates: one Jinja2 environment that escapes everything, the filters pages use
(Markdown through a sanitiser, times, sizes), and the headers every page is sent with."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nh3
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# No inline script, no inline style, no framing, forms post only here, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show what one principal may see: never kept by a shared cache.
    "Cache-Control": "no-store",
}

# CommonMark without raw HTML (written as text); links whose scheme markdown-it does not accept
# (javascript:, vbscript:, file:, data: other than images) are not made links at all.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_ALLOWED_TAGS = {
    "a", "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "img",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}}


def markdown(text: str | None) -> Markup:
    """`text` rendered from Markdown, then sanitised: only plain formatting tags, links to
    http(s) and mailto addresses, and images from this server survive."""
    if not text:
        return Markup("")
    html = _markdown.render(text)
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # noqa: S704 -- sanitised just above


def when(ms: int | None) -> str:
    """An epoch-milliseconds time as UTC, to the second."""
    if not ms:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms // 1000))


def ago(ms: int | None, now_ms: int | None = None) -> str:
    """How long before now an epoch-milliseconds time was, in the largest whole unit."""
    if not ms:
        return ""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    seconds = max(0, (now - ms) // 1000)
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def time_tag(ms: int | None) -> Markup:
    """An epoch-milliseconds time as a `<time>` element: how long ago, with the exact UTC time
    in its `datetime` and title. A function, not a macro: a page of 100 rows calls it 100
    times."""
    if not ms:
        return Markup("")
    moment = time.gmtime(ms // 1000)
    machine = time.strftime("%Y-%m-%dT%H:%M:%SZ", moment)
    person = time.strftime("%Y-%m-%d %H:%M:%S UTC", moment)
    # All three texts are made here from a number: nothing in them needs escaping.
    return Markup(f'<time datetime="{machine}" title="{person}">{ago(ms)}</time>')  # noqa: S704


def size(n: int | None) -> str:
    """A byte count in the largest binary unit that keeps it at or above one."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def segment(text: object) -> str:
    """`text` as one path segment of an address (a '/' or '?' in a name stays inside it)."""
    return quote(str(text), safe="")


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    # Templates are package files: looked at once, not on every page.
    auto_reload=False,
)
environment.filters.update(markdown=markdown, when=when, ago=ago, size=size, seg=segment)
environment.globals.update(time=time_tag)


def page(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """The page `template` filled with `values`, sent with the page security headers."""
    body = environment.get_template(template).render(**values)
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)
