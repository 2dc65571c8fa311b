"""Catalog Explorer: the web UI at `/`, served by the catalog's own process over its service
layer. Pages are rendered on the server (Jinja2); a small vendored script (htmx) swaps them in
place where JavaScript runs, and everything reads without it."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from modelcatalog.web import edits, pages, signin, sso
from modelcatalog.web.identity import SignInRequired
from modelcatalog.web.render import STATIC


def install(app: FastAPI) -> None:
    """Add the web UI's pages, forms and static files to `app`."""
    app.add_exception_handler(SignInRequired, signin.to_sign_in)
    for router in (signin.router, sso.router, pages.router, edits.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
