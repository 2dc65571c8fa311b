"""A source registry read through MLflow's own client: models, versions and their files.

Any registry MLflow can open works (files, SQLite, PostgreSQL, an MLflow server, the Databricks
workspace registry). Files are listed through MLflow's artifact repository for the version's
download URI and streamed one at a time: a local folder is read in place, anything else is
fetched one file at a time into a temporary folder that is removed as soon as it has been read.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit
from urllib.request import url2pathname

import yaml

from modelcatalog.domain.statuses import VersionStatus

CHUNK_SIZE = 1 << 20
MAX_MLMODEL_BYTES = 10 * 1024 * 1024
_PAGE = 1000
# Artifact repositories kept open: a few, so that memory does not grow with the versions read.
_OPEN_REPOSITORIES = 32
# libyaml's loader, about ten times faster than the pure-Python one, where PyYAML was built
# with it.
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SourceError(Exception):
    """The source registry (or one of its versions) cannot be read; the message says why."""


@dataclass(frozen=True)
class SourceVersion:
    """One registered model version as the source registry holds it."""

    model: str
    version: int
    stage: str
    status: str
    description: str
    tags: dict[str, str]
    run_id: str | None
    run_link: str | None
    source: str
    artifact_uri: str
    creation_time: int
    last_updated_time: int
    user_id: str | None = None
    model_id: str | None = None
    aliases: tuple[str, ...] = ()

    @classmethod
    def located(cls, model: str, version: int, artifact_uri: str) -> SourceVersion:
        """A version known only by where its files are (enough to list and read them)."""
        return cls(
            model,
            version,
            "None",
            VersionStatus.READY.value,
            "",
            {},
            None,
            None,
            "",
            artifact_uri,
            0,
            0,
        )


@dataclass(frozen=True)
class SourceModel:
    """One registered model with every one of its versions, oldest first."""

    name: str
    description: str
    tags: dict[str, str]
    creation_time: int
    last_updated_time: int
    aliases: dict[str, int] = field(default_factory=dict)
    versions: tuple[SourceVersion, ...] = ()


@dataclass(frozen=True)
class SourceFile:
    """One file of a version: its POSIX path relative to the version's root and its size."""

    path: str
    size: int


def display_uri(uri: str) -> str:
    """A URI fit for a plan or a log: any password in it replaced by `***`."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def absolute_uri(uri: str) -> str:
    """A SQLite URI with a relative path made absolute, so a plan works from any folder."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri[len("sqlite:///") :]).resolve())
    return uri


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


class SourceRegistry:
    """Reads one MLflow model registry (and the tracking server its runs live in)."""

    def __init__(self, registry_uri: str, tracking_uri: str | None = None) -> None:
        # Deferred: MLflow loads only when a registry is read, not when the toolkit is imported.
        from mlflow import MlflowClient

        self.registry_uri = absolute_uri(registry_uri)
        self.tracking_uri = absolute_uri(tracking_uri or registry_uri)
        self._repositories: OrderedDict[str, Any] = OrderedDict()
        for uri in {self.registry_uri, self.tracking_uri}:
            _refuse_missing_database(uri)
        try:
            self._client = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.registry_uri
            )
            # Opening the store is lazy in MLflow; touch it so a bad URI fails here.
            self._client._get_registry_client().store  # noqa: B018
        except Exception as exc:
            raise SourceError(
                f"cannot open the source registry {display_uri(registry_uri)}: {exc}"
            ) from exc

    @property
    def display_uri(self) -> str:
        """The registry URI without secrets."""
        return display_uri(self.registry_uri)

    # Models and versions -------------------------------------------------------------------

    def model_names(self) -> list[str]:
        """Every registered model name, sorted."""
        names: list[str] = []
        token = None
        try:
            while True:
                page = self._client.search_registered_models(max_results=_PAGE, page_token=token)
                names.extend(m.name for m in page)
                token = page.token
                if not token:
                    break
        except Exception as exc:
            raise SourceError(
                f"cannot list the registered models of {self.display_uri}: {exc}"
            ) from exc
        return sorted(set(names))

    def model(self, name: str) -> SourceModel:
        """One registered model with all its versions, oldest first."""
        if self._sql_store() is not None:
            try:
                read = self._sql_model(name)
            except Exception as exc:
                raise SourceError(f"cannot read registered model {name!r}: {exc}") from exc
            if read is not None:
                return read
        try:
            registered = self._client.get_registered_model(name)
            found = self._all_versions(name)
        except Exception as exc:
            raise SourceError(f"cannot read registered model {name!r}: {exc}") from exc
        aliases = {str(k): int(v) for k, v in (getattr(registered, "aliases", None) or {}).items()}
        by_version: dict[int, list[str]] = {}
        for alias, number in aliases.items():
            by_version.setdefault(number, []).append(alias)
        locations = self._download_uris(name)
        versions = tuple(
            self._version(
                v, tuple(sorted(by_version.get(int(v.version), ()))), locations.get(int(v.version))
            )
            for v in sorted(found, key=lambda v: int(v.version))
        )
        return SourceModel(
            name=registered.name,
            description=_text(registered.description),
            tags=dict(sorted((registered.tags or {}).items())),
            creation_time=int(registered.creation_timestamp or 0),
            last_updated_time=int(registered.last_updated_timestamp or 0),
            aliases=dict(sorted(aliases.items())),
            versions=versions,
        )

    def models(self, names: list[str] | None = None) -> Iterator[SourceModel]:
        """Every registered model (or the ones named), sorted by name."""
        for name in names if names is not None else self.model_names():
            yield self.model(name)

    def _all_versions(self, name: str) -> list[Any]:
        escaped = name.replace("'", "\\'")
        found: list[Any] = []
        token = None
        while True:
            page = self._client.search_model_versions(
                f"name = '{escaped}'", max_results=_PAGE, page_token=token
            )
            found.extend(page)
            token = page.token
            if not token:
                return found

    def version_numbers(self, name: str) -> list[int]:
        """The version numbers of one model, oldest first (no files or locations read)."""
        try:
            return sorted(int(v.version) for v in self._all_versions(name))
        except Exception as exc:
            raise SourceError(f"cannot read registered model {name!r}: {exc}") from exc

    def _sql_store(self) -> Any:
        """MLflow's store when the registry is a database MLflow opened itself, else None."""
        store = self._client._get_registry_client().store
        return store if type(store).__name__ == "SqlAlchemyStore" else None

    def _sql_model(self, name: str) -> SourceModel | None:
        """One registered model read from MLflow's registry tables in five plain queries.

        MLflow's own calls build ORM objects for the model and each of its versions (and read
        the model again for each version's files): a few milliseconds per version, which made
        reading a large registry take hours. The values are the ones those calls return."""
        # Deferred with MlflowClient: MLflow's own table definitions for its registry.
        from mlflow.store.model_registry.dbmodels.models import (
            SqlModelVersion,
            SqlModelVersionTag,
            SqlRegisteredModel,
            SqlRegisteredModelAlias,
            SqlRegisteredModelTag,
        )
        from sqlalchemy import select

        store = self._sql_store()
        workspace = (
            store._get_active_workspace() if hasattr(store, "_get_active_workspace") else None
        )

        def where(table: Any) -> list[Any]:
            found = [table.name == name]
            if workspace is not None and hasattr(table, "workspace"):
                found.append(table.workspace == workspace)
            return found

        model_query: Any = select(
            SqlRegisteredModel.name,
            SqlRegisteredModel.description,
            SqlRegisteredModel.creation_time,
            SqlRegisteredModel.last_updated_time,
        ).where(*where(SqlRegisteredModel))
        with store.ManagedSessionMaker() as session:
            row = session.execute(model_query).first()
            if row is None:
                return None
            model_tags = dict(
                session.execute(
                    select(SqlRegisteredModelTag.key, SqlRegisteredModelTag.value).where(
                        *where(SqlRegisteredModelTag)
                    )
                ).all()
            )
            aliases = {
                str(alias): int(number)
                for alias, number in session.execute(
                    select(SqlRegisteredModelAlias.alias, SqlRegisteredModelAlias.version).where(
                        *where(SqlRegisteredModelAlias)
                    )
                ).all()
            }
            version_tags: dict[int, dict[str, str]] = {}
            for number, key, value in session.execute(
                select(
                    SqlModelVersionTag.version, SqlModelVersionTag.key, SqlModelVersionTag.value
                ).where(*where(SqlModelVersionTag))
            ):
                version_tags.setdefault(int(number), {})[key] = value
            columns = SqlModelVersion.__table__.columns
            version_rows = session.execute(
                select(*(c for c in columns)).where(
                    *where(SqlModelVersion), SqlModelVersion.current_stage != "Deleted_Internal"
                )
            ).all()
        by_version: dict[int, list[str]] = {}
        for alias, number in aliases.items():
            by_version.setdefault(number, []).append(alias)
        versions = []
        for v in sorted(version_rows, key=lambda r: int(r.version)):
            number = int(v.version)
            versions.append(
                SourceVersion(
                    model=v.name,
                    version=number,
                    stage=v.current_stage or "None",
                    status=v.status or VersionStatus.READY.value,
                    description=_text(v.description),
                    tags=dict(sorted(version_tags.get(number, {}).items())),
                    run_id=v.run_id or None,
                    run_link=v.run_link or self._run_link(v.run_id),
                    source=v.source or "",
                    artifact_uri=v.storage_location or v.source or "",
                    creation_time=int(v.creation_time or 0),
                    last_updated_time=int(v.last_updated_time or 0),
                    user_id=v.user_id or None,
                    aliases=tuple(sorted(by_version.get(number, ()))),
                )
            )
        return SourceModel(
            name=row.name,
            description=_text(row.description),
            tags=dict(sorted(model_tags.items())),
            creation_time=int(row.creation_time or 0),
            last_updated_time=int(row.last_updated_time or 0),
            aliases=dict(sorted(aliases.items())),
            versions=tuple(versions),
        )

    def _download_uris(self, name: str) -> dict[int, str]:
        """Where each version of a model keeps its files, in one query where the registry is a
        database MLflow opened itself; empty otherwise (each version is then asked on its own).

        MLflow's `get_model_version_download_uri` reads the version again for every call; for
        a database registry the answer is the row's `storage_location` (else its `source`),
        which one query gives for the whole model."""
        store = self._client._get_registry_client().store
        if type(store).__name__ != "SqlAlchemyStore":
            return {}
        # Deferred with MlflowClient: MLflow's own table definitions for its registry.
        from mlflow.store.model_registry.dbmodels.models import SqlModelVersion
        from sqlalchemy import select

        query: Any = select(
            SqlModelVersion.version, SqlModelVersion.storage_location, SqlModelVersion.source
        ).where(SqlModelVersion.name == name, SqlModelVersion.current_stage != "Deleted_Internal")
        try:
            with store.ManagedSessionMaker() as session:
                rows = session.execute(query).all()
        except Exception:
            return {}  # an older schema: ask version by version
        return {int(v): (where or source) for v, where, source in rows if (where or source)}

    def _version(
        self, v: Any, aliases: tuple[str, ...], artifact_uri: str | None = None
    ) -> SourceVersion:
        number = int(v.version)
        try:
            if artifact_uri is None:
                artifact_uri = self._client.get_model_version_download_uri(v.name, str(number))
        except Exception as exc:
            raise SourceError(
                f"cannot resolve the files of {v.name!r} version {number}: {exc}"
            ) from exc
        return SourceVersion(
            model=v.name,
            version=number,
            stage=v.current_stage or "None",
            status=v.status or VersionStatus.READY.value,
            description=_text(v.description),
            tags=dict(sorted((v.tags or {}).items())),
            run_id=v.run_id or None,
            run_link=v.run_link or self._run_link(v.run_id),
            source=v.source or "",
            artifact_uri=artifact_uri,
            creation_time=int(v.creation_timestamp or 0),
            last_updated_time=int(v.last_updated_timestamp or 0),
            user_id=v.user_id or None,
            model_id=getattr(v, "model_id", None) or None,
            aliases=aliases,
        )

    def _run_link(self, run_id: str | None) -> str | None:
        """A browser link to the run when the tracking server has a web UI."""
        if not run_id or not self.tracking_uri.startswith(("http://", "https://")):
            return None
        try:
            run = self._client.get_run(run_id)
        except Exception:
            return None  # a deleted run still leaves its id in the lineage
        base = display_uri(self.tracking_uri).rstrip("/")
        return f"{base}/#/experiments/{run.info.experiment_id}/runs/{run_id}"

    # Files ---------------------------------------------------------------------------------

    def _repository(self, version: SourceVersion) -> Any:
        # Deferred with MlflowClient above.
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repo = self._repositories.get(version.artifact_uri)
        if repo is None:
            repo = get_artifact_repository(
                version.artifact_uri, tracking_uri=self.tracking_uri, registry_uri=self.registry_uri
            )
            self._repositories[version.artifact_uri] = repo
            if len(self._repositories) > _OPEN_REPOSITORIES:
                self._repositories.popitem(last=False)
        else:
            self._repositories.move_to_end(version.artifact_uri)
        return repo

    def _local_root(self, version: SourceVersion) -> Path | None:
        # A local folder is read in place: building MLflow's artifact repository for it costs
        # more than reading a small version's files.
        parts = urlsplit(version.artifact_uri)
        if not parts.scheme or (len(parts.scheme) == 1 and os.name == "nt"):
            return Path(version.artifact_uri)
        if parts.scheme == "file" and parts.netloc in ("", "localhost"):
            return Path(url2pathname(parts.path))
        repo = self._repository(version)
        root = getattr(repo, "artifact_dir", None)
        if type(repo).__name__ == "LocalArtifactRepository" and root:
            return Path(root)
        return None

    def files(self, version: SourceVersion) -> list[SourceFile]:
        """Every file of a version, sorted by path; an empty or missing folder is an error."""
        try:
            local = self._local_root(version)
            if local is not None:
                found = _walk_local(local)
            else:
                found = _walk_repository(self._repository(version), None)
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(
                f"cannot list the files of {version.model!r} version {version.version} at "
                f"{display_uri(version.artifact_uri)}: {exc}"
            ) from exc
        if not found:
            raise SourceError(
                f"{version.model!r} version {version.version} has no files at "
                f"{display_uri(version.artifact_uri)}"
            )
        return sorted(found, key=lambda f: f.path)

    @contextmanager
    def open_file(self, version: SourceVersion, path: str) -> Iterator[BinaryIO]:
        """A binary stream of one file of a version (read in place when it is local)."""
        local = self._local_root(version)
        if local is not None:
            with open(local / path, "rb") as handle:
                yield handle
            return
        scratch = tempfile.mkdtemp(prefix="modelcatalog-migrate-")
        try:
            fetched = self._repository(version).download_artifacts(path, dst_path=scratch)
            with open(fetched, "rb") as handle:
                yield handle
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def read_mlmodel(self, version: SourceVersion) -> dict[str, Any] | None:
        """The version's parsed `MLmodel` document, or None when it has none."""
        try:
            with self.open_file(version, "MLmodel") as handle:
                raw = handle.read(MAX_MLMODEL_BYTES + 1)
        except (OSError, Exception):
            return None
        try:
            document = yaml.load(raw, Loader=YAML_LOADER)  # noqa: S506 (a safe loader)
        except yaml.YAMLError:
            return None
        return document if isinstance(document, dict) else None

    @contextmanager
    def local_copy(self, version: SourceVersion) -> Iterator[Path]:
        """The version's whole folder on local disk (in place when local), e.g. to load it."""
        local = self._local_root(version)
        if local is not None:
            yield local
            return
        scratch = tempfile.mkdtemp(prefix="modelcatalog-migrate-")
        try:
            yield Path(self._repository(version).download_artifacts("", dst_path=scratch))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _refuse_missing_database(uri: str) -> None:
    """MLflow would create an empty SQLite file for a mistyped path; a source is only read."""
    if not uri.startswith("sqlite:///"):
        return
    # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy reads them.
    path = Path(uri[len("sqlite:///") :].split("?")[0])
    if not path.is_file():
        raise SourceError(f"the source database {path} does not exist (from {display_uri(uri)})")


def _walk_local(root: Path) -> list[SourceFile]:
    if not root.is_dir():
        raise SourceError(f"the folder {root} does not exist")
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            full = Path(folder) / name
            found.append(SourceFile(full.relative_to(root).as_posix(), full.stat().st_size))
    return found


def _walk_repository(repo: Any, path: str | None) -> list[SourceFile]:
    found = []
    for info in repo.list_artifacts(path):
        if info.is_dir:
            found.extend(_walk_repository(repo, info.path))
        else:
            found.append(SourceFile(_relative(info.path), int(info.file_size or 0)))
    return found


def _relative(path: str) -> str:
    return re.sub(r"^/+", "", path.replace("\\", "/"))
