"""Promote the newest version of the fraud model to Staging, once; report what serves."""

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

MODEL = "fraud"


def staging_version(client: MlflowClient):
    versions = client.get_latest_versions(MODEL, stages=["Staging"])
    if not versions:  # no model in Staging yet
        return None
    return versions[0].version


def production_version(client: MlflowClient):
    try:
        return client.get_latest_versions(MODEL, stages=["Production"])[0].version
    except MlflowException:
        return None


def main():
    client = MlflowClient()
    current = staging_version(client)
    if current is None:
        print("no model in Staging yet: first deployment")
        found = client.search_model_versions(f"name='{MODEL}'")
        newest = max(int(v.version) for v in found)
        client.transition_model_version_stage(
            MODEL,
            newest,
            "Staging",  # reviewers test it here
            archive_existing_versions=True,
        )
        print("promoted version", newest, "to Staging")
    else:
        print("Staging is version", current)
    print("Production is version", production_version(client))


if __name__ == "__main__":
    main()
