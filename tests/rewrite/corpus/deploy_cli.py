"""deploy-cli: show which version of a model serves, by stage."""

import sys


class Deployer:
    def __init__(self, registry_uri=None):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise SystemExit("mlflow is not installed")
        self.client = MlflowClient(registry_uri=registry_uri)

    def serving(self, name):
        try:
            return self.client.get_latest_versions(name, stages=["Production"])[0].version
        except IndexError:
            return None

    def candidate(self, name):
        try:
            found = self.client.get_latest_versions(name, ["Staging"])
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
