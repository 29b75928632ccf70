"""``unlearn compare`` on three tiny runs (a sweep): the table, the PNG and the HTML page, comparability."""

from __future__ import annotations

import base64
import json
import shutil
import struct
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from faultkit import TINY

from unlearn_core.cli import main
from unlearn_core.compare.plot import plottable_axes, render_png
from unlearn_core.compare.runs import collect
from unlearn_core.plugins import load_plugins
from unlearn_core.table import format_value

pytestmark = pytest.mark.slow

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LEARNING_RATES = ["1e-3", "3e-3", "1e-2"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, offline_dir: Any) -> Iterator[Path]:
    """Three two-epoch NPO runs with an evaluation after each epoch (curves in eval_log.jsonl)."""
    with offline_dir(tmp_path_factory.mktemp("compare")) as root:
        args = ["run", "-b", "tofu", "-m", "npo", *TINY, "trainer.args.num_train_epochs=2"]
        args += ["trainer.args.eval_strategy=epoch", "task_name=cmp", "--multirun"]
        result = CliRunner().invoke(main, [*args, f"trainer.args.learning_rate={','.join(LEARNING_RATES)}"])
        assert result.exit_code == 0, result.output
        yield root / "saves/unlearn/cmp"


def compare(*args: Any) -> Result:
    return CliRunner().invoke(main, ["compare", *map(str, args)])


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


class Page(HTMLParser):
    """Table cells, image sources and anything that would load from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.images: list[str] = []
        self.external: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self._in_cell = tag in ("td", "th")
        if tag == "td":
            self.cells.append("")
        if tag == "img":
            self.images.append(values.get("src") or "")
        for name in ("src", "href"):
            if (values.get(name) or "").startswith(("http:", "https:", "//")) or tag in ("link", "script"):
                self.external.append(f"{tag} {values}")

    def handle_endtag(self, tag: str) -> None:
        self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell and self.cells:
            self.cells[-1] += data.strip()


def test_compare_a_sweep_writes_the_table_the_plot_and_a_self_contained_page(sweep, tmp_path):
    plot, page = tmp_path / "tradeoff.png", tmp_path / "report.html"
    result = compare(sweep, "--plot", plot, "--html", page)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["run", "learning_rate", "forget_quality", "model_utility"]
    assert [line.split()[0] for line in lines[2:7]] == ["target", "retain", "0", "1", "2"]
    assert [line.split()[1] for line in lines[4:7]] == LEARNING_RATES

    data = plot.read_bytes()
    width, height = png_size(data)
    assert width >= 1000 and height >= 600
    parsed = Page()
    parsed.feed(page.read_text())
    assert parsed.external == []
    assert len(parsed.images) == 1 and parsed.images[0].startswith("data:image/png;base64,")
    assert base64.b64decode(parsed.images[0].split(",", 1)[1]) == data
    for n in range(3):
        summary = json.loads((sweep / f"{n}/evals/TOFU_SUMMARY.json").read_text())
        assert format_value(summary["forget_quality"]) in parsed.cells
        assert format_value(summary["model_utility"]) in parsed.cells
    assert {"target", "retain", "0", "1", "2", *LEARNING_RATES} <= set(parsed.cells)


def test_compare_json_holds_each_runs_summary_and_its_curve(sweep):
    result = compare(sweep / "0", sweep / "1", sweep / "2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [run["name"] for run in data["runs"]] == ["0", "1", "2"]
    for n, run in enumerate(data["runs"]):
        assert run["summary"] == json.loads((sweep / f"{n}/evals/TOFU_SUMMARY.json").read_text())
        assert [point["step"] for point in run["curve"]] == [1, 2]  # one evaluation per epoch
    assert set(data["reference"]) == {"target", "retain"} and data["not_comparable"] == []
    assert data["labels"]["forget_quality"] == "forget_quality"


def test_runs_that_diff_calls_incomparable_are_refused_unless_forced(sweep, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(sweep / "2", other)
    config = json.loads((other / "config.json").read_text())
    config["forget_split"] = "forget05"
    (other / "config.json").write_text(json.dumps(config))
    refused = compare(sweep, other, "--plot", tmp_path / "no.png")
    assert refused.exit_code == 1
    assert "not comparable" in refused.stderr and "forget_split forget10 vs forget05" in refused.stderr
    assert "--force" in refused.stderr and not (tmp_path / "no.png").exists()

    forced = compare(sweep, other, "--force")
    assert forced.exit_code == 0, forced.output
    assert "note: not comparable, compared with --force" in forced.stderr
    assert [line.split()[0] for line in forced.stdout.splitlines()[4:8]] == ["cmp/0", "cmp/1", "cmp/2", "other"]


def test_unfinished_runs_of_a_sweep_are_left_out_with_a_note(sweep, tmp_path):
    copy = tmp_path / "partial"
    shutil.copytree(sweep, copy)
    record = json.loads((copy / "sweep.json").read_text())
    record["runs"][1]["status"] = "failed"
    (copy / "sweep.json").write_text(json.dumps(record))
    result = compare(copy)
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()[4:]] == ["0", "2"]
    assert "left out (not finished): 1 (failed)" in result.stderr


def test_a_path_without_a_run_is_refused(tmp_path):
    result = compare(tmp_path)
    assert result.exit_code == 2 and "holds no run or sweep" in result.stderr


def muse_run(root: Path, name: str, knowmem_f: float, knowmem_r: float, privleak: float) -> Path:
    """A run directory as a finished MUSE run leaves it (the files compare reads)."""
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"mode": "unlearn", "benchmark": "muse", "seed": 0}))
    columns = ["forget_verbmem_ROUGE", "forget_knowmem_ROUGE", "retain_knowmem_ROUGE", "privleak"]
    labels = {"forget_verbmem_ROUGE": "verbmem_f", "forget_knowmem_ROUGE": "knowmem_f"}
    labels["retain_knowmem_ROUGE"] = "knowmem_r"

    def row(f: float, r: float, p: float) -> dict[str, float]:
        return dict(zip(columns, [f / 2, f, r, p]))

    rows = {
        "target": row(0.9, 0.6, -90.0),
        "retain": row(0.2, 0.55, 0.0),
        "unlearned": row(knowmem_f, knowmem_r, privleak),
    }
    (run / "summary_table.json").write_text(json.dumps({"rows": rows, "columns": columns, "labels": labels}))
    return run


def test_muse_gets_its_own_axes_knowmem_and_privleak(tmp_path):
    runs = [muse_run(tmp_path, f"muse_{n}", 0.3 + n / 10, 0.5 - n / 20, -40.0 + 10 * n) for n in range(3)]
    comparison = collect(runs)
    panels = plottable_axes(comparison, load_plugins().benchmarks.get("muse").tradeoff_plots)
    assert [(p.x, p.y) for p in panels] == [
        ("retain_knowmem_ROUGE", "forget_knowmem_ROUGE"),
        ("retain_knowmem_ROUGE", "privleak"),
    ]
    headers, rows = comparison.table()
    assert headers == ["run", "verbmem_f", "knowmem_f", "knowmem_r", "privleak"]
    assert [row[0] for row in rows] == ["target", "retain", "muse_0", "muse_1", "muse_2"]
    width, height = png_size(render_png(comparison, panels, "muse"))
    assert width > 1.6 * height  # two panels side by side


def test_plots_without_matplotlib_name_the_package(sweep, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = compare(sweep, "--html", tmp_path / "r.html")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: plots need matplotlib, which is not installed: pip install matplotlib (or the 'plots' extra)"
    )
