"""Runs a task's Python entry point: `python -m modelcatalog.jobs.entry package.module:function`.

The function is called with `model_name`, `model_version` and the job's parameters as keyword
arguments (those it does not accept are left out); a raised exception fails the task."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys


def main(target: str) -> int:
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    given = {
        "model_name": os.environ["MODEL_NAME"],
        "model_version": os.environ["MODEL_VERSION"],
        **json.loads(os.environ.get("MODELCATALOG_JOB_PARAMETERS") or "{}"),
    }
    accepted = inspect.signature(function).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    result = function(**{k: v for k, v in given.items() if takes_any or k in accepted})
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
