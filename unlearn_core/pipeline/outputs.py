"""Output directories: refuse to clobber, replace a previous run cleanly, undo a run whose set-up failed.

A run directory is opened in two phases. ``begin_run`` checks it (nothing is created when that fails), creates it
and writes ``config.json``; with ``--overwrite`` the previous run's files are moved aside, not deleted. The command
then validates its inputs inside ``RunDir.setup()``: if that fails, what the run created is removed and the moved
files come back; if it succeeds, the previous run's files are deleted for good.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearn_core.errors import ConfigError, OutputDirError, UnlearnError
from unlearn_core.pipeline.diff import changed_keys
from unlearn_core.training.checkpoint import CHECKPOINTS_DIR, latest_checkpoint
from unlearn_core.training.diskio import os_error_reason, replace_dir, write_failure, write_json

RUN_OUTPUTS = (
    "config.json",
    "provenance.json",
    "summary_table.json",
    "checkpoints",
    "model",
    "evals",
    "runs",
    "attacks",
)
RUN_OUTPUT_SUFFIXES = (".jsonl", "_EVAL.json", "_SUMMARY.json")
REPLACED_PREFIX = ".unlearn-replaced-"


def is_run_output(name: str) -> bool:
    """True for the files and directories a run writes (an ``--overwrite`` replaces them; others are kept)."""
    if name.startswith("."):
        return ".tmp" in name or name.endswith(".old") or name.startswith(REPLACED_PREFIX)
    return name in RUN_OUTPUTS or name.endswith(RUN_OUTPUT_SUFFIXES)


def is_main_process() -> bool:
    """Process 0 (or the only one) owns the run directory's bookkeeping."""
    return int(os.environ.get("RANK", "0")) == 0


def check_output_dir(path: Path, *, overwrite: bool, resume: bool = False) -> None:
    """Raise OutputDirError if ``path`` cannot be used; creates nothing."""
    if overwrite and resume:
        raise ConfigError("--resume continues the run in its directory, --overwrite replaces it: give one")
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"output path {path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (overwrite or resume):
        raise OutputDirError(
            f"output directory {path} is not empty: pass --overwrite to replace it, --resume to continue it, "
            "or set task_name=/paths.output_dir="
        )
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise OutputDirError(f"cannot create output directory {path}: {existing} is not a directory")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise OutputDirError(f"cannot write output directory {path}: permission denied on {existing}")


def prepare_output_dir(path: Path, *, overwrite: bool, resume: bool = False) -> None:
    """Check ``path`` and create it."""
    check_output_dir(path, overwrite=overwrite, resume=resume)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputDirError(f"cannot create output directory {path}: {os_error_reason(exc)}") from None


@dataclass
class RunDir:
    """The output directory of one command, with what this run created (so a failed set-up can be undone)."""

    path: Path
    overwrite: bool = False
    resume: bool = False
    active: bool = False
    committed: bool = False
    created_root: Path | None = None
    written: list[Path] = field(default_factory=list)
    replaced: Path | None = None
    pending_config: dict[str, Any] | None = None

    def open(self, config: dict[str, Any], provenance: dict[str, Any] | None = None) -> None:
        """Create the directory, move a replaced run's files aside, write ``config.json`` (kept when resuming)."""
        self.active = True
        if not is_main_process():
            return
        if not self.path.exists():
            self.created_root = next(p for p in (*reversed(self.path.parents), self.path) if not p.exists())
        prepare_output_dir(self.path, overwrite=self.overwrite, resume=self.resume)
        if self.overwrite:
            self._move_previous_run_aside()
        if self.resume and (self.path / "config.json").exists():
            self.pending_config = config  # the interrupted run's files stay as they are until set-up succeeds
            return
        self._write("config.json", config)
        if provenance is not None:
            self._write("provenance.json", provenance)

    def _write(self, name: str, data: Any) -> None:
        path = self.path / name
        existed = path.exists()
        write_json(path, data)
        if not existed:
            self.written.append(path)

    def _move_previous_run_aside(self) -> None:
        old = [p for p in self.path.iterdir() if is_run_output(p.name) and not p.name.startswith(REPLACED_PREFIX)]
        for leftover in self.path.glob(f"{REPLACED_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        if not old:
            return
        self.replaced = self.path / f"{REPLACED_PREFIX}{os.getpid()}"
        try:
            self.replaced.mkdir()
            for entry in old:
                entry.rename(self.replaced / entry.name)
        except OSError as exc:
            raise OutputDirError(f"cannot replace the run in {self.path}: {os_error_reason(exc)}") from None

    def commit(self) -> None:
        """Set-up succeeded: delete the replaced run's files; when resuming, record the current configuration."""
        if self.committed or not self.active:
            return
        self.committed = True
        if not is_main_process():
            return
        if self.replaced is not None:
            shutil.rmtree(self.replaced, ignore_errors=True)
            self.replaced = None
        if self.pending_config is not None:
            write_json(self.path / "config.json", self.pending_config)
            self.pending_config = None

    def rollback(self) -> None:
        """Set-up failed: remove what this run wrote, bring back the replaced run, remove directories it created."""
        if self.committed or not self.active or not is_main_process():
            return
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written = []
        if self.replaced is not None and self.replaced.is_dir():
            for entry in self.replaced.iterdir():
                target = self.path / entry.name
                if not target.exists():
                    entry.rename(target)
            shutil.rmtree(self.replaced, ignore_errors=True)
            self.replaced = None
        if self.created_root is not None:
            for directory in (self.path, *self.path.parents):
                try:
                    directory.rmdir()  # only empty directories go
                except OSError:
                    break
                if directory == self.created_root:
                    break
        self.active = False

    @contextmanager
    def setup(self) -> Iterator[None]:
        """Validate and load inputs inside this block: a user error (or Ctrl-C) undoes the run directory."""
        try:
            yield
        except (UnlearnError, KeyboardInterrupt):
            self.rollback()
            raise
        self.commit()


_CURRENT: RunDir | None = None


def begin_run(path: Path, config: dict[str, Any], *, overwrite: bool, resume: bool, provenance: Any = None) -> RunDir:
    """Check and open the run directory of the command about to run; ``current_run`` returns it."""
    global _CURRENT
    if is_main_process():
        check_output_dir(path, overwrite=overwrite, resume=resume)
    run = RunDir(path, overwrite=overwrite, resume=resume)
    try:
        run.open(config, provenance)
    except (UnlearnError, KeyboardInterrupt):
        run.rollback()
        raise
    _CURRENT = run
    return run


def current_run(path: Path) -> RunDir:
    """The run directory opened by ``begin_run`` for ``path`` (an inert one when a command is called directly)."""
    if _CURRENT is not None and _CURRENT.path == path:
        return _CURRENT
    return RunDir(path)


def save_model_atomic(model: object, tokenizer: object, path: Path, state_dict: Any = None) -> None:
    """Save weights (safetensors) and tokenizer to a temporary sibling directory, then rename it into place.

    ``state_dict`` overrides the model's own weights (the consolidated weights of a sharded ZeRO-3 model)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        extra = {"state_dict": state_dict} if state_dict is not None else {}
        model.save_pretrained(tmp, safe_serialization=True, **extra)  # type: ignore[attr-defined]
        tokenizer.save_pretrained(tmp)  # type: ignore[attr-defined]
        replace_dir(tmp, path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, Exception) and not isinstance(exc, UnlearnError):
            raise write_failure(path, exc) from None
        raise


def os_error_message(exc: OSError, output_dir: Path | None = None) -> str:
    """One line for an OSError: ``cannot write saves/x/model: no space left on device``.

    An error without a file name comes from writing to an open file, so it is blamed on ``output_dir``.
    """
    reason = os_error_reason(exc)
    target = exc.filename if exc.filename is not None else output_dir
    if target is None:
        return reason
    if exc.filename is None or exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return f"cannot write {target}: {reason}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot access {target}: {reason}"
    return f"{target}: {reason}"


RESUME_MAY_CHANGE = (
    "trainer.args.skip_nonfinite_steps",
    "trainer.args.save_strategy",
    "trainer.args.save_steps",
    "trainer.args.save_total_limit",
    "trainer.args.logging_steps",
    "trainer.args.report_to",
    "trainer.args.logging_dir",
    "trainer.args.per_device_eval_batch_size",
    "generation.batch_size",
    "paths.cache_dir",
)
"""Keys a resumed run may change: they decide what is saved or logged, or batch sizes of inference only."""


def check_resumable(path: Path, mode: str, config: dict[str, Any]) -> None:
    """Raise unless ``path`` holds a run of the same configuration to continue (with a checkpoint, for training)."""
    import json

    config_file = path / "config.json"
    if not config_file.is_file():
        raise OutputDirError(f"nothing to resume in {path}: it holds no run (no config.json)")
    try:
        previous = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise OutputDirError(f"cannot resume: {config_file} cannot be read ({exc})") from None
    current = json.loads(json.dumps(config, default=str))
    changed = {k: v for k, v in changed_keys(previous, current).items() if k not in RESUME_MAY_CHANGE}
    if changed:
        shown = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in list(changed.items())[:5])
        raise ConfigError(
            f"cannot resume {path}: the configuration differs from the interrupted run's ({shown}); "
            "resume with the same options and overrides"
        )
    if mode in ("train", "unlearn") and latest_checkpoint(path) is None:
        raise OutputDirError(
            f"nothing to resume in {path}: no complete checkpoint in {path / CHECKPOINTS_DIR} (checkpoints are "
            "written with trainer.args.save_strategy=steps|epoch and when a run is stopped by SIGINT/SIGTERM)"
        )
