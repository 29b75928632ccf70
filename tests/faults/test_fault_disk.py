"""A really full disk (a 1 MiB tmpfs; skipped where mounting is not allowed): one line, no leftovers."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from faultkit import STEPPY, TINY, assert_nothing_half_written

from unlearn_core.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture
def full_disk(cached_workdir: Path) -> Iterator[Path]:
    """A 1 MiB file system: room for configurations and logs, not for the tiny model's weights (3.6 MB)."""
    mount = shutil.which("mount")
    path = cached_workdir / "small"
    path.mkdir()
    if mount is None or os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    done = subprocess.run([mount, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], capture_output=True, check=False)


@pytest.mark.parametrize(
    ("overrides", "failing"),
    [
        (["trainer.args.save_strategy=steps", "trainer.args.save_steps=2"], "o/checkpoints/step-2"),
        ([], "o/model"),
    ],
)
def test_disk_full_is_reported_as_such(full_disk, overrides, failing):
    out = full_disk / "o"
    argv = ["run", "-b", "tofu", "-m", "npo", *TINY, *STEPPY, f"paths.output_dir={out}", *overrides]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert (
        result.stderr.strip().splitlines()[-1] == f"Error: cannot write {full_disk / failing}: no space left on device"
    )
    assert (out / "config.json").is_file()
    assert_nothing_half_written(full_disk)
