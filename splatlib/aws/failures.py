"""Readable messages from the errors Step Functions catches (DESIGN.md §5.7)."""

from __future__ import annotations

import json

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
        why = _batch_reason(detail)
    elif name == "States.Timeout":
        why = "it ran past its time limit"
    elif name == "States.HeartbeatTimeout":
        why = "it stopped reporting progress"
    else:
        why = (cause if isinstance(cause, str) and cause else name) or "an unknown error"
    return f"{stage} failed: {why}"[:1000]


def _batch_reason(job: dict) -> str:
    attempts = job.get("Attempts") or []
    container = (attempts[-1].get("Container") or {}) if attempts else {}
    texts = [t for t in (job.get("StatusReason"), container.get("Reason")) if t]
    for text in texts:
        for key, hint in _BATCH_HINTS.items():
            if key in text:
                return hint
    code = container.get("ExitCode")
    parts = ["the job stopped"] + ([f"with exit code {code}"] if code is not None else [])
    return " ".join(parts) + (f" ({'; '.join(texts)})" if texts else "")
