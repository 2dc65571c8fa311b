"""`modelcatalog grants`: who holds which privilege on a metastore, catalog, schema or model.

Securable types and privileges are checked here against the catalog's own privilege table, so
a typo is a usage error (exit 2) that never reaches the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client.http import UC_API, segment
from modelcatalog.domain import privileges as pv
from modelcatalog.domain.privileges import Privilege

app = typer.Typer(
    help="Grants: privileges on the metastore, catalogs, schemas and models. A grant on a "
    "catalog or schema covers what is inside it, present and future.",
    no_args_is_help=True,
)

#: How a securable type is written in a GRANT statement.
_SQL_WORD = {
    pv.METASTORE: "METASTORE",
    pv.CATALOG: "CATALOG",
    pv.SCHEMA: "SCHEMA",
    pv.MODEL: "MODEL",
}
#: Spellings people use for a securable type, beyond the wire names.
_TYPE_SPELLINGS = {**{t: t for t in pv.SECURABLE_TYPES}, "model": pv.MODEL}
_TYPE_WORDS = "metastore, catalog, schema or registered_model (or model)"
_BY_WORDS = {tuple(p.value.split()): p for p in Privilege}
_LONGEST = max(len(words) for words in _BY_WORDS)


@dataclass(frozen=True)
class Securable:
    """A securable named on the command line: its wire type and full name."""

    type: str
    full_name: str

    @property
    def sql(self) -> str:
        """As a GRANT statement names it: `CATALOG main`, `METASTORE`."""
        word = _SQL_WORD[self.type]
        return word if self.type == pv.METASTORE else f"{word} {self.full_name}"

    def path(self, view: str = "permissions") -> str:
        return f"{UC_API}/{view}/{self.type}/{segment(self.full_name)}"


def securable(securable_type: str, full_name: str) -> Securable:
    """Check a securable type and a full name of the shape that type needs."""
    kind = _TYPE_SPELLINGS.get(securable_type.strip().lower().replace("-", "_"))
    if kind is None:
        raise typer.BadParameter(
            f"'{securable_type}' is not a securable type; expected {_TYPE_WORDS}.",
            param_hint="'SECURABLE_TYPE'",
        )
    hint = "'FULL_NAME'"
    if kind == pv.METASTORE:
        if full_name.strip().lower() != pv.METASTORE_ID:
            raise typer.BadParameter(
                f"'{full_name}' is not the metastore: there is one, named '{pv.METASTORE_ID}'.",
                param_hint=hint,
            )
        return Securable(kind, pv.METASTORE_ID)
    if kind == pv.CATALOG:
        return Securable(kind, remote.catalog_name(full_name, hint))
    if kind == pv.SCHEMA:
        return Securable(kind, ".".join(remote.schema_full_name(full_name, hint)))
    return Securable(kind, ".".join(remote.model_full_name(full_name, hint)))


def privileges(values: Sequence[str], securable_type: str) -> list[Privilege]:
    """Privileges from words as people type them: `USE CATALOG` quoted or as two words,
    `USE_CATALOG`, `use_catalog`; each must be grantable on the securable type."""
    words = [w for value in values for w in value.replace("_", " ").upper().split()]
    allowed = (*pv.GRANTABLE[securable_type], Privilege.ALL_PRIVILEGES)
    allowed_text = ", ".join(p.value for p in allowed)
    found: list[Privilege] = []
    start = 0
    while start < len(words):
        # The longest known privilege starting here, so that CREATE MODEL VERSION is not
        # read as CREATE MODEL followed by a stray VERSION.
        for size in range(min(_LONGEST, len(words) - start), 0, -1):
            privilege = _BY_WORDS.get(tuple(words[start : start + size]))
            if privilege is not None:
                break
        else:
            unknown = " ".join(words[start : start + _LONGEST])
            raise typer.BadParameter(
                f"'{unknown}' is not a privilege; on a {securable_type} you can grant "
                f"{allowed_text} (with spaces or underscores, any case).",
                param_hint="'PRIVILEGE...'",
            )
        if privilege not in allowed:
            raise typer.BadParameter(
                f"{privilege.value} cannot be granted on a {securable_type}; on a "
                f"{securable_type} you can grant {allowed_text}.",
                param_hint="'PRIVILEGE...'",
            )
        if privilege not in found:
            found.append(privilege)
        start += size
    if not found:
        raise typer.BadParameter(
            f"name at least one privilege; on a {securable_type} you can grant {allowed_text}.",
            param_hint="'PRIVILEGE...'",
        )
    return found


def _principal(value: str) -> str:
    if not value.strip():
        raise typer.BadParameter("a principal's name is required.", param_hint="'PRINCIPAL'")
    return value


SecurableTypeArgument = Annotated[
    str,
    typer.Argument(
        metavar="SECURABLE_TYPE",
        help="metastore, catalog, schema or registered_model (model for short).",
        show_default=False,
    ),
]
FullNameArgument = Annotated[
    str,
    typer.Argument(
        metavar="FULL_NAME",
        help="CATALOG, CATALOG.SCHEMA or CATALOG.SCHEMA.MODEL; for the metastore: metastore.",
        show_default=False,
    ),
]
PrincipalArgument = Annotated[
    str,
    typer.Argument(
        metavar="PRINCIPAL", help="A user, service principal or group.", show_default=False
    ),
]
PrivilegesArgument = Annotated[
    list[str],
    typer.Argument(
        metavar="PRIVILEGE...",
        help="One or more privileges: EXECUTE, 'USE CATALOG' or USE_CATALOG, any case.",
        show_default=False,
    ),
]


def _listed(assignment: dict[str, Any]) -> str:
    return ", ".join(assignment.get("privileges") or [])


PLAIN_COLUMNS: list[remote.Column] = [("principal", "principal"), ("privileges", _listed)]
EFFECTIVE_COLUMNS: list[remote.Column] = [
    ("principal", "principal"),
    ("privilege", "privilege"),
    ("source", "source"),
    ("through groups", "through"),
]
#: An owned container's type, told by its name (name parts never contain dots).
_OWNED_TYPE = {0: pv.CATALOG, 1: pv.SCHEMA, 2: pv.MODEL}


def effective_rows(assignments: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One row per privilege a principal holds, saying where it comes from, and one per
    ownership."""
    rows = []
    for assignment in assignments:
        principal = str(assignment.get("principal", ""))
        owned = assignment.get("owner_of")
        if owned:
            owned_type = _OWNED_TYPE.get(str(owned).count("."), "securable")
            rows.append(
                {
                    "principal": principal,
                    "privilege": "OWNER",
                    "source": f"owner of {owned_type} {owned}",
                    "through": "",
                }
            )
        for held in assignment.get("privileges") or []:
            inherited = held.get("inherited_from_name")
            rows.append(
                {
                    "principal": principal,
                    "privilege": str(held.get("privilege", "")),
                    "source": (
                        f"inherited from {held.get('inherited_from_type')} {inherited}"
                        if inherited
                        else "direct"
                    ),
                    "through": " → ".join(held.get("via_groups") or []),
                }
            )
    return rows


@app.command("get")
@app.command("show", hidden=True)  # the earlier name, kept working
def show(
    securable_type: SecurableTypeArgument,
    full_name: FullNameArgument,
    principal: Annotated[
        str | None,
        typer.Option("--principal", help="Only this principal's grants.", show_default=False),
    ] = None,
    effective: Annotated[
        bool,
        typer.Option(
            "--effective",
            help="Every privilege that reaches the securable, with where it comes from: "
            "granted on it directly or inherited from a catalog or schema, to the principal "
            "or through which groups; and who owns it or a container above it.",
        ),
    ] = False,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Show the grants made on a securable, or with --effective all that reach it.

    Owners, MANAGE holders and metastore admins see everyone's; others see their own.
    """
    target = securable(securable_type, full_name)
    who = _principal(principal) if principal is not None else None
    with remote.connect(url) as client:
        found = client.get(
            target.path("effective-permissions" if effective else "permissions"), principal=who
        )
    assignments = found.get("privilege_assignments") or []
    if not effective:
        remote.print_list(assignments, PLAIN_COLUMNS, output, "privilege_assignments")
    elif output is OutputFormat.json:
        remote.print_json(found)
    else:
        remote.print_list(effective_rows(assignments), EFFECTIVE_COLUMNS, output, "privileges")


def _change(
    verb: str,
    securable_type: str,
    full_name: str,
    principal: str,
    words: list[str],
    url: str | None,
    output: OutputFormat,
) -> None:
    target = securable(securable_type, full_name)
    grantee = _principal(principal)
    chosen = privileges(words, target.type)
    names = [p.value for p in chosen]
    change: dict[str, Any] = {"principal": grantee, "add": [], "remove": []}
    change["add" if verb == "GRANT" else "remove"] = names
    with remote.connect(url) as client:
        answer = client.patch(target.path(), {"changes": [change]})
    if output is OutputFormat.json:
        remote.print_json(answer)
        return
    preposition = "TO" if verb == "GRANT" else "FROM"
    remote.done(f"{verb} {', '.join(names)} ON {target.sql} {preposition} {grantee}")


@app.command("grant")
def grant(
    securable_type: SecurableTypeArgument,
    full_name: FullNameArgument,
    principal: PrincipalArgument,
    privilege: PrivilegesArgument,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Grant privileges to a principal (the owner, a MANAGE holder or a metastore admin).

    Prints the statement applied, e.g. GRANT EXECUTE ON MODEL main.default.churn TO data-science.
    """
    _change("GRANT", securable_type, full_name, principal, privilege, url, output)


@app.command("revoke")
def revoke(
    securable_type: SecurableTypeArgument,
    full_name: FullNameArgument,
    principal: PrincipalArgument,
    privilege: PrivilegesArgument,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Revoke privileges granted on this securable.

    A privilege inherited from a catalog or schema stays until revoked there (see --effective).
    """
    _change("REVOKE", securable_type, full_name, principal, privilege, url, output)
