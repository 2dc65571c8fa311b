"""Promote the newest version of the fraud model to Staging, once; report what serves."""

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

MODEL = "main.default.fraud"


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


def staging_version(client: MlflowClient):
    versions = _versions_with_alias(client, MODEL, alias="Staging")
    if not versions:  # no model in Staging yet
        return None
    return versions[0].version


def production_version(client: MlflowClient):
    try:
        return _versions_with_alias(client, MODEL, alias="Production")[0].version
    except MlflowException:
        return None


def main():
    client = MlflowClient()
    current = staging_version(client)
    if current is None:
        print("no model in Staging yet: first deployment")
        found = client.search_model_versions(f"name='{MODEL}'")
        newest = max(int(v.version) for v in found)
        client.set_registered_model_alias(
            name=MODEL,
            version=newest,
            alias="Staging",  # reviewers test it here
        )
        client.set_model_version_tag(name=MODEL, version=newest, key="migrated_stage", value="Staging")
        print("promoted version", newest, "to Staging")
    else:
        print("Staging is version", current)
    print("Production is version", production_version(client))


if __name__ == "__main__":
    main()
