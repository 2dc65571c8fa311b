"""`migrate run` of a plan against a target that keeps nothing, in a process of its own.

Every version answers as already present, so no file is read or sent: what is measured is the
run's own part (reading the plan, preflight, queueing each version, the run log) and its
memory, for plans too large to copy onto a server on this machine in the time a benchmark has.

    python -m benchmarks.growth.null_run PLAN LOG
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from modelcatalog.migrate.targets.protocol import Capabilities


class NullTarget:
    """A target on which every model and version already exists."""

    def whoami(self) -> dict[str, Any]:
        return {"name": "bench"}

    def capabilities(self) -> Capabilities:
        return Capabilities(migration_versions=True, permissions=False, principals=False)

    def no_hooks_reason(self) -> str:
        return "the benchmark's target keeps nothing"

    def ensure_catalog(self, name: str) -> None:
        pass

    def ensure_schema(self, catalog: str, schema: str) -> None:
        pass

    def get_model(self, full_name: str) -> dict[str, Any] | None:
        return None

    def ensure_model(self, full_name: str, comment: str, tags: dict[str, str]) -> str:
        return "present"

    def create_version(self, full_name: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
        return {"status": "READY", "version": number}

    def list_versions(self, full_name: str) -> list[dict[str, Any]]:
        return []

    def set_alias(self, full_name: str, alias: str, number: int) -> None:
        pass


def main() -> None:
    from modelcatalog.migrate import plan_file
    from modelcatalog.migrate.run import Runner
    from modelcatalog.migrate.runlog import RunLog
    from modelcatalog.migrate.source import SourceRegistry

    plan_path, log_path = Path(sys.argv[1]), Path(sys.argv[2])
    extra: dict[str, Any] = {}
    if hasattr(plan_file, "open_plan"):
        opened = plan_file.open_plan(plan_path)
        plan, extra["models"] = opened.plan, opened.models
    else:  # the code before plans were streamed
        plan = plan_file.read_plan(plan_path)
    source = SourceRegistry(plan.source_registry, plan.source_tracking)
    log = RunLog(log_path)
    try:
        summary = Runner(plan, source, NullTarget(), log, workers=4, **extra).run()  # type: ignore[arg-type]
    finally:
        log.close()
    print(summary.present, summary.failed)
    if not summary.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
