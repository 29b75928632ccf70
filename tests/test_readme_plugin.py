"""The README's plugin example, exactly as written: its code blocks become a package, installed as a plugin (its
distribution metadata with the entry point of its pyproject.toml, on PYTHONPATH), and ``unlearn run`` trains with it
on the embedded TOFU, with the KL retain loss that needs the frozen reference model."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = [
    "data.embedded.n_authors=10",
    "data.embedded.questions_per_author=6",
    "data.embedded.base_epochs=1",
    "data.embedded.finetune_epochs=1",
    "generation.max_new_tokens=8",
    "trainer.args.num_train_epochs=2",
    "trainer.args.per_device_train_batch_size=2",
]


def readme_files() -> dict[str, str]:
    """The code blocks of the README's "Writing a plugin" section, by the path their first line names."""
    section = README.read_text(encoding="utf-8").split("## Writing a plugin", 1)[1].split("\n## ", 1)[0]
    files = {}
    for block in re.findall(r"```(?:toml|python)\n(.*?)```", section, re.S):
        first = block.splitlines()[0]
        assert first.startswith("# "), f"a README code block does not start with '# <path>': {first!r}"
        files[first[2:].strip()] = block
    return files


def install(files: dict[str, str], root: Path) -> dict[str, str]:
    """Write the package into ``root`` and its distribution metadata beside it; the environment that finds both."""
    tomllib = pytest.importorskip("tomllib")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    project = tomllib.loads(files["pyproject.toml"])["project"]
    info = root / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    points = "".join(f"{k} = {v}\n" for k, v in project["entry-points"]["unlearn"].items())
    (info / "entry_points.txt").write_text(f"[unlearn]\n{points}")
    return {"PYTHONPATH": os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}


def test_the_readme_plugin_example_runs_as_written_with_the_kl_retain_loss(tmp_path):
    files = readme_files()
    assert set(files) == {"pyproject.toml", "unlearn_mymethod/plugin.py", "unlearn_mymethod/method.py"}
    env = {k: v for k, v in os.environ.items() if k != "UNLEARN_DISABLE_PLUGINS"}
    env.update(UNLEARN_CACHE_DIR=str(tmp_path / "cache"), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    env.update(install(files, tmp_path / "site"))
    out = tmp_path / "run"
    args = ["run", "--benchmark", "tofu", "--method", "mymethod", *TINY, "trainer.method_args.retain_loss_type=KL"]
    done = subprocess.run(
        [sys.executable, "-m", "unlearn_core", *args, f"paths.output_dir={out}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(records) == 6
    assert all(math.isfinite(r["loss"]) and {"forget_loss", "retain_loss"} <= set(r) for r in records)
    assert records[0]["retain_loss"] == pytest.approx(0.0, abs=1e-6)  # KL to the starting model, itself at first
    assert records[-1]["retain_loss"] > 1e-6
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["reference_model"] == "replica" and "mymethod" in provenance["plugins"]
    assert json.loads((out / "config.json").read_text())["trainer"]["name"] == "MyMethod"
