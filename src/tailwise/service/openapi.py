"""The API's description: the OpenAPI schema with the service's own limits declared, and the
docs page (Swagger UI at ``/docs``) with its assets served from the installed package
``fastapi-offline`` (the ``serve`` extra), so it works without a network. (That package's
Swagger UI 5 reads OpenAPI 3.1, which FastAPI writes; ``swagger-ui-bundle`` ships Swagger UI 4,
which cannot. Its ReDoc is left out: ReDoc fetches its logo from a CDN.)

The request models (:mod:`tailwise.service.schemas`) declare every rule that holds for all
services; the limits that come from a service's settings (largest ``k``, list lengths, text
length) are added to the generated schema by :func:`declare_limits`, so that what the schema
allows is what the routes accept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from tailwise._compat import require
from tailwise.service.schemas import ITEM_FIELDS, MAX_SEED
from tailwise.service.settings import ServiceSettings

#: where the docs pages' scripts and styles are served
ASSETS = "/docs-assets"
_BOUND_BY_TYPE = {"maximum": ("integer", "number"), "maxItems": ("array",), "maxLength": ("string",)}


def limits(s: ServiceSettings) -> dict[str, dict[str, dict[str, int]]]:
    """The settings' limits per request model and field, as JSON-schema keywords (and the
    largest seed, which FastAPI's schema of a body model would round to a float, 2**63)."""
    return {
        "RecommendRequest": {
            "k": {"maximum": s.max_k}, "history": {"maxItems": s.max_history}, "query": {"maxLength": s.max_text_chars},
            "seed": {"maximum": MAX_SEED},
        },  # fmt: skip
        "ItemsRequest": {"items": {"maxItems": s.max_batch}},
        "ItemIn": {f: {"maxLength": s.max_text_chars} for f in ("text", *ITEM_FIELDS)},
        "FeedbackRequest": {"events": {"maxItems": s.max_batch}},
    }


def _bound(schema: dict[str, Any], keyword: str, value: int) -> None:
    """Add `keyword` to the branches of `schema` of a type it applies to (and to the strings
    inside arrays, for ``maxLength``)."""
    for branch in schema.get("anyOf", [schema]):
        kind = branch.get("type")
        if kind in _BOUND_BY_TYPE[keyword]:
            branch[keyword] = value
        elif kind == "array" and keyword == "maxLength":
            _bound(branch.get("items", {}), keyword, value)


def declare_limits(schema: dict[str, Any], settings: ServiceSettings) -> dict[str, Any]:
    """`schema` (an OpenAPI document) with the settings' limits declared in its components."""
    components = schema.get("components", {}).get("schemas", {})
    for name, fields in limits(settings).items():
        properties = components.get(name, {}).get("properties", {})
        for field, keywords in fields.items():
            for keyword, value in keywords.items():
                _bound(properties.get(field, {}), keyword, value)
    return schema


def add_docs(app: Any, settings: ServiceSettings) -> None:
    """The schema at ``/openapi.json`` (limits declared) and the docs page, with its assets
    served from the installed ``fastapi-offline`` package."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.openapi.utils import get_openapi
    from fastapi.staticfiles import StaticFiles

    assets = Path(require("fastapi_offline", "The offline API docs").__file__).parent / "static"
    app.mount(ASSETS, StaticFiles(directory=assets), name="docs-assets")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = declare_limits(schema, settings)
        return app.openapi_schema

    app.openapi = openapi

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title}: API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from the validator's site
        )
