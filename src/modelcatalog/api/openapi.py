"""The OpenAPI description: what each route reads and answers, written into /openapi.json.

Routers read their fields by hand (`api/requests.py`), the way stock clients send them, so
FastAPI sees none of them. Each route therefore carries an `Operation` (through `@described`),
declared once in its dialect's module (`uc_openapi`, `registry_openapi`, `native_openapi`,
`jobs_openapi`); `install` puts them in the document in place of what FastAPI inferred.

Bodies accept fields they do not know: clients send more than a route reads, and the server
ignores the rest (once their text has passed the text rules, `openapi_text`). Every string a
request carries is described with the text rule of its field there, so no dialect module repeats
them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from modelcatalog.api import openapi_text
from modelcatalog.api.openapi_text import BLANK
from modelcatalog.domain import rules

JSON = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])

COMPONENTS: dict[str, JSON] = {}
"""Named schemas, filled as the dialect modules declare them."""


def component(name: str, schema: JSON) -> JSON:
    """Register a named schema and return a reference to it."""
    COMPONENTS[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def string(description: str | None = None, **keywords: Any) -> JSON:
    return _with({"type": "string", **keywords}, description)


def integer(description: str | None = None, **keywords: Any) -> JSON:
    return _with({"type": "integer", **keywords}, description)


def boolean(description: str | None = None) -> JSON:
    return _with({"type": "boolean"}, description)


def array(items: JSON, description: str | None = None, **keywords: Any) -> JSON:
    return _with({"type": "array", "items": items, **keywords}, description)


def nullable(schema: JSON) -> JSON:
    """`schema` or JSON null."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(
    properties: Mapping[str, JSON],
    required: tuple[str, ...] = (),
    description: str | None = None,
    *,
    extra: bool | JSON = True,
) -> JSON:
    """A JSON object; unknown properties are accepted unless `extra` says otherwise."""
    schema: JSON = {"type": "object", "properties": dict(properties)}
    if required:
        schema["required"] = list(required)
    schema["additionalProperties"] = extra
    return _with(schema, description)


def _with(schema: JSON, description: str | None) -> JSON:
    if description:
        schema["description"] = description
    return schema


EMPTY = obj({}, description="An empty object.")
component(openapi_text.UNREAD_NAME, openapi_text.UNREAD_SCHEMA)

ERROR = component(
    "Error",
    obj(
        {
            "error_code": string(
                "RESOURCE_DOES_NOT_EXIST, RESOURCE_ALREADY_EXISTS, INVALID_PARAMETER_VALUE or "
                "INVALID_STATE on /api/2.0/mlflow (the Files API says NOT_FOUND); NOT_FOUND, "
                "ALREADY_EXISTS, INVALID_ARGUMENT or FAILED_PRECONDITION elsewhere; "
                "UNAUTHENTICATED and PERMISSION_DENIED on every dialect."
            ),
            "message": string("What went wrong, naming the field and what it allows."),
        },
        ("error_code", "message"),
        "An error, in the shape every dialect's clients read.",
    ),
)

ERROR_MEANINGS = {
    400: "A field is missing or malformed (the message names it), or the object is not in a "
    "state that allows the request.",
    401: "No valid bearer token came with the request.",
    403: "The caller may not do this.",
    404: "The object does not exist, or the caller may not see it.",
    409: "An object of that name exists already, a concurrent change won a race with the request "
    "(which changed nothing and may be sent again), or the object must be emptied first (a model "
    "that still has versions, deleted without force).",
    413: "The request body is larger than the server accepts (its --max-request-bytes).",
    429: "Too many failed authentications from this client; retry later.",
    503: "The server cannot serve the request now; retry later.",
}

COMMON_ERRORS = (400, 401, 403, 404, 429, 503)
"""What any authenticated route may answer besides success."""


@dataclass(frozen=True)
class Operation:
    """What one route reads (path and query parameters, a body) and answers."""

    ok: JSON | None
    query: Mapping[str, JSON] = field(default_factory=dict)
    required_query: tuple[str, ...] = ()
    path: Mapping[str, JSON] = field(default_factory=dict)
    body: JSON | None = None
    body_required: bool = False
    body_media: str = "application/json"
    ok_media: str = "application/json"
    ok_description: str = "Success."
    errors: tuple[int, ...] = COMMON_ERRORS
    bearer: bool = True

    def document(self, inferred: JSON, variant: str = "") -> JSON:
        """The OpenAPI operation object, keeping FastAPI's summary, description and tags."""
        operation = {k: v for k, v in inferred.items() if k in ("tags", "summary", "operationId")}
        if variant:
            operation["operationId"] += f"_{variant.lower()}"
        if "description" in inferred:
            operation["description"] = inferred["description"]
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": openapi_text.in_path(schema)}
            for name, schema in self.path.items()
        ]
        for name, schema in self.query.items():
            required = name in self.required_query
            if not required:  # an optional parameter sent empty is read as absent
                schema = {"anyOf": [schema, string("Empty: as if absent.", maxLength=0)]}
            schema = openapi_text.with_text_rules(schema, name)
            parameters.append({"name": name, "in": "query", "required": required, "schema": schema})
        if parameters:
            operation["parameters"] = parameters
        errors = self.errors
        if self.body is not None:
            body = self.body
            if self.body_media == "application/json":
                body = openapi_text.with_text_rules(body, "")
                errors = tuple(sorted({*errors, 413}))
            operation["requestBody"] = {
                "required": self.body_required,
                "content": {self.body_media: {"schema": body}},
            }
        ok: JSON = {"description": self.ok_description}
        if self.ok is not None:
            ok["content"] = {self.ok_media: {"schema": self.ok}}
        responses: JSON = {"200": ok}
        for status in errors:
            responses[str(status)] = {
                "description": ERROR_MEANINGS[status],
                "content": {"application/json": {"schema": ERROR}},
            }
        operation["responses"] = responses
        operation["security"] = [{"bearer": []}] if self.bearer else []
        return operation


def described(
    operation: Operation | None = None, *, per: str = "", variants: Mapping[str, Operation] = {}
) -> Callable[[F], F]:
    """Attach an `Operation` to a route's endpoint for `install` to publish.

    With `per` and `variants`, the route is documented as one concrete path per value of the
    path parameter `per` (when that value decides what the other fields may be)."""

    def attach(endpoint: F) -> F:
        endpoint.openapi_operation = operation  # type: ignore[attr-defined]
        endpoint.openapi_variants = (per, dict(variants))  # type: ignore[attr-defined]
        return endpoint

    return attach


def anycase(word: str) -> str:
    """A regular expression matching `word` in any case (portable: no inline flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def install(app: FastAPI) -> None:
    """Serve the described operations as /openapi.json (built once, on first request)."""

    def build() -> JSON:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every API route, also inside routers that newer FastAPI keeps included as they are (the
    routers here carry their prefix themselves and are included without one)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        else:
            yield from api_routes(getattr(getattr(route, "original_router", None), "routes", ()))


def _document(app: FastAPI) -> JSON:
    spec = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    inferred_paths, spec["paths"] = spec["paths"], {}
    for route in api_routes(app.routes):
        if not route.include_in_schema:
            continue
        operation = getattr(route.endpoint, "openapi_operation", None)
        per, variants = getattr(route.endpoint, "openapi_variants", ("", {}))
        if operation is None and not variants:
            raise RuntimeError(f"{route.path} has no OpenAPI description (@described)")
        inferred = inferred_paths[route.path_format]
        for value, variant in variants.items() or [("", operation)]:
            path = route.path_format.replace("{" + per + "}", value) if per else route.path_format
            item = spec["paths"].setdefault(path, {})
            for method in route.methods or ():
                documented = variant.document(inferred[method.lower()], value)
                if method != "GET" and variant.bearer and "409" not in documented["responses"]:
                    # Any write may lose a race with a concurrent writer: 409, never a 500.
                    documented["responses"]["409"] = {
                        "description": ERROR_MEANINGS[409],
                        "content": {"application/json": {"schema": ERROR}},
                    }
                item[method.lower()] = documented
    # The server answers bad input with 400 in the dialect's shape, never FastAPI's 422.
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(COMPONENTS)
    spec["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token (or the admin token) as a bearer token.",
        }
    }
    return spec


# Words every dialect shares -------------------------------------------------------------------

_PART = "[A-Za-z0-9_-]{1,255}"


def number_pattern(top: int, low: int = 1) -> str:
    """An unanchored regular expression of the decimal digits (leading zeros allowed) of a whole
    number from `low` (0 or 1) to `top`."""
    spelled = str(top)
    branches = [f"[1-9][0-9]{{0,{len(spelled) - 2}}}"] if len(spelled) > 1 else []
    for i, digit in enumerate(spelled):
        least = 1 if i == 0 else 0
        if int(digit) > least:  # same prefix, a smaller digit here, anything after
            rest = len(spelled) - i - 1
            branches.append(
                f"{spelled[:i]}[{least}-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else "")
            )
    branches.append(spelled)
    positive = f"0*(?:{'|'.join(branches)})"
    return positive if low else f"(?:0+|{positive})"


def stripped(core: str) -> str:
    """An anchored regular expression of `core` with the blanks around it the server strips."""
    return f"^{BLANK}*(?:{core}){BLANK}*$"


NAME = string(
    "A name: 1 to 255 letters, digits, '_' or '-'; compared case-insensitively.",
    pattern=f"^{_PART}$",
)
SCHEMA_FULL_NAME = string("`catalog.schema`.", pattern=f"^{_PART}\\.{_PART}$")
MODEL_FULL_NAME = string("`catalog.schema.model`.", pattern=f"^{_PART}\\.{_PART}\\.{_PART}$")
VERSION_DIGITS = string(
    "A version number, in decimal digits.", pattern=f"^{number_pattern(rules.MAX_VERSION)}$"
)
VERSION = {
    "anyOf": [integer(minimum=1, maximum=rules.MAX_VERSION), VERSION_DIGITS],
    "description": f"A version number from 1 to {rules.MAX_VERSION}, as a number or digits.",
}
ALIAS_WORDS = (
    "An alias: 1 to 255 letters, digits, '_' or '-'; `latest` and `v<digits>` are reserved."
)


def alias_pattern(end: str = "$") -> str:
    """An alias, unanchored, followed by `end` (what may follow it before the end)."""
    return f"(?!(?:{anycase('latest')}|[Vv][0-9]+){end})[A-Za-z0-9_-]{{1,255}}"


ALIAS = string(ALIAS_WORDS, pattern=f"^{alias_pattern()}$")
COMMENT = nullable(string("A Markdown description.", maxLength=rules.MAX_COMMENT))
TEXT = nullable(string())
TAG_KEY = string(
    "A tag key: 1 to 255 characters, none of . , - = / :",
    pattern="^[^.,\\-=/:\\x00-\\x1f\\x7f-\\x9f]{1,255}$",
)
TAG_VALUE = nullable(string("A tag value (absent means empty).", maxLength=rules.MAX_TAG_VALUE))
TAG = obj({"key": TAG_KEY, "value": TAG_VALUE}, ("key",))
TAGS = nullable(array(TAG, maxItems=rules.MAX_TAGS))
TAG_OUT = obj({"key": string(), "value": string()}, ("key", "value"))
PRINCIPAL = string(
    "A principal's name: 1 to 255 characters, starting with a letter or digit, then letters, "
    "digits, spaces or . _ @ + -",
    pattern="^[A-Za-z0-9][A-Za-z0-9 ._@+-]{0,254}$",
)
EXISTING_PRINCIPAL = string("The name of an existing principal.", format="principal")
MAX_RESULTS = integer(
    "Page size: 0 or absent means the default; larger values are clamped.", minimum=0
)
PAGE_TOKEN = string(
    "The `next_page_token` of the previous page, unchanged (empty: the first page).",
    format="page-token",
)
PAGED = {"max_results": MAX_RESULTS, "page_token": PAGE_TOKEN}
FLAG = string("`true`, `1` or `yes` (any case) mean true; anything else false.")
MILLIS = integer("Milliseconds since the epoch.")


AWS_TEMP_CREDENTIALS = obj(
    {
        "access_key_id": string(),
        "secret_access_key": string(),
        "session_token": string(),
    },
    ("access_key_id", "secret_access_key", "session_token"),
    "An STS session whose policy allows only the version's own prefix of the bucket (its "
    "upload folder to write, its sealed folder to read).",
)
