"""Bytes through the catalog while stock MLflow logs and loads a large model.

One moto S3 server and three catalog servers on this machine:
  - `s3-credentials`: an s3:// root with a role, so `temporary-model-version-credentials`
    answers STS sessions; MLflow's `uc:` client moves the files with boto3 (multipart);
  - `s3-presigned-urls`: an s3:// root without a role; MLflow's `databricks-uc` client moves
    the files through the Files API's S3 presigned URLs (one PUT per file);
  - `local-folder`: a local root, where every byte goes through the catalog's own signed URLs
    (the comparison: what relaying costs).
For each, a child process logs and registers a model with one file of SIZE MiB (plus MLflow's
small files) and then downloads the registered version. The bytes read and written by the
catalog server process (/proc/<pid>/io rchar and wchar: sockets, files and database alike) are
taken before and after. Results go to benchmarks/results/s3-direct.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

RESULTS = ROOT / "benchmarks" / "results"
MiB = 1 << 20
ROLE_ARN = "arn:aws:iam::123456789012:role/modelcatalog-clients"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

CLIENT = """
import json, sys, tempfile, time
from pathlib import Path
import mlflow, numpy as np, pandas as pd
from mlflow.models import infer_signature

registry, name, weights, tracking = sys.argv[1:5]

class Weights(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return np.zeros(len(model_input), dtype=np.int64)

mlflow.set_tracking_uri(tracking)
mlflow.set_registry_uri(registry)
features = pd.DataFrame({"x": [1.0, 2.0]})
started = time.monotonic()
with mlflow.start_run():
    info = mlflow.pyfunc.log_model(
        name="model", python_model=Weights(), artifacts={"weights": weights},
        signature=infer_signature(features, np.zeros(2, dtype=np.int64)),
        registered_model_name=name, pip_requirements=["numpy"])
logged = time.monotonic()
target = mlflow.artifacts.download_artifacts(f"models:/{name}/1", dst_path=tempfile.mkdtemp())
loaded = time.monotonic()
size = (Path(target) / "artifacts" / Path(weights).name).stat().st_size
print(json.dumps({"log_register_s": logged - started, "load_s": loaded - logged,
                  "loaded_bytes": size}))
"""


def _client_env(case: str, server: Any, moto: str) -> dict[str, str]:
    env = server.env(**AWS_ENV)
    for name in ("MLFLOW_ENABLE_UC_NATIVE_MODEL_REGISTRY", "DATABRICKS_CONFIG_PROFILE"):
        env.pop(name, None)
    env.update(
        DATABRICKS_HOST=server.url,
        DATABRICKS_TOKEN=server.admin_token,
        MLFLOW_UC_OSS_TOKEN=server.admin_token,
        MLFLOW_S3_ENDPOINT_URL=moto,
    )
    return env


def measure(case: str, server: Any, moto: str, weights: Path, scratch: Path) -> dict[str, Any]:
    import httpx

    from support.http import ok
    from support.process_io import io_bytes
    from support.versions import UC_2_1

    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        ok(api.post(f"{UC_2_1}/catalogs", json={"name": "bench"}))
        ok(api.post(f"{UC_2_1}/schemas", json={"name": "s", "catalog_name": "bench"}))
    registry = f"uc:{server.url}" if case == "s3-credentials" else "databricks-uc"
    name = f"bench.s.m_{uuid.uuid4().hex[:8]}"
    tracking = f"sqlite:///{scratch / (case + '-mlflow.db')}"
    before = io_bytes(server.process.pid)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, registry, name, str(weights), tracking],
        env=_client_env(case, server, moto),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    moved = io_bytes(server.process.pid) - before
    if done.returncode != 0:
        raise RuntimeError(f"{case}: client failed:\n{done.stderr[-4000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "case": case,
        "registry": registry.split(":")[0],
        "server_read_bytes": moved.read,
        "server_written_bytes": moved.written,
        "wall_s": round(wall, 2),
        **{k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="the large file (MiB)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()

    import boto3

    from support.servers import run_moto, run_server

    scratch = Path(tempfile.mkdtemp(prefix="bench-s3direct-"))
    weights = scratch / "weights.bin"
    with open(weights, "wb") as out:
        block = os.urandom(MiB)
        for _ in range(args.size_mib):
            out.write(block)
    results = []
    load = os.getloadavg()
    try:
        os.environ.update(AWS_ENV)
        with run_moto(scratch) as moto:
            s3 = boto3.resource("s3", endpoint_url=moto, region_name="us-east-1")
            bucket = f"bench-{uuid.uuid4().hex[:10]}"
            s3.create_bucket(Bucket=bucket)
            s3_env = {**AWS_ENV, "MODELCATALOG_S3_ENDPOINT_URL": moto}
            cases = {
                "s3-credentials": (f"s3://{bucket}/sts", {"MODELCATALOG_S3_ROLE_ARN": ROLE_ARN}),
                "s3-presigned-urls": (f"s3://{bucket}/urls", {}),
                "local-folder": (None, {}),
            }
            for case, (root, extra) in cases.items():
                env = {**s3_env, **extra} if root else {}
                with run_server(scratch / case, storage_root=root, extra_env=env) as server:
                    results.append(measure(case, server, moto, weights, scratch))
                    print(json.dumps(results[-1]), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    write(results, args.size_mib, load)


def write(results: list[dict[str, Any]], size_mib: int, load: tuple[float, ...]) -> None:
    RESULTS.mkdir(exist_ok=True)
    document = {
        "size_mib": size_mib,
        "load_average": [round(x, 2) for x in load],
        "cases": results,
    }
    (RESULTS / "s3-direct.json").write_text(json.dumps(document, indent=2) + "\n")
    lines = [
        "# Model bytes through the catalog server",
        "",
        f"A model with one {size_mib} MiB file (plus MLflow's small files) is logged, registered",
        "and downloaded by stock MLflow; the catalog server's bytes read and written",
        "(/proc/<pid>/io rchar, wchar: sockets, files and database) are taken around it.",
        f"Load average at start: {', '.join(f'{x:.2f}' for x in load)}.",
        "Command: `.venv/bin/python -m benchmarks.s3direct"
        + (f" --size-mib {size_mib}`" if size_mib != 1024 else "`"),
        "",
        "| storage root, client path | MLflow client | server read | server written "
        "| log + register | load |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['case']} | {r['registry']} | {r['server_read_bytes'] / MiB:,.2f} MiB "
            f"| {r['server_written_bytes'] / MiB:,.2f} MiB | {r['log_register_s']:.1f} s "
            f"| {r['load_s']:.1f} s |"
        )
    lines += [
        "",
        "`local-folder` is the comparison: there every byte goes through the catalog (once up,",
        "once to disk, once read back and once down). The S3 rows are the catalog's requests,",
        "answers and database work only; the bytes go between MLflow and the bucket.",
    ]
    (RESULTS / "s3-direct.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
