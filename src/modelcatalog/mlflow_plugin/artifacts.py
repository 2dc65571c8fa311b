"""`ModelCatalogArtifactRepository`: reads a model version's files from a catalog server."""

from __future__ import annotations

import posixpath

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.store.artifact.presigned_url_artifact_repo import PresignedUrlArtifactRepository

from modelcatalog.mlflow_plugin.location import VersionLocation


class ModelCatalogArtifactRepository(PresignedUrlArtifactRepository):
    """The artifact repository MLflow opens for `modelcatalog://host:port/models/...` URIs.

    It lists and downloads through the server's Files API (`/api/2.0/fs/directories`,
    `/api/2.0/fs/create-download-url`), exactly as MLflow does for Unity Catalog default storage.
    Registered versions are immutable, so writing through such a URI is refused here; new versions
    are uploaded by the registry store while it creates them.
    """

    def __init__(
        self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None
    ) -> None:
        location = VersionLocation.from_uri(artifact_uri)
        super().__init__(
            location.server.host_creds(),
            location.full_name,
            location.version,
            tracking_uri=tracking_uri,
            registry_uri=registry_uri,
        )
        self.location = location
        if location.path:
            # A URI naming a folder or file inside the version roots the repository there.
            self.artifact_uri = posixpath.join(self.artifact_uri, location.path)

    def _refuse_write(self) -> MlflowException:
        return MlflowException(
            f"Model version {self.location.full_name} version {self.location.version} is "
            "registered and its files cannot change; register a new version instead.",
            error_code=INVALID_PARAMETER_VALUE,
        )

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Refused: a registered version's files are immutable."""
        raise self._refuse_write()

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Refused: a registered version's files are immutable."""
        raise self._refuse_write()
