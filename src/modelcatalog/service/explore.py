"""Finding models from one search box: by name, tag key or value, owner or description, with
filters, among the models the caller may see; each result says why it matched."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from modelcatalog.domain import rules
from modelcatalog.errors import InvalidParameter
from modelcatalog.service import paging
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import runs
from modelcatalog.service.models import model_page, visible_models
from modelcatalog.service.views import ModelView
from modelcatalog.store import tables as t

MAX_QUERY = 200


@dataclass(frozen=True)
class Filters:
    """What narrows a search besides its words (each optional)."""

    catalog: str | None = None
    schema: str | None = None
    owner: str | None = None
    #: A tag key, or `key=value`.
    tag: str | None = None
    has_alias: bool = False
    #: A deployment run state (runs.RUN_STATES): models with a run in that state.
    deployment_state: str | None = None


@dataclass(frozen=True)
class Found:
    """A model that matched, and where the words were found: name, tag key, tag value,
    owner, description."""

    model: ModelView
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Results:
    items: list[Found]
    next_page_token: str | None


def _like(text: str) -> str:
    """A LIKE pattern for text found anywhere, its own % and _ taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _tag_exists(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(
        t.Tag.securable_type == "registered_model",
        t.Tag.securable_id == t.RegisteredModel.id,
        *conditions,
    )


def _reasons(view: ModelView, words: str) -> tuple[str, ...]:
    found = []
    if words in view.name.lower():
        found.append("name")
    if any(words in key.lower() for key in view.tags):
        found.append("tag key")
    if any(words in value.lower() for value in view.tags.values()):
        found.append("tag value")
    if words in view.owner.lower():
        found.append("owner")
    if view.comment and words in view.comment.lower():
        found.append("description")
    return tuple(found)


@audited("searchCatalog")
def search(
    ctx: ServiceContext,
    caller: Caller,
    words: object = None,
    filters: Filters | None = None,
    *,
    max_results: object = None,
    page_token: object = None,
) -> Results:
    """Models the caller may see whose name, tag keys or values, owner or description contain
    `words` (any case), within `filters`, ordered by full name and keyset-paged."""
    if words is not None and not isinstance(words, str):
        raise InvalidParameter("'q' must be text.", "q")
    text = (words or "").strip().lower()
    if len(text) > MAX_QUERY:
        raise InvalidParameter(
            f"'q' is {len(text)} characters long; a search is at most {MAX_QUERY}.", "q"
        )
    filters = filters or Filters()
    size = paging.page_size(max_results, 50)
    after = paging.decode(page_token, (str, str, str))
    with ctx.db.read() as session:
        query, visible = visible_models(ctx, session, caller)
        if text:
            pattern = _like(text)
            query = query.where(
                or_(
                    t.RegisteredModel.name.like(pattern, escape="\\"),
                    func.lower(t.RegisteredModel.owner).like(pattern, escape="\\"),
                    func.lower(t.RegisteredModel.comment).like(pattern, escape="\\"),
                    # The tags that match, found once, rather than a lookup per model.
                    t.RegisteredModel.id.in_(
                        select(t.Tag.securable_id).where(
                            t.Tag.securable_type == "registered_model",
                            or_(
                                func.lower(t.Tag.key).like(pattern, escape="\\"),
                                func.lower(t.Tag.value).like(pattern, escape="\\"),
                            ),
                        )
                    ),
                )
            )
        catalog = rules.name_part(filters.catalog, "catalog") if filters.catalog else None
        schema = rules.name_part(filters.schema, "schema") if filters.schema else None
        if filters.owner:
            query = query.where(t.RegisteredModel.owner == filters.owner)
        if filters.tag:
            key, has_value, value = filters.tag.partition("=")
            condition = [t.Tag.key == key.strip()]
            if has_value:
                condition.append(t.Tag.value == value.strip())
            query = query.where(_tag_exists(*condition))
        if filters.deployment_state:
            state = filters.deployment_state.upper()
            if state not in runs.RUN_STATES:
                raise InvalidParameter(
                    f"'deployment' is {filters.deployment_state!r}; expected one of "
                    f"{', '.join(runs.RUN_STATES)}.",
                    "deployment",
                )
            query = query.where(
                exists().where(t.JobRun.model_id == t.RegisteredModel.id, t.JobRun.state == state)
            )
        if filters.has_alias:
            query = query.where(exists().where(t.ModelAlias.model_id == t.RegisteredModel.id))
        page = model_page(
            ctx, session, query, size, after, catalog=catalog, schema=schema, visible=visible
        )
    found = [Found(v, _reasons(v, text) if text else ()) for v in page.items]
    return Results(found, page.next_page_token)
