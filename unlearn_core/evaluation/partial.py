"""Resumable evaluation: finished entries saved atomically as they complete, reused by a rerun of the same run.

The partial file ``<out_dir>/.<BENCH>_EVAL.partial.jsonl`` holds JSON lines: first a resume key (the manifest, a
fingerprint of the model's weights and a digest of the retain logs), then one finished entry per line with its
definition. The first save of an evaluation writes the file whole (atomically); each later entry is appended as one
line and synced, so saving costs what the new entry costs, not what all the finished ones do. A last line cut short
by an interruption is ignored.

A later evaluation into the same directory reuses an entry only when the key is identical and the entry's definition
is unchanged; everything else (including the statistics and generations that unfinished entries need) is
recomputed. The file is removed once the final result files are written.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from unlearn_core.evaluation.suite import EvalSuite
from unlearn_core.training.diskio import json_line, json_ready, write_text

SAMPLES_PER_TENSOR = 4096


def model_fingerprint(model: torch.nn.Module) -> str:
    """A cheap digest of the weights: names, shapes and up to 4096 evenly spaced values of every tensor (of this
    process's slice for a ZeRO-3-partitioned parameter)."""
    digest = hashlib.sha256()
    with torch.no_grad():
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            tensor = getattr(tensor, "ds_tensor", tensor)
            flat = tensor.detach().reshape(-1)
            step = max(1, flat.numel() // SAMPLES_PER_TENSOR)
            digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
            digest.update(flat[::step].float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def _all_processes(fingerprint: str) -> str:
    """One fingerprint for the model across processes: each process's own (of its weights, or of its ZeRO-3 slice),
    combined in rank order, so every process holds the same key."""
    import torch.distributed as dist

    every: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(every, fingerprint)
    return hashlib.sha256(":".join(every).encode()).hexdigest()[:16]


def logs_digest(logs: dict[str, Any] | None) -> str | None:
    """Digest of retain logs (entries such as forget_quality depend on them)."""
    if logs is None:
        return None
    return hashlib.sha256(json.dumps(logs, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _normalised(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, non-finite floats None)."""
    return json.loads(json.dumps(json_ready(value)))


class PartialResults:
    """The partial-results file of one evaluation: load what can be reused, save after each entry, remove."""

    def __init__(self, path: Path, resume_key: dict[str, Any], *, shared: bool = False) -> None:
        self.path = path
        self.resume_key = _normalised(resume_key)
        self.shared = shared
        """True when every process of a multi-process run evaluates together (process 0 reads and writes)."""
        self._saved: set[str] | None = None
        """Entries already in the file written by this evaluation (None: not written yet)."""

    @classmethod
    def in_dir(
        cls,
        out_dir: Path,
        benchmark: str,
        manifest: dict[str, Any],
        model: torch.nn.Module,
        retain_logs: dict[str, Any] | None,
        *,
        shared: bool = False,
    ) -> PartialResults:
        """The partial store of ``<out_dir>/.<BENCH>_EVAL.partial.jsonl`` for this model and manifest; ``shared``
        when every process of a multi-process run takes part in this evaluation (they must all call this)."""
        fingerprint = model_fingerprint(model)
        if shared:
            fingerprint = _all_processes(fingerprint)
        key = {"manifest": manifest, "model": fingerprint, "retain_logs": logs_digest(retain_logs)}
        return cls(out_dir / f".{benchmark.upper()}_EVAL.partial.jsonl", key, shared=shared)

    def reusable(self, suite: EvalSuite) -> dict[str, dict[str, Any]]:
        """Entries of an earlier interrupted run that this run can reuse (warns when the file is stale).

        When ``shared``, process 0 decides and the others receive its answer, so every process computes the same
        remaining entries (their collectives stay in step)."""
        import torch.distributed as dist

        if not self.shared:
            return self._reusable(suite)
        answer = [self._reusable(suite) if dist.get_rank() == 0 else None]
        dist.broadcast_object_list(answer, src=0)
        return answer[0] or {}

    def _reusable(self, suite: EvalSuite) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        try:
            key, entries = read_partial_file(self.path)
        except (OSError, ValueError, KeyError, TypeError):
            warnings.warn(f"ignoring unreadable partial results {self.path}", stacklevel=2)
            return {}
        if key != self.resume_key:
            differ = sorted(k for k in set(key) | set(self.resume_key) if key.get(k) != self.resume_key.get(k))
            detail = _manifest_difference(key.get("manifest"), self.resume_key.get("manifest"))
            warnings.warn(
                f"not resuming from {self.path}: {', '.join(differ)} differ{detail}; recomputing everything",
                stacklevel=2,
            )
            return {}
        out = {}
        for name, value in entries.items():
            entry = suite.entries.get(name)
            if entry is not None and isinstance(value, dict):
                if value.get("definition") == _normalised(entry.definition()):
                    out[name] = value
        return out

    def save(self, results: dict[str, dict[str, Any]]) -> None:
        """Save the finished entries (only process 0 when ``shared``): the first call writes the file whole and
        atomically, later ones append the entries it does not hold yet."""
        import torch.distributed as dist

        if self.shared and dist.get_rank() != 0:
            return
        if self._saved is None:
            lines = [{"resume_key": self.resume_key}, *({"entry": k, "value": v} for k, v in results.items())]
            write_text(self.path, "".join(json_line(line) for line in lines))
        else:
            appended = "".join(json_line({"entry": k, "value": v}) for k, v in results.items() if k not in self._saved)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(appended)
                f.flush()
                os.fsync(f.fileno())
        self._saved = set(results)

    def remove(self) -> None:
        """Delete the partial file (the final result files are complete)."""
        self.path.unlink(missing_ok=True)


def read_partial_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The resume key and the entries (the last line of a name wins) of a partial file; a last line cut short is
    skipped, anything else malformed raises ValueError (or KeyError / TypeError for a wrong shape)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ValueError(f"{path} is empty")
    key = json.loads(lines[0])["resume_key"]
    entries: dict[str, Any] = {}
    for number, line in enumerate(lines[1:], start=2):
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):
                break  # the interrupted last append
            raise
        entries[record["entry"]] = record["value"]
    return key, entries


def _manifest_difference(old: Any, new: Any) -> str:
    if not isinstance(old, dict) or not isinstance(new, dict) or old == new:
        return ""
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return f" (manifest keys: {', '.join(keys)})"
