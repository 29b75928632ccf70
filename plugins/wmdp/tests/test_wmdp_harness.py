"""``eval=lm_eval`` runs lm-evaluation-harness itself, offline, on a task defined here with local data files, and
its accuracy and per-choice log-likelihoods equal our ``multiple_choice`` entry's on the same questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("lm_eval", reason="lm-evaluation-harness is not installed (pip install 'unlearn-core[lm-eval]')")

from unlearn_wmdp.embedded import generate_wmdp  # noqa: E402
from unlearn_wmdp.prompts import context  # noqa: E402
from unlearn_wmdp.sources import write_wmdp_dir  # noqa: E402

from unlearn_core.cli import main  # noqa: E402
from unlearn_core.models.tiny import TinyLlamaSize, build_tiny_llama, save_model, train_tokenizer  # noqa: E402

TASK = """task: local_wmdp_cyber
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
description: "The following are multiple choice questions (with answers) about cybersecurity.\\n\\n"
doc_to_text: "{{{{question.strip()}}}}\\nA. {{{{choices[0]}}}}\\nB. {{{{choices[1]}}}}\\nC. {{{{choices[2]}}}}\\nD. \
{{{{choices[3]}}}}\\nAnswer:"
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: answer
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1
"""


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny random Llama, a data directory of 12 embedded questions, and a harness task over the same file."""
    root = tmp_path_factory.mktemp("harness")
    files = generate_wmdp("cyber", n_hazard=4, n_benign=1, n_general=2)
    write_wmdp_dir({k: v for k, v in files.items() if k in ("wmdp-cyber", "mmlu")}, root / "data")
    texts = [context(row, "cybersecurity") + " A B C D" for row in files["wmdp-cyber"] + files["mmlu"]]
    tokenizer = train_tokenizer(texts * 5, 400)
    size = TinyLlamaSize(400, 32, 64, 2, 2, 2, 256)
    save_model(build_tiny_llama(tokenizer, size, seed=3), tokenizer, root / "model")
    (root / "tasks").mkdir()
    (root / "tasks" / "local_wmdp_cyber.yaml").write_text(TASK.format(data=root / "data" / "wmdp-cyber.jsonl"))
    return {"root": root, "data": root / "data", "model": root / "model", "tasks": root / "tasks"}


def _eval(setting: dict[str, Path], *extra: str, out: str = "out") -> object:
    args = [
        "eval",
        "--benchmark",
        "wmdp",
        f"model.model_args.pretrained_model_name_or_path={setting['model']}",
        f"data.source={setting['data']}",
        f"paths.output_dir={setting['root'] / out}",
        "eval=lm_eval",
        f"eval.lm_eval.include_path={setting['tasks']}",
        "eval.lm_eval.include_defaults=false",
        "eval.lm_eval.simple_evaluate_args.batch_size=4",
        *extra,
    ]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_harness_accuracy_equals_our_multiple_choice_metric(setting, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = _eval(setting, "eval.lm_eval.tasks=[local_wmdp_cyber]")
    assert result.exit_code == 0, result.output[-3000:]
    out = setting["root"] / "out"
    ours = json.loads((out / "WMDP_EVAL.json").read_text())["wmdp_cyber"]
    summary = json.loads((out / "LMEval_SUMMARY.json").read_text())
    samples = json.loads((out / "LMEval_EVAL.json").read_text())["local_wmdp_cyber"]["local_wmdp_cyber"]
    assert summary["local_wmdp_cyber/acc"] == pytest.approx(ours["agg_value"], abs=1e-12)
    assert summary["local_wmdp_cyber/acc_norm"] == pytest.approx(ours["acc_norm"], abs=1e-12)
    assert len(samples) == len(ours["value_by_index"]) == 12
    for sample in samples:
        mine = ours["value_by_index"][str(sample["doc_id"])]
        theirs = [resp[0][0] for resp in sample["resps"]]
        assert mine["loglikelihoods"] == pytest.approx(theirs, abs=1e-4)
        assert mine["acc"] == sample["acc"] and mine["target"] == sample["target"]


def test_a_task_the_harness_does_not_know_is_one_line_and_exit_2(setting):
    result = _eval(setting, "eval.lm_eval.tasks=[local_wmdp_cyberr]", out="unknown")
    assert result.exit_code == 2
    message = result.output.strip()
    assert len(message.splitlines()) == 1
    assert "unknown lm-evaluation-harness task 'local_wmdp_cyberr'" in message and "local_wmdp_cyber'?" in message
    assert not (setting["root"] / "unknown").exists()
