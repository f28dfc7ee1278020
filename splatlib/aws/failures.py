"""Readable messages from the errors Step Functions catches (DESIGN.md §5.7)."""

from __future__ import annotations

import json
import os

_BATCH_HINTS = {
    "Host EC2": "the Spot instance running it was reclaimed",
    "OutOfMemory": "it ran out of memory",
    "CannotPullContainer": "its container image could not be pulled",
}


def describe_failure(stage: str, error: dict | None) -> str:
    """One line for a user: `<stage> failed: <why>`, from a Catch's {Error, Cause}."""
    error = error or {}
    name, cause = str(error.get("Error") or ""), error.get("Cause") or ""
    try:
        detail = json.loads(cause) if isinstance(cause, str) else cause
    except json.JSONDecodeError:
        detail = None
    if isinstance(detail, dict) and detail.get("errorMessage"):  # a Lambda function raised
        why = str(detail["errorMessage"])
        prefix = f"{stage} failed: "
        return why if why.startswith(prefix) else prefix + why
    if isinstance(detail, dict) and ("StatusReason" in detail or "Attempts" in detail):  # a Batch job ended FAILED
        why = _batch_reason(stage, detail)
    elif name == "States.Timeout":
        why = "it ran past its time limit"
    elif name == "States.HeartbeatTimeout":
        why = "it stopped reporting progress"
    else:
        why = (cause if isinstance(cause, str) and cause else name) or "an unknown error"
    return f"{stage} failed: {why}"[:1000]


def _batch_reason(stage: str, job: dict) -> str:
    attempts = job.get("Attempts") or []
    container = (attempts[-1].get("Container") or {}) if attempts else {}
    texts = [t for t in (job.get("StatusReason"), container.get("Reason")) if t]
    if any("INSUFFICIENT_INSTANCE_CAPACITY" in t for t in texts):  # the queue's RUNNABLE time limit (batch.tf)
        kind = "GPU" if stage == "train" else "CPU"
        region = os.environ.get("AWS_REGION", "this region")
        wait = os.environ.get("QUEUE_WAIT_MINUTES", "?")
        return (f"no {kind} capacity in {region} after {wait} minutes; retry later, or ask AWS for more "
                f"{'G-instance ' if kind == 'GPU' else ''}Spot/on-demand vCPU quota")
    for text in texts:
        for key, hint in _BATCH_HINTS.items():
            if key in text:
                return hint
    code = container.get("ExitCode")
    parts = ["the job stopped"] + ([f"with exit code {code}"] if code is not None else [])
    return " ".join(parts) + (f" ({'; '.join(texts)})" if texts else "")
