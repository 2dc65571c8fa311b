"""Signature policy: keep a complete signature, add one (supplied or inferred), waive, or skip.

The catalog makes a version READY only if its MLmodel declares inputs and outputs. For versions
logged without one the plan says what happens, and why when nothing can be done.
"""

from __future__ import annotations

from typing import Any

import yaml

from modelcatalog.migrate.config import MigrationConfig
from modelcatalog.migrate.plan_model import SignatureDecision
from modelcatalog.migrate.source import SourceRegistry, SourceVersion


class Skip(Exception):
    """The version cannot meet the signature rule under the chosen policy; the text says why."""


def missing_part(mlmodel: dict[str, Any] | None) -> str | None:
    """What the MLmodel lacks for a complete signature, or None when it is complete."""
    if mlmodel is None:
        return "has no readable MLmodel file"
    signature = mlmodel.get("signature")
    if not isinstance(signature, dict) or not signature.get("inputs"):
        return "has no signature"
    if not signature.get("outputs") or signature.get("outputs") in ("null", "[]"):
        return "has a signature with inputs only"
    return None


def decide(
    registry: SourceRegistry,
    version: SourceVersion,
    mlmodel: dict[str, Any] | None,
    config: MigrationConfig,
) -> SignatureDecision:
    """The signature decision for one version; raises `Skip` with the reason otherwise."""
    missing = missing_part(mlmodel)
    if missing is None:
        return SignatureDecision("present")
    supplied = config.supplied_signatures.get(version.model)
    if supplied is not None and supplied.applies_to(version.version) and mlmodel is not None:
        return SignatureDecision("supplied", supplied.inputs, supplied.outputs)
    if config.signature_policy == "waive":
        return SignatureDecision("waived", waiver=f"{config.waiver} (the version {missing})")
    if config.signature_policy == "require":
        raise Skip(
            f"version {version.version} {missing}; policy 'require' (use 'infer', 'waive' or "
            "supply a signature for this model in the config)"
        )
    if mlmodel is None:
        raise Skip(f"version {version.version} {missing}, so no signature can be inferred")
    inputs, outputs = infer(registry, version, mlmodel)
    return SignatureDecision("inferred", inputs, outputs)


def infer(
    registry: SourceRegistry, version: SourceVersion, mlmodel: dict[str, Any]
) -> tuple[str, str]:
    """Inputs and outputs derived by loading the model and predicting on its saved example."""
    # Deferred: MLflow loads only when a signature is inferred.
    from mlflow.models import Model, infer_signature

    if not mlmodel.get("saved_input_example_info"):
        raise Skip(
            f"version {version.version}: cannot infer a signature, the model was logged without "
            "an input example (its MLmodel has no saved_input_example_info)"
        )
    with registry.local_copy(version) as folder:
        try:
            example = Model.load(str(folder / "MLmodel")).load_input_example(str(folder))
        except Exception as exc:
            raise Skip(
                f"version {version.version}: cannot infer a signature, its input example does "
                f"not load ({type(exc).__name__}: {exc})"
            ) from exc
        if example is None:
            raise Skip(
                f"version {version.version}: cannot infer a signature, its input example is "
                "missing from the model's files"
            )
        try:
            # Deferred, and inside the try: loading a flavour can fail like loading the model.
            import mlflow.pyfunc

            prediction = mlflow.pyfunc.load_model(str(folder)).predict(example)
        except Exception as exc:
            raise Skip(
                f"version {version.version}: cannot infer a signature, the model does not load "
                f"or predict on its input example ({type(exc).__name__}: {exc})"
            ) from exc
    inferred = infer_signature(example, prediction).to_dict()
    found = mlmodel.get("signature")
    declared = found if isinstance(found, dict) else {}
    inputs = declared.get("inputs") or inferred.get("inputs")
    outputs = inferred.get("outputs")
    if not inputs or not outputs:
        raise Skip(
            f"version {version.version}: cannot infer a signature, the prediction on its input "
            "example has no type MLflow can describe"
        )
    return inputs, outputs


def signed_mlmodel(original: bytes, decision: SignatureDecision) -> bytes:
    """The MLmodel file as copied: unchanged, or with the supplied or inferred signature."""
    if decision.action not in ("inferred", "supplied"):
        return original
    document = yaml.safe_load(original) or {}
    found = document.get("signature")
    signature = found if isinstance(found, dict) else {}
    document["signature"] = {
        "inputs": decision.inputs,
        "outputs": decision.outputs,
        "params": signature.get("params"),
    }
    return yaml.safe_dump(document, default_flow_style=False, sort_keys=False).encode("utf-8")
