"""`modelcatalog users`, `service-principals` and `groups`: the directory of principals.

The three share one set of commands (create, list, show, delete), built once for each kind of
principal; users and service principals can also be made metastore admins, and groups have
members, which may be groups themselves. Changing the directory is for metastore admins.
"""

# No `from __future__ import annotations`: the commands are built once per kind of principal,
# and their annotations (help texts included) must be evaluated where they are defined.

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from modelcatalog.cli import remote, secrets
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client import CatalogClient
from modelcatalog.client.http import CATALOG_API, segment

PRINCIPALS = f"{CATALOG_API}/principals"


@dataclass(frozen=True)
class Kind:
    """One kind of principal, as the server names it and as people say it."""

    wire: str
    noun: str
    plural: str
    command: str


USER = Kind("user", "user", "users", "users")
SERVICE_PRINCIPAL = Kind(
    "service_principal", "service principal", "service principals", "service-principals"
)
GROUP = Kind("group", "group", "groups", "groups")
_BY_WIRE = {k.wire: k for k in (USER, SERVICE_PRINCIPAL, GROUP)}


def _joined(key: str) -> Any:
    return lambda p: ", ".join(p.get(key) or [])


def _admin(principal: dict[str, Any]) -> str:
    return "yes" if principal.get("is_admin") else "no"


def _columns(kind: Kind) -> list[remote.Column]:
    if kind is GROUP:
        return [
            ("name", "name"),
            ("members", _joined("members")),
            ("member of", _joined("groups")),
            ("created", remote.created),
        ]
    return [
        ("name", "name"),
        ("admin", _admin),
        ("member of", _joined("groups")),
        ("created", remote.created),
    ]


def _fields(kind: Kind) -> list[remote.Column]:
    fields: list[remote.Column] = [("name", "name"), ("kind", "kind")]
    if kind is GROUP:
        fields.append(("members", _joined("members")))
    else:
        fields.append(("metastore admin", _admin))
    return [*fields, ("member of", _joined("groups")), ("created", remote.created)]


def _name(value: str, hint: str) -> str:
    # The naming rule itself is the server's (it answers with the exact rule); an empty name
    # would change the route, so it is caught here.
    if not value.strip():
        raise typer.BadParameter("a principal's name is required.", param_hint=hint)
    return value


def _path(name: str) -> str:
    return f"{PRINCIPALS}/{segment(name)}"


def fetch(client: CatalogClient, name: str, kind: Kind) -> dict[str, Any]:
    """Read a principal and make sure it is of the kind the command is about."""
    found = client.get(_path(name))
    actual = _BY_WIRE.get(str(found.get("kind")))
    if actual is not kind:
        shown = actual.noun if actual else str(found.get("kind"))
        hint = f"; use `modelcatalog {actual.command}`" if actual else ""
        raise remote.fail(f"'{name}' is a {shown}, not a {kind.noun}{hint}.")
    return found


def _directory_app(kind: Kind, help_text: str) -> typer.Typer:
    """The commands every kind of principal has: create, list, show, delete."""
    app = typer.Typer(help=help_text, no_args_is_help=True)
    name_argument = Annotated[
        str, typer.Argument(metavar="NAME", help=f"The {kind.noun}'s name.", show_default=False)
    ]

    @app.command("create", help=f"Add a {kind.noun} to the directory (metastore admins).")
    def create(
        name: name_argument, url: UrlOption = None, output: OutputOption = OutputFormat.text
    ) -> None:
        checked = _name(name, "'NAME'")
        with remote.connect(url) as client:
            created = client.post(PRINCIPALS, {"name": checked, "kind": kind.wire})
        remote.print_object(created, _fields(kind), output)

    @app.command("list", help=f"List the {kind.plural}, with the groups each belongs to.")
    def list_(
        name_contains: Annotated[
            str | None,
            typer.Option(
                "--name-contains",
                help="Only names containing this text (any case).",
                show_default=False,
            ),
        ] = None,
        url: UrlOption = None,
        output: OutputOption = OutputFormat.text,
    ) -> None:
        with remote.connect(url) as client:
            found = client.get(PRINCIPALS, kind=kind.wire, name_contains=name_contains or None)
        remote.print_list(found.get("principals") or [], _columns(kind), output, "principals")

    shown = (
        "its direct members and the groups it belongs to"
        if kind is GROUP
        else "whether it is a metastore admin, and the groups it belongs to"
    )

    @app.command("get", help=f"Show a {kind.noun}: {shown}.")
    @app.command("show", hidden=True)  # the earlier name, kept working
    def show(
        name: name_argument, url: UrlOption = None, output: OutputOption = OutputFormat.text
    ) -> None:
        checked = _name(name, "'NAME'")
        with remote.connect(url) as client:
            found = fetch(client, checked, kind)
        remote.print_object(found, _fields(kind), output)

    @app.command(
        "delete",
        help=(
            f"Remove a {kind.noun} with its tokens, memberships and grants (metastore admins). "
            "Refused while it owns a catalog, schema or model: transfer those first."
        ),
    )
    def delete(name: name_argument, url: UrlOption = None) -> None:
        checked = _name(name, "'NAME'")
        with remote.connect(url) as client:
            fetch(client, checked, kind)
            client.delete(_path(checked))
        remote.done(f"Deleted {kind.noun} {checked}.")

    if kind is not GROUP:
        _add_set_admin(app, kind, name_argument)
    return app


def _add_set_admin(app: typer.Typer, kind: Kind, name_argument: Any) -> None:
    @app.command(
        "set-admin",
        help=(
            f"Make a {kind.noun} a metastore admin (--admin), or no longer one (--no-admin). "
            "Metastore admins can do anything; the last one cannot be removed."
        ),
    )
    def set_admin(
        name: name_argument,
        admin: Annotated[
            bool,
            typer.Option(
                "--admin/--no-admin",
                help="Make a metastore admin, or no longer one.",
                show_default=False,
            ),
        ],
        url: UrlOption = None,
        output: OutputOption = OutputFormat.text,
    ) -> None:
        checked = _name(name, "'NAME'")
        with remote.connect(url) as client:
            fetch(client, checked, kind)
            updated = client.patch(_path(checked), {"is_admin": admin})
        if output is OutputFormat.json:
            remote.print_json(updated)
        else:
            remote.done(
                f"{checked} is now a metastore admin."
                if admin
                else f"{checked} is no longer a metastore admin."
            )


users = _directory_app(USER, "Users: people who sign in with their own tokens.")
service_principals = _directory_app(
    SERVICE_PRINCIPAL, "Service principals: identities for jobs, pipelines and other automation."
)
service_principals.add_typer(secrets.app, name="secrets")
groups = _directory_app(
    GROUP,
    "Groups of users, service principals and other groups; a grant to a group reaches every "
    "member, at any depth.",
)

GroupArgument = Annotated[
    str, typer.Argument(metavar="GROUP", help="The group's name.", show_default=False)
]
MemberArgument = Annotated[
    str,
    typer.Argument(
        metavar="PRINCIPAL",
        help="A user, service principal or group.",
        show_default=False,
    ),
]


@groups.command("add-member")
def add_member(
    group: GroupArgument,
    member: MemberArgument,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Put a principal into a group (a group too, as long as no group ends up inside itself)."""
    group_name, member_name = _name(group, "'GROUP'"), _name(member, "'PRINCIPAL'")
    with remote.connect(url) as client:
        updated = client.post(f"{_path(group_name)}/members", {"member": member_name})
    if output is OutputFormat.json:
        remote.print_json(updated)
    else:
        remote.done(f"Added {member_name} to group {group_name}.")


@groups.command("remove-member")
def remove_member(
    group: GroupArgument,
    member: MemberArgument,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Take a principal out of a group."""
    group_name, member_name = _name(group, "'GROUP'"), _name(member, "'PRINCIPAL'")
    with remote.connect(url) as client:
        updated = client.delete(f"{_path(group_name)}/members/{segment(member_name)}")
    if output is OutputFormat.json:
        remote.print_json(updated)
    else:
        remote.done(f"Removed {member_name} from group {group_name}.")
