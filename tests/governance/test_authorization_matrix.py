"""The authorization matrix: every operation the privilege table governs, through every wire
dialect that reaches it, tried by every kind of principal, against the outcome DESIGN.md's
privilege table predicts; and every request of the matrix leaves exactly one audit record with
the matching outcome.

The operations come from the service's own table (`service/operations.py` OPERATIONS, built from
what each operation declares), so an operation added without a matrix entry fails here. What
each one should need is written below from DESIGN.md (`NEEDS`), not read from the declarations,
so a wrong declaration fails too: against `NEEDS` directly, and through the server."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import httpx
import pytest

import modelcatalog.app  # noqa: F401  (imports every module that declares an operation)
from modelcatalog.domain import privileges as pv
from modelcatalog.service.operations import OPERATIONS, Requirement
from support.governance import (
    NATIVE,
    UC,
    add_member,
    add_principal,
    grant,
    records_of_request,
    token_for,
)
from support.http import ok
from support.models import SIGNED_MLMODEL
from support.versions import REGISTRY_2_0, create_version, files_path, put_file, ready_version

# Grants are read through each database's queries; the audit record lands in the same transaction.
pytestmark = pytest.mark.both_databases

OWNER = "OWNER"
METASTORE, CATALOG, SCHEMA, MODEL = "metastore", "catalog", "schema", "registered_model"
LEVELS = (METASTORE, CATALOG, SCHEMA, MODEL)

# What each kind of principal holds, level by level ("OWNER" = owns the object at that level).
HOLDINGS: dict[str, dict[str, set[str]]] = {
    "owner": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA"}, MODEL: {OWNER}},
    "execute": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA"}, MODEL: {"EXECUTE"}},
    "create_version": {
        CATALOG: {"USE CATALOG"},
        SCHEMA: {"USE SCHEMA"},
        MODEL: {"CREATE MODEL VERSION"},
    },
    "apply_tag": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA"}, MODEL: {"APPLY TAG"}},
    "manage": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA"}, MODEL: {"MANAGE"}},
    "create_model": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA", "CREATE MODEL"}},
    # Through a group, through a group inside a group, through a grant on the catalog.
    "group": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA"}, MODEL: {"EXECUTE"}},
    "nested_group": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA"}, MODEL: {"EXECUTE"}},
    "parent": {CATALOG: {"USE CATALOG", "USE SCHEMA", "EXECUTE"}},
    "no_usage": {MODEL: {"EXECUTE"}},
    "nobody": {},
}
KINDS = ("admin", *HOLDINGS)
GRANTABLE = {
    METASTORE: {"CREATE CATALOG"},
    CATALOG: {"USE CATALOG", "CREATE SCHEMA", "USE SCHEMA", "CREATE MODEL", "EXECUTE"}
    | {"CREATE MODEL VERSION", "APPLY TAG", "MANAGE"},
    SCHEMA: {"USE SCHEMA", "CREATE MODEL", "EXECUTE", "CREATE MODEL VERSION", "APPLY TAG"}
    | {"MANAGE"},
    MODEL: {"EXECUTE", "CREATE MODEL VERSION", "APPLY TAG", "MANAGE"},
}
USAGE = {CATALOG: "USE CATALOG", SCHEMA: "USE SCHEMA"}


def expected_status(kind: str, level: str, needs: str | None) -> int:
    """DESIGN.md's rules: grants on a container reach its children; owners and MANAGE holders
    pass every rule; usage on each container is needed; an invisible object is not found."""
    if kind == "admin":
        return 200
    holds = HOLDINGS[kind]
    depth = LEVELS.index(level)

    def effective(at: int) -> set[str]:
        found: set[str] = set()
        for above in LEVELS[: at + 1]:
            found |= holds.get(above, set())
        return found

    owner = OWNER in effective(depth)
    privileges = effective(depth) & GRANTABLE[level]
    if not owner and not privileges and level != METASTORE:  # the metastore is always seen
        return 404
    for at, container in enumerate(LEVELS[: depth + 1]):
        if container in USAGE and USAGE[container] not in effective(at) | (
            {USAGE[container]} if OWNER in effective(at) else set()
        ):
            return 403
    if owner or "MANAGE" in privileges or (needs is not None and needs in privileges):
        return 200
    return 403


@dataclass(frozen=True)
class Need:
    """What DESIGN.md's privilege table asks for: a privilege on a securable of `level`
    (`privilege` None: ownership of it or MANAGE on it)."""

    level: str
    privilege: str | None


OWNER_OR_MANAGE = None
#: An operation the privilege table does not decide: for metastore admins only, on the caller's
#: own objects, or a listing filtered to what the caller may read.
OUTSIDE = None


def _model(privilege: str | None) -> Need:
    return Need(MODEL, privilege)


# What each operation needs, by the name its audit records carry, written from DESIGN.md:
# reading model or version metadata, resolving an alias and downloading artifacts need EXECUTE;
# creating a model USE SCHEMA + CREATE MODEL; a version CREATE MODEL VERSION; a tag APPLY TAG;
# aliases, descriptions, renames, deletes, grants and deployment jobs the owner or MANAGE.
NEEDS: dict[str, Need | None] = {
    # Containers
    "createCatalog": Need(METASTORE, "CREATE CATALOG"),
    "getCatalog": Need(CATALOG, "USE CATALOG"),
    "listSchemas": Need(CATALOG, "USE CATALOG"),
    "updateCatalog": Need(CATALOG, OWNER_OR_MANAGE),
    "deleteCatalog": Need(CATALOG, OWNER_OR_MANAGE),
    "createSchema": Need(CATALOG, "CREATE SCHEMA"),
    "getSchema": Need(SCHEMA, "USE SCHEMA"),
    "updateSchema": Need(SCHEMA, OWNER_OR_MANAGE),
    "deleteSchema": Need(SCHEMA, OWNER_OR_MANAGE),
    "updateSecurableTags": Need(CATALOG, "APPLY TAG"),
    "listCatalogs": OUTSIDE,
    "listRegisteredModels": OUTSIDE,
    # Models and versions: reading
    "getRegisteredModel": _model("EXECUTE"),
    "getModelVersion": _model("EXECUTE"),
    "emitModelVersionLineage": _model("EXECUTE"),
    "listModelVersions": _model("EXECUTE"),
    "getModelVersionByAlias": _model("EXECUTE"),
    "getModelVersionManifest": _model("EXECUTE"),
    "getModelVersionSignature": _model("EXECUTE"),
    "generateTemporaryModelVersionCredentials": _model("EXECUTE"),
    "createDownloadUrl": _model("EXECUTE"),
    "listDirectory": _model("EXECUTE"),
    "searchModelVersions": OUTSIDE,
    "useSignedUrl": OUTSIDE,
    # Models and versions: writing
    "createRegisteredModel": Need(SCHEMA, "CREATE MODEL"),
    "createModelVersion": _model("CREATE MODEL VERSION"),
    "finalizeModelVersion": _model("CREATE MODEL VERSION"),
    "createUploadUrl": _model("CREATE MODEL VERSION"),
    "uploadModelVersionFiles": _model("CREATE MODEL VERSION"),
    "updateRegisteredModelTags": _model("APPLY TAG"),
    "updateModelVersionTags": _model("APPLY TAG"),
    "setRegisteredModelAlias": _model(OWNER_OR_MANAGE),
    "deleteRegisteredModelAlias": _model(OWNER_OR_MANAGE),
    "updateRegisteredModel": _model(OWNER_OR_MANAGE),
    "deleteRegisteredModel": _model(OWNER_OR_MANAGE),
    "updateModelVersion": _model(OWNER_OR_MANAGE),
    "deleteModelVersion": _model(OWNER_OR_MANAGE),
    "importModelVersion": _model(OWNER_OR_MANAGE),
    "importModelVersions": _model(OWNER_OR_MANAGE),
    # Grants
    "updatePermissions": _model(OWNER_OR_MANAGE),
    "getPermissions": OUTSIDE,
    "getEffectivePermissions": OUTSIDE,
    # Deployment jobs, runs, approvals, triggers
    "getDeploymentRun": _model("EXECUTE"),
    "listDeploymentRuns": _model("EXECUTE"),
    "listDeploymentApprovers": _model("EXECUTE"),
    "cancelDeploymentRun": _model(OWNER_OR_MANAGE),
    "repairDeploymentRun": _model(OWNER_OR_MANAGE),
    "startDeploymentRun": _model(OWNER_OR_MANAGE),
    "addDeploymentApprover": _model(OWNER_OR_MANAGE),
    "removeDeploymentApprover": _model(OWNER_OR_MANAGE),
    # Deciding needs the right to read the model; the approver list is the rest of the rule.
    "decideApprovalTask": _model("EXECUTE"),
    # A trigger reports what happens to the models of its scope: EXECUTE there.
    "createTrigger": _model("EXECUTE"),
    "listTriggers": OUTSIDE,
    "getTrigger": OUTSIDE,
    "deleteTrigger": OUTSIDE,
    "createDeploymentJob": OUTSIDE,
    "updateDeploymentJob": OUTSIDE,
    "deleteDeploymentJob": OUTSIDE,
    "getDeploymentJob": OUTSIDE,
    "listDeploymentJobs": OUTSIDE,
    "createNotificationDestination": OUTSIDE,
    "listNotificationDestinations": OUTSIDE,
    "getNotificationDestination": OUTSIDE,
    "deleteNotificationDestination": OUTSIDE,
    "testNotificationDestination": OUTSIDE,
    "listDeliveries": OUTSIDE,
    "setSmtpSettings": OUTSIDE,
    "getSmtpSettings": OUTSIDE,
    "deleteSmtpSettings": OUTSIDE,
    # Principals, tokens, the audit log
    "createPrincipal": OUTSIDE,
    "getPrincipal": OUTSIDE,
    "listPrincipals": OUTSIDE,
    "deletePrincipal": OUTSIDE,
    "updatePrincipal": OUTSIDE,
    "addGroupMember": OUTSIDE,
    "removeGroupMember": OUTSIDE,
    "createToken": OUTSIDE,
    "listTokens": OUTSIDE,
    "revokeToken": OUTSIDE,
    # OAuth for machines: secrets are an admin's to manage; a token is bought with a secret.
    "createServicePrincipalSecret": OUTSIDE,
    "listServicePrincipalSecrets": OUTSIDE,
    "deleteServicePrincipalSecret": OUTSIDE,
    "issueOAuthToken": OUTSIDE,
    # Provisioning from the identity provider (SCIM): metastore admins only.
    "scimListPrincipals": OUTSIDE,
    "scimGetPrincipal": OUTSIDE,
    "scimCreatePrincipal": OUTSIDE,
    "scimUpdatePrincipal": OUTSIDE,
    "scimDeletePrincipal": OUTSIDE,
    "queryAuditLog": OUTSIDE,
    "verifyAuditLog": OUTSIDE,
    # The web UI: its search and inbox list only what the caller may see or decide; signing in
    # and out acts on the caller's own session.
    "searchCatalog": OUTSIDE,
    "listApprovalTasks": OUTSIDE,
    "signIn": OUTSIDE,
    "signInWithProvider": OUTSIDE,
    "signOut": OUTSIDE,
}
# Branches of an operation that need something else than the operation as a whole.
BRANCH_NEEDS: dict[tuple[str, str], Need] = {
    # Writing a version's files, or listing a PENDING version's (a resumed upload).
    ("generateTemporaryModelVersionCredentials", "write"): _model("CREATE MODEL VERSION"),
    ("listDirectory", "pending"): _model("CREATE MODEL VERSION"),
    ("updateSecurableTags", "schema"): Need(SCHEMA, "APPLY TAG"),
    ("updatePermissions", CATALOG): Need(CATALOG, OWNER_OR_MANAGE),
    ("updatePermissions", SCHEMA): Need(SCHEMA, OWNER_OR_MANAGE),
    # A trigger that starts deployment runs: runs act with the model owner's rights.
    ("createTrigger", "job"): _model(OWNER_OR_MANAGE),
}


def _as_need(action: str) -> Need:
    """What a declared action asks for, in DESIGN.md's words."""
    rule = pv.ACTIONS[action]
    return Need(rule.on, rule.privilege.value if rule.privilege else OWNER_OR_MANAGE)


def disagreements(declared: Mapping[str, Requirement]) -> list[str]:
    """Where the declared operations differ from NEEDS and BRANCH_NEEDS."""
    found = []
    for name in sorted(declared):
        if name not in NEEDS:
            found.append(f"{name}: declared, but missing from NEEDS")
            continue
        requirement = declared[name]
        got = _as_need(requirement.action) if requirement.action else OUTSIDE
        if got != NEEDS[name]:
            found.append(f"{name}: declares {got}, DESIGN.md says {NEEDS[name]}")
        branches = {(name, b): _as_need(a) for b, a in requirement.branches.items()}
        expected = {key: need for key, need in BRANCH_NEEDS.items() if key[0] == name}
        if branches != expected:
            found.append(f"{name}: declares branches {branches}, DESIGN.md says {expected}")
    return found


@dataclass
class World:
    """One catalog with a schema and a model, principals of every kind, and their clients."""

    server_url: str
    catalog: str
    model: str  # catalog.s.m
    #: A model linked to a deployment job (`job`) whose one task is an approval.
    deployed: str
    job: str
    #: A notification destination a trigger may name.
    destination: str
    #: A run of `deployed` (it waits for approval).
    run_id: str
    admin: httpx.Client
    clients: dict[str, httpx.Client]
    #: Kind of principal → that principal's name.
    names: dict[str, str]

    @property
    def schema(self) -> str:
        return f"{self.catalog}.s"


def apply_model_rights(admin: httpx.Client, world_names: dict[str, str], model: str) -> None:
    """Grant on `model` what HOLDINGS says each principal holds at the model level."""
    for kind, name in world_names.items():
        for privilege in HOLDINGS[kind].get(MODEL, set()) - {OWNER}:
            if kind in ("group", "nested_group"):
                continue  # held through the group, granted below
            grant(admin, MODEL, model, name, privilege)
    grant(admin, MODEL, model, world_names["group"] + "-team", "EXECUTE")
    ok(admin.patch(f"{UC}/models/{model}", json={"owner": world_names["owner"]}))


@pytest.fixture(scope="module")
def world(server) -> Iterator[World]:  # type: ignore[no-untyped-def]
    admin = httpx.Client(base_url=server.url, headers=server.headers(), timeout=60)
    tag = uuid.uuid4().hex[:8]
    catalog = f"gov_{tag}"
    ok(admin.post(f"{UC}/catalogs", json={"name": catalog}))
    ok(admin.post(f"{UC}/schemas", json={"name": "s", "catalog_name": catalog}))
    model = f"{catalog}.s.m"
    ok(admin.post(f"{UC}/models", json={"catalog_name": catalog, "schema_name": "s", "name": "m"}))
    ready_version(admin, model)
    ok(admin.put(f"{UC}/models/{model}/aliases/champion", json={"version_num": 1}))

    job = f"approve_{tag}"
    definition = f"name: {job}\ntasks:\n  - name: approval\n    approval: {{}}\n"
    ok(admin.post(f"{NATIVE}/jobs", json={"definition": definition}))
    deployed = f"{catalog}.s.deployed"
    ok(
        admin.post(
            f"{UC}/models",
            json={"catalog_name": catalog, "schema_name": "s", "name": "deployed"},
        )
    )
    ok(admin.patch(f"{UC}/models/{deployed}", json={"deployment_job_id": job}))
    destination = f"mail_{tag}"
    ok(
        admin.post(
            f"{NATIVE}/notification-destinations",
            json={"name": destination, "kind": "email", "address": "ops@example.com"},
        )
    )

    names = {kind: f"{kind}-{tag}" for kind in HOLDINGS}
    for name in names.values():
        add_principal(admin, name)
    team, inner = names["group"] + "-team", names["nested_group"] + "-inner"
    add_principal(admin, team, "group")
    add_principal(admin, inner, "group")
    add_member(admin, team, names["group"])
    add_member(admin, team, inner)
    add_member(admin, inner, names["nested_group"])
    for kind, name in names.items():
        holder = team if kind in ("group", "nested_group") else name
        for level, full_name in ((CATALOG, catalog), (SCHEMA, f"{catalog}.s")):
            if HOLDINGS[kind].get(level):
                grant(admin, level, full_name, holder, *sorted(HOLDINGS[kind][level]))
    apply_model_rights(admin, names, model)
    apply_model_rights(admin, names, deployed)
    run_id = _run_of(admin, deployed, ready_version(admin, deployed))

    clients = {"admin": admin}
    for kind, name in names.items():
        clients[kind] = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {token_for(admin, name)}"},
            timeout=60,
        )
    yield World(
        server.url, catalog, model, deployed, job, destination, run_id, admin, clients, names
    )
    for client in clients.values():
        client.close()


Request = Callable[[httpx.Client, World, str], httpx.Response]


@dataclass(frozen=True)
class Case:
    """One request of the matrix: `operation` (and its `branch`) through one dialect."""

    name: str
    operation: str
    send: Request
    branch: str | None = None
    #: What the request needs when the operation adds a rule of its own to the table's.
    expect: Need | None = None
    #: The records a successful request adds, one per object it changed, after its own.
    items: tuple[str, ...] = ()

    @property
    def need(self) -> Need:
        if self.expect is not None:
            return self.expect
        need = (
            NEEDS[self.operation]
            if self.branch is None
            else BRANCH_NEEDS[(self.operation, self.branch)]
        )
        assert need is not None, f"{self.operation} is outside the privilege table"
        return need


def _run_of(admin: httpx.Client, model: str, version: str) -> str:
    """The run a READY version of a linked model started."""
    runs = ok(admin.get(f"{NATIVE}/models/{model}/deployment-runs", params={"version": version}))
    return runs["runs"][0]["run_id"]


def _fresh_run(world: World) -> str:
    return _run_of(world.admin, world.deployed, ready_version(world.admin, world.deployed))


def _ended_run(world: World) -> str:
    """A cancelled run, whose version has no other run in progress."""
    run_id = _fresh_run(world)
    ok(world.admin.post(f"{NATIVE}/deployment-runs/{run_id}/cancel"))
    return run_id


def _version_without_run(world: World) -> str:
    """A READY version of the deployed model whose automatic run was cancelled."""
    version = ready_version(world.admin, world.deployed)
    run_id = _run_of(world.admin, world.deployed, version)
    ok(world.admin.post(f"{NATIVE}/deployment-runs/{run_id}/cancel"))
    return version


def _holder(world: World, kind: str) -> str:
    """Who holds a kind's grants: the principal itself, or its group."""
    return (
        world.names["group"] + "-team" if kind in ("group", "nested_group") else world.names[kind]
    )


def _fresh_catalog(world: World, kind: str) -> str:
    """A new catalog where `kind` holds what HOLDINGS gives it on catalogs."""
    name = f"gone_{uuid.uuid4().hex[:8]}"
    ok(world.admin.post(f"{UC}/catalogs", json={"name": name}))
    if kind != "admin" and HOLDINGS[kind].get(CATALOG):
        grant(world.admin, CATALOG, name, _holder(world, kind), *sorted(HOLDINGS[kind][CATALOG]))
    return name


def _fresh_schema(world: World, kind: str) -> str:
    """A new schema of the world's catalog where `kind` holds what HOLDINGS gives it on
    schemas."""
    short = f"gone_{uuid.uuid4().hex[:8]}"
    name = f"{world.catalog}.{short}"
    ok(world.admin.post(f"{UC}/schemas", json={"catalog_name": world.catalog, "name": short}))
    if kind != "admin" and HOLDINGS[kind].get(SCHEMA):
        grant(world.admin, SCHEMA, name, _holder(world, kind), *sorted(HOLDINGS[kind][SCHEMA]))
    return name


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, data in files.items():
            member = tarfile.TarInfo(path)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def _import_tar(number: int) -> bytes:
    """An import call's archive carrying one signed version, `number`."""
    mlmodel = SIGNED_MLMODEL.encode()
    described = {
        "versions": [
            {
                "version": number,
                "origin": {"registry": "sqlite:///src.db", "model": "m", "version": str(number)},
            }
        ]
    }
    digests = {str(number): {"MLmodel": hashlib.sha256(mlmodel).hexdigest()}}
    return _tar(
        {
            "versions.json": json.dumps(described).encode(),
            f"{number}/MLmodel": mlmodel,
            "sha256.json": json.dumps(digests).encode(),
        }
    )


def _trigger(world: World, **action: object) -> dict:
    """A trigger on the world's model that never fires (the model exists already)."""
    return {
        "name": f"t_{uuid.uuid4().hex[:8]}",
        "scope_type": MODEL,
        "scope": world.model,
        "events": ["MODEL_CREATED"],
        **action,
    }


def _fresh_version(world: World) -> str:
    return ready_version(world.admin, world.model)


def _fresh_model(world: World) -> str:
    name = f"m_{uuid.uuid4().hex[:8]}"
    full = f"{world.schema}.{name}"
    ok(
        world.admin.post(
            f"{UC}/models", json={"catalog_name": world.catalog, "schema_name": "s", "name": name}
        )
    )
    apply_model_rights(world.admin, world.names, full)
    return full


def _temp_alias(world: World) -> str:
    alias = f"t{uuid.uuid4().hex[:6]}"
    ok(world.admin.put(f"{UC}/models/{world.model}/aliases/{alias}", json={"version_num": 1}))
    return alias


def _uploaded(world: World) -> str:
    """A PENDING version whose signed MLmodel is uploaded: ready to be finalized."""
    version = create_version(world.admin, world.model)
    put_file(world.admin, world.model, version, "MLmodel", SIGNED_MLMODEL)
    return version


def _pending(world: World) -> str:
    return create_version(world.admin, world.model)


def _uc_version_body(world: World) -> dict:
    catalog, schema, model = world.model.split(".")
    return {"catalog_name": catalog, "schema_name": schema, "model_name": model}


CASES = [
    # Unity Catalog REST (2.1)
    Case("uc get model", "getRegisteredModel", lambda c, w, k: c.get(f"{UC}/models/{w.model}")),
    Case(
        "uc get version",
        "getModelVersion",
        lambda c, w, k: c.get(f"{UC}/models/{w.model}/versions/1"),
    ),
    Case(
        "uc list versions",
        "listModelVersions",
        lambda c, w, k: c.get(f"{UC}/models/{w.model}/versions"),
    ),
    Case(
        "uc resolve alias",
        "getModelVersionByAlias",
        lambda c, w, k: c.get(f"{UC}/models/{w.model}/aliases/champion"),
    ),
    Case(
        "uc read credentials",
        "generateTemporaryModelVersionCredentials",
        lambda c, w, k: c.post(
            f"{UC}/temporary-model-version-credentials",
            json={**_uc_version_body(w), "version": 1, "operation": "READ_MODEL_VERSION"},
        ),
    ),
    Case(
        "uc create version",
        "createModelVersion",
        lambda c, w, k: c.post(
            f"{UC}/models/versions", json={**_uc_version_body(w), "source": "x"}
        ),
    ),
    Case(
        "uc write credentials",
        "generateTemporaryModelVersionCredentials",
        lambda c, w, k: c.post(
            f"{UC}/temporary-model-version-credentials",
            json={
                **_uc_version_body(w),
                "version": int(_pending(w)),
                "operation": "READ_WRITE_MODEL_VERSION",
            },
        ),
        branch="write",
    ),
    Case(
        "uc set model tag",
        "updateRegisteredModelTags",
        lambda c, w, k: c.patch(
            f"{UC}/securable-tags/registered_model/{w.model}",
            json={"changes": {"add_tags": [{"key": "k", "value": k}]}},
        ),
    ),
    Case(
        "uc set version tag",
        "updateModelVersionTags",
        lambda c, w, k: c.patch(
            f"{UC}/subentity-tags/registered_model/{w.model}/1",
            json={"changes": {"add_tags": [{"key": "k", "value": k}]}},
        ),
    ),
    Case(
        "uc set alias",
        "setRegisteredModelAlias",
        lambda c, w, k: c.put(f"{UC}/models/{w.model}/aliases/challenger", json={"version_num": 1}),
    ),
    Case(
        "uc delete alias",
        "deleteRegisteredModelAlias",
        lambda c, w, k: c.delete(f"{UC}/models/{w.model}/aliases/{_temp_alias(w)}"),
    ),
    Case(
        "uc edit description",
        "updateRegisteredModel",
        lambda c, w, k: c.patch(f"{UC}/models/{w.model}", json={"comment": f"by {k}"}),
    ),
    Case(
        "uc delete version",
        "deleteModelVersion",
        lambda c, w, k: c.delete(f"{UC}/models/{w.model}/versions/{_fresh_version(w)}"),
    ),
    Case(
        "uc delete model",
        "deleteRegisteredModel",
        lambda c, w, k: c.delete(f"{UC}/models/{_fresh_model(w)}"),
    ),
    Case(
        "uc change grants",
        "updatePermissions",
        lambda c, w, k: c.patch(
            f"{UC}/permissions/registered_model/{w.model}",
            json={"changes": [{"principal": w.names["nobody"], "add": [], "remove": ["EXECUTE"]}]},
        ),
    ),
    # The model-registry dialect (2.0) that MLflow's databricks-uc store speaks
    Case(
        "2.0 get model",
        "getRegisteredModel",
        lambda c, w, k: c.get(f"{REGISTRY_2_0}/registered-models/get", params={"name": w.model}),
    ),
    Case(
        "2.0 get version",
        "getModelVersion",
        lambda c, w, k: c.get(
            f"{REGISTRY_2_0}/model-versions/get", params={"name": w.model, "version": "1"}
        ),
    ),
    Case(
        "2.0 report a reader",
        "emitModelVersionLineage",
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/model-versions/emit-lineage",
            json={
                "name": w.model,
                "version": "1",
                "model_version_lineage_info": {
                    "entities": [{"notebook": {"id": k}}],
                    "direction": "DOWNSTREAM",
                },
            },
        ),
    ),
    Case(
        "2.0 resolve alias",
        "getModelVersionByAlias",
        lambda c, w, k: c.get(
            f"{REGISTRY_2_0}/registered-models/alias", params={"name": w.model, "alias": "champion"}
        ),
    ),
    Case(
        "2.0 read credentials",
        "generateTemporaryModelVersionCredentials",
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/model-versions/generate-temporary-credentials",
            json={"name": w.model, "version": "1", "operation": "MODEL_VERSION_OPERATION_READ"},
        ),
    ),
    Case(
        "2.0 create version",
        "createModelVersion",
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/model-versions/create", json={"name": w.model, "source": "x"}
        ),
    ),
    Case(
        "2.0 set model tag",
        "updateRegisteredModelTags",
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/registered-models/set-tag",
            json={"name": w.model, "key": "k2", "value": k},
        ),
    ),
    Case(
        "2.0 set version tag",
        "updateModelVersionTags",
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/model-versions/set-tag",
            json={"name": w.model, "version": "1", "key": "k2", "value": k},
        ),
    ),
    Case(
        "2.0 set alias",
        "setRegisteredModelAlias",
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/registered-models/alias",
            json={"name": w.model, "alias": "challenger", "version": "1"},
        ),
    ),
    Case(
        "2.0 edit description",
        "updateRegisteredModel",
        lambda c, w, k: c.patch(
            f"{REGISTRY_2_0}/registered-models/update",
            json={"name": w.model, "description": f"by {k}"},
        ),
    ),
    Case(
        "2.0 finalize version",
        "finalizeModelVersion",
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/model-versions/finalize",
            json={"name": w.model, "version": _uploaded(w)},
        ),
    ),
    Case(
        "2.0 download uri",
        "getModelVersion",
        lambda c, w, k: c.get(
            f"{REGISTRY_2_0}/model-versions/get-download-uri",
            params={"name": w.model, "version": "1"},
        ),
    ),
    Case(
        "2.0 search versions",
        "searchModelVersions",
        lambda c, w, k: c.get(
            f"{REGISTRY_2_0}/model-versions/search", params={"filter": f"name = '{w.model}'"}
        ),
        # Searched by name, the search reads that one model's versions.
        expect=_model("EXECUTE"),
    ),
    Case(
        "2.0 delete version tag",
        "updateModelVersionTags",
        lambda c, w, k: c.request(
            "DELETE",
            f"{REGISTRY_2_0}/model-versions/delete-tag",
            json={"name": w.model, "version": "1", "key": "k2"},
        ),
    ),
    Case(
        "2.0 edit version description",
        "updateModelVersion",
        lambda c, w, k: c.patch(
            f"{REGISTRY_2_0}/model-versions/update",
            json={"name": w.model, "version": "1", "description": f"by {k}"},
        ),
    ),
    Case(
        "2.0 delete alias",
        "deleteRegisteredModelAlias",
        lambda c, w, k: c.request(
            "DELETE",
            f"{REGISTRY_2_0}/registered-models/alias",
            json={"name": w.model, "alias": _temp_alias(w)},
        ),
    ),
    Case(
        "2.0 delete model",
        "deleteRegisteredModel",
        lambda c, w, k: c.request(
            "DELETE", f"{REGISTRY_2_0}/registered-models/delete", json={"name": _fresh_model(w)}
        ),
    ),
    Case(
        "uc finalize version",
        "finalizeModelVersion",
        lambda c, w, k: c.patch(f"{UC}/models/{w.model}/versions/{_uploaded(w)}/finalize", json={}),
    ),
    Case(
        "uc edit version description",
        "updateModelVersion",
        lambda c, w, k: c.patch(f"{UC}/models/{w.model}/versions/1", json={"comment": k}),
    ),
    # Files API and the catalog's own additions
    Case(
        "files download url",
        "createDownloadUrl",
        lambda c, w, k: c.post(
            "/api/2.0/fs/create-download-url", json={"path": files_path(w.model, 1, "MLmodel")}
        ),
    ),
    Case(
        "files list directory",
        "listDirectory",
        lambda c, w, k: c.get(f"/api/2.0/fs/directories{files_path(w.model, 1)}"),
    ),
    Case(
        "files upload url",
        "createUploadUrl",
        lambda c, w, k: c.post(
            "/api/2.0/fs/create-upload-url",
            json={"path": files_path(w.model, _pending(w), "MLmodel")},
        ),
    ),
    Case(
        "native manifest",
        "getModelVersionManifest",
        lambda c, w, k: c.get(f"{NATIVE}/models/{w.model}/versions/1/manifest"),
    ),
    Case(
        "native signature",
        "getModelVersionSignature",
        lambda c, w, k: c.get(f"{NATIVE}/models/{w.model}/versions/1/signature"),
    ),
    Case(
        "native migration import",
        "importModelVersion",
        lambda c, w, k: c.post(
            f"{NATIVE}/migration/versions",
            json={
                "name": w.model,
                "version": 1000 + KINDS.index(k),
                "origin": {"registry": "sqlite:///src.db", "model": "m", "version": "1"},
            },
        ),
    ),
    Case(
        "native migration import call",
        "importModelVersions",
        lambda c, w, k: c.post(
            f"{NATIVE}/migration/versions/{w.model}/import",
            content=_import_tar(2000 + KINDS.index(k)),
            headers={"Content-Type": "application/x-tar"},
        ),
        items=("importModelVersion",),
    ),
    # Containers
    Case(
        "uc get catalog",
        "getCatalog",
        lambda c, w, k: c.get(f"{UC}/catalogs/{w.catalog}"),
    ),
    Case("uc get schema", "getSchema", lambda c, w, k: c.get(f"{UC}/schemas/{w.schema}")),
    Case(
        "uc create schema",
        "createSchema",
        lambda c, w, k: c.post(
            f"{UC}/schemas", json={"catalog_name": w.catalog, "name": f"s_{uuid.uuid4().hex[:6]}"}
        ),
    ),
    Case(
        "uc create model",
        "createRegisteredModel",
        lambda c, w, k: c.post(
            f"{UC}/models",
            json={
                "catalog_name": w.catalog,
                "schema_name": "s",
                "name": f"n_{uuid.uuid4().hex[:6]}",
            },
        ),
    ),
    Case(
        "uc edit catalog",
        "updateCatalog",
        lambda c, w, k: c.patch(f"{UC}/catalogs/{w.catalog}", json={"comment": k}),
    ),
    Case(
        "uc tag catalog",
        "updateSecurableTags",
        lambda c, w, k: c.patch(
            f"{UC}/securable-tags/catalog/{w.catalog}",
            json={"changes": {"add_tags": [{"key": "k", "value": k}]}},
        ),
    ),
    Case(
        "uc edit schema",
        "updateSchema",
        lambda c, w, k: c.patch(f"{UC}/schemas/{w.schema}", json={"comment": k}),
    ),
    Case(
        "uc tag schema",
        "updateSecurableTags",
        lambda c, w, k: c.patch(
            f"{UC}/securable-tags/schema/{w.schema}",
            json={"changes": {"add_tags": [{"key": "k", "value": k}]}},
        ),
        branch="schema",
    ),
    # Containers: deleting, listing, grants, and the metastore
    Case(
        "uc create catalog",
        "createCatalog",
        lambda c, w, k: c.post(f"{UC}/catalogs", json={"name": f"new_{uuid.uuid4().hex[:8]}"}),
    ),
    Case(
        "uc delete catalog",
        "deleteCatalog",
        lambda c, w, k: c.delete(f"{UC}/catalogs/{_fresh_catalog(w, k)}"),
    ),
    Case(
        "uc list schemas",
        "listSchemas",
        lambda c, w, k: c.get(f"{UC}/schemas", params={"catalog_name": w.catalog}),
    ),
    Case(
        "uc delete schema",
        "deleteSchema",
        lambda c, w, k: c.delete(f"{UC}/schemas/{_fresh_schema(w, k)}"),
    ),
    Case(
        "uc change catalog grants",
        "updatePermissions",
        lambda c, w, k: c.patch(
            f"{UC}/permissions/catalog/{w.catalog}",
            json={"changes": [{"principal": w.names["nobody"], "add": [], "remove": ["EXECUTE"]}]},
        ),
        branch=CATALOG,
    ),
    Case(
        "uc change schema grants",
        "updatePermissions",
        lambda c, w, k: c.patch(
            f"{UC}/permissions/schema/{w.schema}",
            json={"changes": [{"principal": w.names["nobody"], "add": [], "remove": ["EXECUTE"]}]},
        ),
        branch=SCHEMA,
    ),
    # Files of a PENDING version
    Case(
        "files list pending directory",
        "listDirectory",
        lambda c, w, k: c.get(f"/api/2.0/fs/directories{files_path(w.model, _uploaded(w))}"),
        branch="pending",
    ),
    Case(
        "native bulk upload",
        "uploadModelVersionFiles",
        lambda c, w, k: c.put(
            f"{NATIVE}/migration/versions/{w.model}/{_pending(w)}/files",
            content=_tar({"MLmodel": SIGNED_MLMODEL.encode()}),
            headers={"Content-Type": "application/x-tar"},
        ),
    ),
    # Deployment runs, approvals, triggers
    Case(
        "native get run",
        "getDeploymentRun",
        lambda c, w, k: c.get(f"{NATIVE}/deployment-runs/{w.run_id}"),
    ),
    Case(
        "native list runs",
        "listDeploymentRuns",
        lambda c, w, k: c.get(f"{NATIVE}/models/{w.deployed}/deployment-runs"),
    ),
    Case(
        "native cancel run",
        "cancelDeploymentRun",
        lambda c, w, k: c.post(f"{NATIVE}/deployment-runs/{_fresh_run(w)}/cancel"),
    ),
    Case(
        "native repair run",
        "repairDeploymentRun",
        lambda c, w, k: c.post(f"{NATIVE}/deployment-runs/{_ended_run(w)}/repair"),
    ),
    Case(
        "native start run",
        "startDeploymentRun",
        lambda c, w, k: c.post(
            f"{NATIVE}/models/{w.deployed}/versions/{_version_without_run(w)}/deployment-runs"
        ),
    ),
    Case(
        "native reject",
        "decideApprovalTask",
        lambda c, w, k: c.post(f"{NATIVE}/deployment-runs/{_fresh_run(w)}/tasks/approval/reject"),
        # The model names no approver: DESIGN.md's "authorised person" is then its owner or a
        # MANAGE holder (or an admin).
        expect=_model(OWNER_OR_MANAGE),
    ),
    Case(
        "native list approvers",
        "listDeploymentApprovers",
        lambda c, w, k: c.get(f"{NATIVE}/models/{w.model}/deployment-approvers"),
    ),
    Case(
        "native add approver",
        "addDeploymentApprover",
        lambda c, w, k: c.put(
            f"{NATIVE}/models/{w.model}/deployment-approvers/{w.names['nobody']}"
        ),
    ),
    Case(
        "native remove approver",
        "removeDeploymentApprover",
        lambda c, w, k: c.delete(
            f"{NATIVE}/models/{w.model}/deployment-approvers/{w.names['nobody']}"
        ),
    ),
    Case(
        "native notifying trigger",
        "createTrigger",
        lambda c, w, k: c.post(
            f"{NATIVE}/triggers", json=_trigger(w, destinations=[w.destination])
        ),
    ),
    Case(
        "native trigger starting runs",
        "createTrigger",
        lambda c, w, k: c.post(f"{NATIVE}/triggers", json=_trigger(w, job=w.job)),
        branch="job",
    ),
]


def test_every_operation_is_in_the_expected_table() -> None:
    """An operation added to the service is placed in NEEDS (or marked OUTSIDE) before it
    passes; one that disappears leaves NEEDS too."""
    assert set(OPERATIONS) == set(NEEDS)


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_each_operation_declares_what_design_md_says_it_needs(name: str) -> None:
    assert disagreements({name: OPERATIONS[name]}) == []


@pytest.mark.parametrize(
    "wrong",
    [
        {"getRegisteredModel": Requirement("tag_model")},
        {"deleteRegisteredModel": Requirement("read_model")},
        {"createRegisteredModel": Requirement("create_version")},
        {"listCatalogs": Requirement("read_catalog")},
        {"createTrigger": Requirement("read_model")},
        {"listDirectory": Requirement("read_model", {"pending": "read_model"})},
        {"shareModel": Requirement("manage_model")},
    ],
    ids=lambda wrong: next(iter(wrong)),
)
def test_a_declaration_that_disagrees_with_the_expected_table_is_caught(
    wrong: dict[str, Requirement],
) -> None:
    assert disagreements({**OPERATIONS, **wrong})


def test_the_matrix_tries_every_operation_and_branch_the_privilege_table_governs() -> None:
    governed = {(n, None) for n, r in OPERATIONS.items() if r.action is not None}
    governed |= {(n, b) for n, r in OPERATIONS.items() for b in r.branches}
    tried = {(case.operation, case.branch) for case in CASES}
    assert governed - tried == set()
    assert {case.operation for case in CASES} <= set(OPERATIONS)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_kind_of_principal_gets_what_the_privilege_table_says(
    world: World, case: Case
) -> None:
    failures = []
    need = case.need
    for kind in KINDS:
        response = case.send(world.clients[kind], world, kind)
        expected = expected_status(kind, need.level, need.privilege)
        actual = 200 if response.is_success else response.status_code
        if actual != expected:
            failures.append(
                f"{kind}: expected {expected}, got {response.status_code} {response.text}"
            )
            continue
        records = records_of_request(world.admin, response.headers["x-request-id"])
        outcome = "ok" if expected == 200 else "denied"
        if expected == 200 and case.items:
            items = [r["action"] for r in records[1:]]
            if items != list(case.items):
                failures.append(f"{kind}: expected the records {case.items}, found {items}")
            records = records[:1]
        if len(records) != 1 or records[0]["outcome"] != outcome:
            failures.append(f"{kind}: expected one '{outcome}' audit record, found {records}")
        elif records[0]["action"] != case.operation:
            failures.append(f"{kind}: recorded as {records[0]['action']}, not {case.operation}")
        elif expected != 200 and kind != "admin":
            assert records[0]["principal"] == world.names[kind]
    assert not failures, "\n".join(failures)


def test_a_hidden_model_answers_exactly_like_a_missing_one(world: World) -> None:
    outsider = world.clients["nobody"]
    hidden = outsider.get(f"{UC}/models/{world.model}")
    missing = outsider.get(f"{UC}/models/{world.schema}.does_not_exist")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error_code"] == missing.json()["error_code"]
    assert hidden.json()["message"].replace(world.model, "X") == missing.json()["message"].replace(
        f"{world.schema}.does_not_exist", "X"
    )
