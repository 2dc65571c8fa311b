"""A Unity Catalog a migration writes to through MLflow's `databricks-uc` client.

The operations of `Target`, over the calls stock MLflow makes: the model-registry dialect
(`/api/2.0/mlflow/unity-catalog`) for models, versions, tags and aliases, MLflow's own artifact
repositories for files, and `databricks-sdk` for what MLflow's client lacks (catalogs, schemas,
grants). Unity Catalog has no triggers, notification destinations, deployment approvers or bulk
upload: those operations are refused (`NotOffered`), and the capabilities say so before any is
called. Credentials are the vendor's usual ones: DATABRICKS_HOST and DATABRICKS_TOKEN, or a
profile of ~/.databrickscfg (`databricks-uc://PROFILE`); the plan never holds them.

Unity Catalog numbers versions itself, in order, and never reuses a number. Version N keeps its
number by being created when the model's next number is N: versions of a model are created in
ascending order, and a number below N that the plan does not copy (a gap in the source) is
taken by a placeholder that is deleted at once. A number the target has already passed cannot
be had; that version is refused with the reason.

Unity Catalog has no origin field: the lineage is recorded in version tags (`migrated_from_*`),
and read back from them as `origin`, so reruns recognise a migrated version and verify compares
it like the catalog's own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from databricks.sdk import WorkspaceClient
from databricks.sdk import errors as sdk_errors
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion, ModelVersionTag
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_uc_registry_messages_pb2 import (
    CreateModelVersionRequest,
    GetModelVersionRequest,
)
from mlflow.store.artifact.unity_catalog_models_artifact_repo import (
    UnityCatalogModelsArtifactRepository,
)
from mlflow.utils._unity_catalog_utils import (
    model_version_from_uc_proto,
    uc_model_version_tag_from_mlflow_tags,
)
from mlflow.utils.proto_json_utils import message_to_json

from modelcatalog.client import AlreadyExists, NotFound
from modelcatalog.client.errors import (
    CatalogClientError,
    InvalidRequest,
    PermissionDenied,
    ServerError,
    Unauthenticated,
)
from modelcatalog.migrate.plan_model import UC_TARGET, Plan
from modelcatalog.migrate.source import CHUNK_SIZE
from modelcatalog.migrate.targets.protocol import (
    BulkUpload,
    Capabilities,
    ImportedVersion,
    NotOffered,
    OpenedFile,
    TargetError,
    Uploaded,
    VersionImport,
)

logger = logging.getLogger(__name__)

#: Version tags that carry a migrated version's lineage, by field of `Origin.to_dict()`.
ORIGIN_TAGS = {
    "registry": "migrated_from_registry",
    "model": "migrated_from_model",
    "version": "migrated_from_version",
    "run_id": "migrated_from_run_id",
    "run_link": "migrated_from_run_link",
}
WAIVER_TAG = "migrated_signature_waiver"
MAX_VERSION_TAGS = 50


class UcTargetError(TargetError):
    """The databricks-uc target cannot be used as configured; the message says why."""


class VersionNumberTaken(Exception):
    """Unity Catalog has passed this version's number; it cannot be created with it."""


class DatabricksUcTarget:
    """Migration-level operations on a Unity Catalog reached with `databricks-uc`."""

    def __init__(self, registry_uri: str, plan: Plan) -> None:
        if registry_uri != UC_TARGET and not registry_uri.startswith(f"{UC_TARGET}://"):
            raise UcTargetError(f"{registry_uri!r} is not databricks-uc or databricks-uc://PROFILE")
        if os.environ.get("MLFLOW_ENABLE_UC_NATIVE_MODEL_REGISTRY", "").lower() in ("true", "1"):
            raise UcTargetError(
                "the databricks-uc target speaks the model-registry dialect "
                "(/api/2.0/mlflow/unity-catalog); unset MLFLOW_ENABLE_UC_NATIVE_MODEL_REGISTRY"
            )
        self.registry_uri = registry_uri
        self.profile = registry_uri.partition("://")[2] or None
        self._client = MlflowClient(registry_uri=registry_uri)
        try:
            # Resolving the credentials now refuses a missing host or token before any write.
            self._store = self._client._get_registry_client().store
            self._store.get_host_creds()
        except MlflowException as exc:
            raise UcTargetError(f"{registry_uri}: {exc.message}") from exc
        self._workspace_client: WorkspaceClient | None = None
        self._planned: dict[str, list[int]] = {}
        for model in plan.models:
            numbers = [v.version for v in model.versions]
            if numbers != sorted(numbers):
                raise UcTargetError(
                    f"the plan lists the versions of {model.source!r} out of order; Unity "
                    "Catalog numbers versions in creation order, so they must be ascending"
                )
            self._planned[model.target] = numbers
        self._source_model = {m.target: m.source for m in plan.models}
        self._turns = threading.Condition()
        self._created: dict[str, set[int]] = {}
        self._waived: dict[tuple[str, int], bool] = {}
        self._repositories: dict[tuple[str, int], Any] = {}

    def close(self) -> None:
        self._repositories.clear()

    def capabilities(self) -> Capabilities:
        """Numbers are kept (with placeholders), grants go through Unity Catalog's API."""
        return Capabilities(migration_versions=True, permissions=True, principals=True)

    def whoami(self) -> dict[str, Any]:
        """Check that the credentials reach the registry (any authenticated read does)."""
        with _translated():
            self._client.search_registered_models(max_results=1)
        return {"registry": self.registry_uri}

    def no_hooks_reason(self) -> str:
        return (
            "Databricks Unity Catalog has no API for model triggers, notification destinations "
            "or deployment approvers; set them up by hand (Databricks jobs and workflows) if "
            "still wanted"
        )

    def _workspace(self) -> WorkspaceClient:
        if self._workspace_client is None:
            try:
                self._workspace_client = WorkspaceClient(profile=self.profile)
            except (ValueError, sdk_errors.DatabricksError) as exc:
                raise UcTargetError(f"cannot configure databricks-sdk: {exc}") from exc
        return self._workspace_client

    # Containers and models ----------------------------------------------------------------

    def ensure_catalog(self, name: str) -> None:
        w = self._workspace()
        with _translated():
            try:
                w.catalogs.get(name)
            except sdk_errors.NotFound:
                try:
                    w.catalogs.create(name=name)
                except (sdk_errors.AlreadyExists, sdk_errors.ResourceAlreadyExists):
                    pass

    def ensure_schema(self, catalog: str, schema: str) -> None:
        w = self._workspace()
        with _translated():
            try:
                w.schemas.get(f"{catalog}.{schema}")
            except sdk_errors.NotFound:
                try:
                    w.schemas.create(name=schema, catalog_name=catalog)
                except (sdk_errors.AlreadyExists, sdk_errors.ResourceAlreadyExists):
                    pass

    def get_model(self, full_name: str) -> dict[str, Any] | None:
        """The model in the catalog's shape (comment, tags, aliases), or None."""
        try:
            with _translated():
                found = self._client.get_registered_model(full_name)
        except NotFound:
            return None
        return {
            "name": found.name,
            "comment": found.description or "",
            "tags": dict(found.tags),
            "aliases": [
                {"alias_name": alias, "version_num": int(number)}
                for alias, number in found.aliases.items()
            ],
        }

    def ensure_model(self, full_name: str, comment: str, tags: dict[str, str]) -> str:
        """Create the model, or bring an existing one's description and tags to the plan's.

        Returns "created", "updated" or "unchanged"."""
        found = self.get_model(full_name)
        with _translated():
            if found is None:
                try:
                    self._client.create_registered_model(
                        full_name, tags=tags or None, description=comment or None
                    )
                    return "created"
                except MlflowException as exc:
                    if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                        raise
                found = self.get_model(full_name) or {"tags": {}}
            changed = False
            if (found.get("comment") or "") != comment:
                self._client.update_registered_model(full_name, description=comment)
                changed = True
            for key, value in tags.items():
                if found["tags"].get(key) != value:
                    self._client.set_registered_model_tag(full_name, key, value)
                    changed = True
        return "updated" if changed else "unchanged"

    # Versions -----------------------------------------------------------------------------

    def create_version(self, full_name: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
        """Version `number` exactly, PENDING; or the existing one if it has the same origin.

        Creation follows the plan's order: version N waits until every lower number the plan
        copies into this model has been through here. The runner submits a model's versions in
        ascending order to a first-in first-out pool and calls this first for each, so the
        wait always ends."""
        lower = [n for n in self._planned.get(full_name, []) if n < number]
        with self._turns:
            self._turns.wait_for(lambda: self._created.get(full_name, set()).issuperset(lower))
        try:
            with _translated():
                return self._create_in_order(full_name, number, body)
        finally:
            with self._turns:
                self._created.setdefault(full_name, set()).add(number)
                self._turns.notify_all()

    def _create_in_order(self, full_name: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
        tags = _version_tags(body)
        self._waived[(full_name, number)] = bool(body.get("signature_waiver"))
        existing = self.get_version(full_name, number)
        if existing is not None:
            if existing["origin"] != body.get("origin"):
                raise AlreadyExists(409, "RESOURCE_ALREADY_EXISTS", _lineage(existing["origin"]))
            return existing
        listed = self._listed_numbers(full_name)
        for stray in self._interrupted_placeholders(full_name, listed):
            self._client.delete_model_version(full_name, str(stray))
            listed.remove(stray)
        if listed and max(listed) > number:
            raise VersionNumberTaken(
                f"{full_name} already has version {max(listed)} and Unity Catalog numbers "
                f"versions in order, never reusing one, so version {number} cannot be created "
                "with its number; map the source model to a new target model to keep numbers"
            )
        while True:
            created = self._create_pending(full_name, body, tags)
            got = int(created.version)
            if got == number:
                return _version_dict(model_version_from_uc_proto(created))
            # Every attempt is the real version; one that lands below its number is a placeholder.
            self._client.delete_model_version(full_name, str(got))
            if got > number:
                raise VersionNumberTaken(
                    f"Unity Catalog gave {full_name} number {got} where {number} was due: "
                    f"versions up to {got - 1} were created there before (and deleted), and "
                    "numbers are never reused; map the source model to a new target model"
                )
            logger.info("%s: placeholder version %d created and deleted", full_name, got)

    def _create_pending(self, full_name: str, body: dict[str, Any], tags: dict[str, str]) -> Any:
        """A PENDING version with no files: the request MLflow's create_model_version sends."""
        request = CreateModelVersionRequest(
            name=full_name,
            source=body.get("source") or "",
            run_id=body.get("run_id") or "",
            description=body.get("comment") or "",
            tags=uc_model_version_tag_from_mlflow_tags(
                [ModelVersionTag(k, v) for k, v in tags.items()]
            ),
        )
        return self._store._call_endpoint(
            CreateModelVersionRequest, message_to_json(request)
        ).model_version

    def _listed_numbers(self, full_name: str) -> list[int]:
        numbers: list[int] = []
        token = None
        while True:
            page = self._client.search_model_versions(
                f"name='{full_name}'", max_results=10000, page_token=token
            )
            numbers.extend(int(v.version) for v in page)
            token = page.token
            if not token:
                return numbers

    def _interrupted_placeholders(self, full_name: str, listed: list[int]) -> list[int]:
        """Versions left by a run killed between creating a placeholder and deleting it: they
        carry the lineage of another number of the same source model."""
        source_model = self._source_model.get(full_name)
        planned = set(self._planned.get(full_name, []))
        strays = []
        for number in listed:
            if number in planned:
                continue
            origin = (self.get_version(full_name, number) or {}).get("origin") or {}
            if origin.get("model") == source_model and origin.get("version") != str(number):
                strays.append(number)
        return strays

    def get_version(self, full_name: str, number: int) -> dict[str, Any] | None:
        try:
            with _translated():
                return _version_dict(self._client.get_model_version(full_name, str(number)))
        except NotFound:
            return None

    def list_versions(self, full_name: str) -> list[dict[str, Any]]:
        """Every version with its tags and origin (a search answers without tags, so each is
        read on its own)."""
        with _translated():
            numbers = self._listed_numbers(full_name)
        found = (self.get_version(full_name, n) for n in sorted(numbers))
        return [v for v in found if v is not None]

    def upload(self, full_name: str, number: int, path: str, stream: BinaryIO, size: int) -> str:
        """Stream one file to a temporary folder, then let MLflow's artifact repository for the
        version upload it (the path create_model_version uses); returns its sha256."""
        digest = hashlib.sha256()
        written = 0
        with tempfile.TemporaryDirectory(prefix="modelcatalog-uc-") as folder:
            local = Path(folder) / posixpath.basename(path)
            with open(local, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
            if written != size:
                raise RuntimeError(f"{path}: the source gave {written} bytes, {size} expected")
            with _translated():
                if path == "MLmodel" and not self._waived.get((full_name, number)):
                    # MLflow's own client-side rule, skipped for a waiver as its migration
                    # branch does (MLFLOW_SKIP_SIGNATURE_CHECK_FOR_UC_REGISTRY_MIGRATION).
                    self._store._validate_model_signature(folder)
                self._repository(full_name, number).log_artifact(
                    str(local), posixpath.dirname(path) or None
                )
        return digest.hexdigest()

    def upload_files(
        self,
        full_name: str,
        number: int,
        files: Iterable[tuple[str, OpenedFile]],
        *,
        finalize: bool = False,
    ) -> BulkUpload:
        """Refused: MLflow's client sends a version's files one by one."""
        raise NotOffered("Unity Catalog takes a version's files one by one")

    def import_versions(
        self, full_name: str, versions: Sequence[VersionImport]
    ) -> dict[int, ImportedVersion]:
        raise NotOffered("Unity Catalog creates, writes and finalizes a version in steps")

    def list_files(self, full_name: str, number: int) -> dict[str, int] | None:
        """Size of every file an interrupted version already holds, by path, as its artifact
        repository lists them; None when the target will not list them (the run log decides)."""
        found: dict[str, int] = {}
        folders = [""]
        try:
            repository = self._repository(full_name, number)
            while folders:
                for info in repository.list_artifacts(folders.pop()):
                    if info.is_dir:
                        folders.append(info.path)
                    else:
                        found[info.path] = int(info.file_size or 0)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
                return found
            logger.info("%s v%d: files not listed (%s)", full_name, number, exc.message)
            return None
        return found

    def _repository(self, full_name: str, number: int) -> Any:
        key = (full_name, number)
        if key not in self._repositories:
            request = GetModelVersionRequest(name=full_name, version=str(number))
            version = self._store._call_endpoint(
                GetModelVersionRequest, message_to_json(request)
            ).model_version
            self._repositories[key] = self._store._get_artifact_repo(version, full_name)
        return self._repositories[key]

    def finalize(self, full_name: str, number: int) -> dict[str, Any]:
        self._repositories.pop((full_name, number), None)
        with _translated():
            finalized = self._store._finalize_model_version(full_name, str(number))
        return _version_dict(model_version_from_uc_proto(finalized))

    def manifest(self, full_name: str, number: int) -> dict[str, Uploaded]:
        """Every file of the version as MLflow downloads it, with its sha256."""
        found: dict[str, Uploaded] = {}
        with tempfile.TemporaryDirectory(prefix="modelcatalog-uc-") as folder, _translated():
            # The Unity Catalog repository itself: `mlflow.artifacts.download_artifacts` would
            # add a `registered_model_meta` file of its own to what the version holds.
            # MLflow marks `_download_file` abstract (without ABCMeta) in a class that delegates
            # every download, and builds this repository itself the same way.
            repository = UnityCatalogModelsArtifactRepository(  # type: ignore[abstract]
                f"models:/{full_name}/{number}", registry_uri=self.registry_uri
            )
            root = Path(repository.download_artifacts("", dst_path=folder))
            for file in sorted(p for p in root.rglob("*") if p.is_file()):
                path = file.relative_to(root).as_posix()
                found[path] = Uploaded(path, file.stat().st_size, _sha256(file))
        return found

    def set_alias(self, full_name: str, alias: str, number: int) -> None:
        with _translated():
            self._client.set_registered_model_alias(full_name, alias, str(number))

    # Principals and grants ----------------------------------------------------------------

    def ensure_principal(self, name: str, kind: str) -> None:
        """Nothing to do: Unity Catalog's principals are the workspace's users, groups and
        service principals, which a migration does not create; a grant to an unknown one is
        refused by Unity Catalog with its reason."""

    def grant(
        self, securable_type: str, full_name: str, principal: str, privileges: list[str]
    ) -> None:
        # Through the SDK's own transport: its Privilege enum lacks some model privileges
        # (CREATE MODEL VERSION), so `grants.update` could not send them.
        change = {"principal": principal, "add": [p.replace(" ", "_") for p in privileges]}
        with _translated():
            self._workspace().api_client.do(
                "PATCH",
                f"/api/2.1/unity-catalog/permissions/{securable_type}/{full_name}",
                body={"changes": [change]},
            )

    def privileges(self, securable_type: str, full_name: str) -> dict[str, set[str]]:
        """Privileges granted directly on a securable, by principal (spelled with spaces)."""
        with _translated():
            body = self._workspace().api_client.do(
                "GET", f"/api/2.1/unity-catalog/permissions/{securable_type}/{full_name}"
            )
        # A JSON answer is a dict; the SDK gives a stream only for a raw download.
        assignments = body.get("privilege_assignments") if isinstance(body, dict) else None
        found: dict[str, set[str]] = {}
        for entry in assignments or []:
            found.setdefault(entry.get("principal", ""), set()).update(
                str(p).replace("_", " ") for p in entry.get("privileges") or []
            )
        return found

    # What Unity Catalog has no API for -----------------------------------------------------

    def add_approver(self, full_name: str, principal: str) -> None:
        raise NotOffered(self.no_hooks_reason())

    def approvers(self, full_name: str) -> list[str]:
        raise NotOffered(self.no_hooks_reason())

    def create_destination(self, body: dict[str, Any]) -> None:
        raise NotOffered(self.no_hooks_reason())

    def get_destination(self, name: str) -> dict[str, Any] | None:
        raise NotOffered(self.no_hooks_reason())

    def create_trigger(self, body: dict[str, Any]) -> None:
        raise NotOffered(self.no_hooks_reason())

    def get_trigger(self, name: str) -> dict[str, Any] | None:
        raise NotOffered(self.no_hooks_reason())


def _version_tags(body: dict[str, Any]) -> dict[str, str]:
    """The plan's tags plus the lineage (and any waiver) the target records in tags."""
    tags = dict(body.get("tags") or {})
    extra = {ORIGIN_TAGS[k]: v for k, v in (body.get("origin") or {}).items() if v is not None}
    if body.get("signature_waiver"):
        extra[WAIVER_TAG] = body["signature_waiver"]
    clash = sorted(set(tags) & set(extra))
    if clash:
        raise InvalidRequest(
            400, "INVALID_PARAMETER_VALUE", f"the version has tags {clash}, reserved for lineage"
        )
    if len(tags) + len(extra) > MAX_VERSION_TAGS:
        raise InvalidRequest(
            400,
            "INVALID_PARAMETER_VALUE",
            f"{len(tags)} tags and {len(extra)} lineage tags exceed Unity Catalog's "
            f"{MAX_VERSION_TAGS} per version; plan with `tags: {{overflow: description}}`",
        )
    return {**tags, **extra}


def _version_dict(found: ModelVersion) -> dict[str, Any]:
    """A version in the catalog's shape: lineage tags become `origin`, the waiver its field."""
    tags = dict(found.tags)
    origin: dict[str, Any] | None = None
    if ORIGIN_TAGS["registry"] in tags:
        origin = {field: tags.get(key) for field, key in ORIGIN_TAGS.items()}
    for key in ORIGIN_TAGS.values():
        tags.pop(key, None)
    waiver = tags.pop(WAIVER_TAG, None)
    return {
        "version": int(found.version),
        "status": found.status,
        "status_message": found.status_message,
        "comment": found.description or "",
        "tags": tags,
        "origin": origin,
        "signature_waiver": waiver,
        "source": found.source,
        "run_id": found.run_id,
        "created_at": found.creation_timestamp,
    }


def _lineage(origin: dict[str, Any] | None) -> str:
    if origin is None:
        return "it has no migrated_from_* tags"
    return f"{origin.get('model')} version {origin.get('version')} of {origin.get('registry')}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


_BY_CODE: dict[str, type[ServerError]] = {
    "RESOURCE_DOES_NOT_EXIST": NotFound,
    "NOT_FOUND": NotFound,
    "RESOURCE_ALREADY_EXISTS": AlreadyExists,
    "ALREADY_EXISTS": AlreadyExists,
    "INVALID_PARAMETER_VALUE": InvalidRequest,
    "INVALID_ARGUMENT": InvalidRequest,
    "BAD_REQUEST": InvalidRequest,
    "PERMISSION_DENIED": PermissionDenied,
    "UNAUTHENTICATED": Unauthenticated,
}


_STATUS: dict[type[ServerError], int] = {
    InvalidRequest: 400,
    Unauthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
    AlreadyExists: 409,
}


@contextmanager
def _translated() -> Iterator[None]:
    """MLflow's and databricks-sdk's errors as the catalog client's, which the runner and
    verify report (the message is the target's own)."""
    try:
        yield
    except CatalogClientError:
        raise
    except MlflowException as exc:
        code = str(exc.error_code or "INTERNAL_ERROR")
        message = exc.message.removeprefix(f"{code}: ")
        kind = _BY_CODE.get(code, ServerError)
        raise kind(exc.get_http_status_code(), code, message) from exc
    except sdk_errors.DatabricksError as exc:
        code = str(exc.error_code or "")
        kind = NotFound if isinstance(exc, sdk_errors.NotFound) else _BY_CODE.get(code, ServerError)
        raise kind(_STATUS.get(kind, 0), code or type(exc).__name__, str(exc)) from exc
