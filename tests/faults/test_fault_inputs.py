"""User-supplied files that are wrong: one line naming the file and the problem, and no output directory left."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from faultkit import TINY

from unlearn_core.cli import main

EVAL_ONE_METRIC = ["eval", "-b", "tofu", "eval.metrics=[forget_Q_A_Prob]", "paths.output_dir=o", *TINY]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def error_line(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def eval_model(path: Path | str, *extra: str) -> Result:
    return invoke(*EVAL_ONE_METRIC, f"model.model_args.pretrained_model_name_or_path={path}", *extra)


class _Planted:
    """Unpickling this creates a file: proof that the pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.write_text, (self.marker, "executed"))


def model_dir(root: Path, config: str = '{"model_type": "llama"}') -> Path:
    path = root / "model"
    path.mkdir()
    (path / "config.json").write_text(config)
    return path


def test_model_dir_with_only_pickle_weights_is_refused_unread(workdir):
    path = model_dir(workdir)
    marker = workdir / "EXECUTED"
    (path / "pytorch_model.bin").write_bytes(pickle.dumps(_Planted(marker)))
    line = error_line(eval_model(path))
    assert str(path) in line and "pytorch_model.bin" in line and "safetensors" in line
    assert not marker.exists()
    assert not (workdir / "o").exists()


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda root: root / "missing", "model directory not found: {root}/missing"),
        (lambda root: model_dir(root, "{broken"), "{root}/model/config.json is not valid JSON"),
        (lambda root: model_dir(root, "[1, 2]"), "{root}/model/config.json must hold a JSON object"),
        (lambda root: model_dir(root), "{root}/model holds no weights (*.safetensors)"),
    ],
)
def test_model_dir_problems_name_the_file(workdir, setup, expected):
    path = setup(workdir)
    line = error_line(eval_model(path))
    assert expected.format(root=workdir) in line
    assert not (workdir / "o").exists()


def test_custom_model_code_is_not_run_without_trust_remote_code(workdir):
    marker = workdir / "EXECUTED"
    config = {
        "model_type": "planted",
        "auto_map": {"AutoConfig": "planted.PlantedConfig", "AutoModelForCausalLM": "planted.PlantedModel"},
    }
    path = model_dir(workdir, json.dumps(config))
    (path / "planted.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('executed')\n")
    (path / "model.safetensors").write_bytes(b"")
    line = error_line(eval_model(path))
    assert f"{path}/config.json" in line and "model.trust_remote_code=true" in line
    assert not marker.exists()
    assert not (workdir / "o").exists()


def test_trust_remote_code_is_passed_only_when_asked(workdir, monkeypatch):
    import transformers

    seen: list[bool] = []

    def record(name: str, *args: Any, trust_remote_code: bool = False, **kwargs: Any) -> Any:
        seen.append(trust_remote_code)
        raise OSError("stop here")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", record)
    path = model_dir(workdir)
    (path / "model.safetensors").write_bytes(b"")
    error_line(eval_model(path))
    error_line(eval_model(path, "model.trust_remote_code=true"))
    assert seen == [False, True]


def test_missing_and_malformed_data_files_name_the_file_and_line(workdir):
    data = workdir / "tofu_data"
    data.mkdir()
    args = ["eval", "-b", "tofu", "paths.output_dir=o", f"data.source={data}", "eval.metrics=[forget_Q_A_Prob]"]
    line = error_line(invoke(*args))
    assert f"missing TOFU file '{data}/" in line
    from unlearn_tofu.embedded import generate_tofu
    from unlearn_tofu.sources import write_tofu_dir

    write_tofu_dir(generate_tofu(n_authors=10, questions_per_author=3), data)  # every file, then one broken
    needed = data / "forget10_perturbed.jsonl"
    needed.write_text("\n{not json\n")
    line = error_line(invoke(*args))
    assert f"{needed} line 2: invalid JSON" in line
    needed.write_text('{"question": "q"}\n')
    line = error_line(invoke(*args))
    assert str(needed) in line and "answer" in line
    assert not (workdir / "o").exists()


def test_retain_logs_of_another_split_leave_nothing_behind(workdir):
    logs = workdir / "TOFU_EVAL.json"
    logs.write_text(
        json.dumps(
            {"forget_truth_ratio": {}, "mia_min_k": {}, "manifest": {"benchmark": "tofu", "forget_split": "forget01"}}
        )
    )
    line = error_line(invoke("run", "-b", "tofu", "-m", "npo", f"retain_logs_path={logs}", "paths.output_dir=o"))
    assert str(logs) in line and "forget_split='forget01'" in line
    assert not (workdir / "o").exists()


def test_unknown_experiment_preset(workdir):
    line = error_line(invoke("run", "-m", "npo", "experiment=unlearn/tofu/defualt", "paths.output_dir=o"), 2)
    assert "unlearn/tofu/defualt" in line and "unlearn/tofu/default" in line
    assert not (workdir / "o").exists()
