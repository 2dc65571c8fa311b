"""deploy-cli: show which version of a model serves, by stage."""

import sys


def _versions_with_alias(client, name, alias):
    """[the version that holds `alias`], or [] when the model exists and no version holds it:
    what get_latest_versions(name, stages=[stage]) returned for a stage (added by modelcatalog
    code fix)."""
    from mlflow.exceptions import MlflowException

    try:
        return [client.get_model_version_by_alias(name, alias)]
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.get_registered_model(name)  # a model that does not exist still raises
        return []


class Deployer:
    def __init__(self, registry_uri=None):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise SystemExit("mlflow is not installed")
        self.client = MlflowClient(registry_uri=registry_uri)

    def serving(self, name):
        try:
            return _versions_with_alias(self.client, name, alias="Production")[0].version
        except IndexError:
            return None

    def candidate(self, name):
        try:
            found = _versions_with_alias(self.client, name, "Staging")
        except Exception:
            return False
        return [v.version for v in found]

    def uri(self, name, stage):
        return f"models:/{name}/{stage}"


def main(argv):
    from mlflow.exceptions import MlflowException

    deployer = Deployer()
    for name in argv[1:]:
        try:
            print(name, "serving:", deployer.serving(name), "candidate:", deployer.candidate(name))
        except MlflowException as error:
            print(name, "failed:", error.error_code)


if __name__ == "__main__":
    main(sys.argv)
