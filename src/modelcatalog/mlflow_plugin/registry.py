"""`ModelCatalogRegistryStore`: MLflow's Unity Catalog registry client, pointed at a catalog server.

The catalog server speaks the same model-registry dialect as Databricks Unity Catalog, so MLflow's
own `UcModelRegistryStore` already does everything: three-level names, signature check before
upload, upload through presigned URLs and finalize, aliases, tags, search, and the errors that
steer stage and `latest` lookups towards aliases. This subclass changes only what is
vendor-specific: where the server is and which token to send (from `MODELCATALOG_TOKEN` or the
`modelcatalog login` file instead of a Databricks profile), and how MLflow finds a version's files
when it resolves a `models:/` URI.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mlflow.artifacts
from mlflow.exceptions import MlflowException
from mlflow.prompt.registry_utils import add_prompt_filter_string
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.store._unity_catalog.registry.rest_store import UcModelRegistryStore

from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.mlflow_plugin.location import CatalogServer


class ModelCatalogRegistryStore(UcModelRegistryStore):
    """The model registry store MLflow builds for `modelcatalog://host:port` registry URIs."""

    def __init__(self, store_uri: str, tracking_uri: str | None = None) -> None:
        super().__init__(store_uri, tracking_uri)
        self.server = CatalogServer.from_uri(store_uri)
        # Every registry call and every presigned-URL request reads its host and token here.
        self.get_host_creds = self.server.host_creds

    def _get_logged_model_from_model_id(self, model_id: str | None) -> Any:
        """The logged model a version names, or None where it names none.

        `copy_model_version` hands over the source version's `model_id`, an empty string for a
        version with no logged model (registered before MLflow 3, or migrated): MLflow's Unity
        Catalog store then asks the tracking server for a logged model with an empty id and the
        copy fails. Here an empty id is no id, so any version can be copied."""
        return super()._get_logged_model_from_model_id(model_id or None)

    @contextmanager
    def _local_model_dir(self, source: str, local_model_path: str | None) -> Iterator[str]:
        """A local folder holding the model to upload, never the source's own files.

        MLflow's Unity Catalog stores download the source and delete the folder they got
        afterwards; for a source that is already on this machine (a run or logged model whose
        tracking store keeps artifacts on local disk) that folder is the source itself, so
        registering deleted the logged model. Here the source is always copied into a folder
        of this call's own, and only that folder is removed."""
        if local_model_path is not None:
            yield local_model_path  # handed over by log_model; never removed here
            return
        with tempfile.TemporaryDirectory(prefix="modelcatalog-register-") as scratch:
            try:
                local_model_dir = mlflow.artifacts.download_artifacts(
                    artifact_uri=source, tracking_uri=self.tracking_uri, dst_path=scratch
                )
            except Exception as e:
                raise MlflowException(
                    f"Unable to download model artifacts from source artifact location "
                    f"'{source}' in order to upload them to the model catalog. Please ensure "
                    "the source artifact location exists and that you can download from it "
                    f"via mlflow.artifacts.download_artifacts(). Original error: {e}"
                ) from e
            yield local_model_dir

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ):  # type: ignore[no-untyped-def]
        """Search models; MLflow's own prompt-hiding filter is dropped, any other is refused.

        MLflow appends a filter that hides prompts for every registry URI except
        `databricks-uc`; the catalog holds no prompts, and the Unity Catalog search it inherits
        refuses every filter, so that one filter is taken back off here."""
        hide_prompts = add_prompt_filter_string(None, False)
        if filter_string == hide_prompts:
            filter_string = None
        elif filter_string and filter_string.endswith(f" AND {hide_prompts}"):
            filter_string = filter_string[: -len(f" AND {hide_prompts}")]
        return super().search_registered_models(filter_string, max_results, order_by, page_token)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        """A `modelcatalog://` URI for the version's files.

        For a registry that is neither `databricks-uc` nor `uc:`, MLflow resolves `models:/` URIs
        by asking the store for this URI and opening the artifact repository registered for its
        scheme; `ModelCatalogArtifactRepository` then reads through the presigned-URL Files API.
        Reading the version first turns a wrong name or number into the server's own error
        rather than an empty download.
        """
        model_version = self.get_model_version(name, version)
        if model_version.status != VersionStatus.READY:
            raise MlflowException(
                f"Model version {model_version.name} version {model_version.version} is "
                f"{model_version.status}, not READY; only READY versions can be loaded."
                + (f" {model_version.status_message}" if model_version.status_message else ""),
                error_code=INVALID_PARAMETER_VALUE,
            )
        return self.server.version_uri(model_version.name or name, model_version.version)
