"""Evaluators (``register_evaluators``, ``eval=NAME``): their settings in the configuration, checked before any model
loads, and run on the model after the benchmark's evaluation; a multiple-choice data set scored by the engine equals
a plain forward pass; ``eval_steps`` as a share of the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

from unlearn_core import Evaluator, EvaluatorResult, entries, hookimpl
from unlearn_core.config import resolve_config
from unlearn_core.errors import ConfigError
from unlearn_core.evaluation.engine import EvaluationEngine
from unlearn_core.evaluation.suite import EvalDataset, EvalSuite
from unlearn_core.models.tiny import TinyLlamaSize, build_tiny_llama, train_tokenizer
from unlearn_core.pipeline.evaluators import run_evaluators
from unlearn_core.plugins import load_plugins
from unlearn_core.token_rules import PromptTemplate
from unlearn_core.training.settings import check_training_args, eval_interval


class Echo(Evaluator):
    """Writes the number of parameters of the model it is given."""

    name: ClassVar[str] = "echo"
    defaults: ClassVar[dict[str, Any]] = {"label": "x", "extra": {}}
    open_sections: ClassVar[tuple[str, ...]] = ("extra",)
    checked: ClassVar[list[str]] = []

    def check(self, cfg: dict[str, Any]) -> None:
        if self.settings(cfg)["label"] == "bad":
            raise ConfigError("eval.echo.label must not be 'bad'")
        self.checked.append(self.settings(cfg)["label"])

    def evaluate(self, model: Any, tokenizer: Any, cfg: dict[str, Any], out_dir: Path) -> EvaluatorResult:
        path = out_dir / "ECHO.txt"
        path.write_text(f"{self.settings(cfg)['label']} {sum(p.numel() for p in model.parameters())} {model.training}")
        return EvaluatorResult({"echo/n": 1}, {"echo": path})


class EchoPlugin:
    __name__ = "echo_plugin"

    @staticmethod
    @hookimpl
    def register_evaluators(register: Any) -> None:
        register(Echo.name, Echo())


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(extra=[EchoPlugin()])


def _resolve(plugins, *overrides: str):
    return resolve_config("eval", plugins, benchmark="tofu", overrides=list(overrides))


def test_eval_selects_an_evaluator_whose_section_is_checked(plugins):
    Echo.checked.clear()
    cfg = _resolve(plugins, "eval=echo", "eval.echo.label=hello", "eval.echo.extra.anything=3").values
    assert cfg["eval"]["evaluators"] == ["echo"] and cfg["eval"]["benchmark"] == "tofu"
    assert cfg["eval"]["echo"] == {"label": "hello", "extra": {"anything": 3}}
    assert Echo.checked == ["hello"]
    assert _resolve(plugins).values["eval"]["evaluators"] == []


def test_evaluator_errors_come_before_any_model(plugins):
    with pytest.raises(ConfigError, match="eval.echo.label must not be 'bad'"):
        _resolve(plugins, "eval=echo", "eval.echo.label=bad")
    with pytest.raises(ConfigError, match="evaluator echo, which this run does not use: add eval=echo"):
        _resolve(plugins, "eval.echo.label=hello")
    with pytest.raises(ConfigError, match=r"unknown eval \(a benchmark or an evaluator\) 'ecko'.*echo"):
        _resolve(plugins, "eval=ecko")


def test_selected_evaluators_run_on_the_model_in_eval_mode(plugins, tmp_path):
    cfg = _resolve(plugins, "eval=echo").values
    model = torch.nn.Linear(2, 3)
    files = run_evaluators(cfg, plugins, model, None, tmp_path / "evals")
    assert files == {"echo": tmp_path / "evals" / "ECHO.txt"}
    assert (tmp_path / "evals" / "ECHO.txt").read_text() == "x 9 False" and model.training


def test_choice_data_set_scores_each_choice_as_a_plain_forward_does():
    texts = ["Q: red or blue?\nA. red\nB. blue\nAnswer: A B"] * 20
    tokenizer = train_tokenizer(texts, 300)
    model = build_tiny_llama(tokenizer, TinyLlamaSize(300, 32, 64, 2, 2, 2, 128), seed=1).eval()
    rows = [{"context": "Q: red or blue?\nA. red\nB. blue\nAnswer:", "labels": ["A", "B"], "answer": 1}]
    suite = EvalSuite("toy", {"q": EvalDataset("q", rows, "context", "choice", insert_space=True)}, {}, [])
    suite.entries["acc"] = entries.multiple_choice("acc", "q", choices="labels")
    engine = EvaluationEngine(
        model, tokenizer, PromptTemplate(tokenizer, {}, 128), suite, load_plugins(entry_points=False).metrics,
        batch_size=2, generation={"max_new_tokens": 4, "batch_size": 2}, progress=False,
    )  # fmt: skip
    record = engine.run(["acc"])["acc"]["value_by_index"]["0"]
    context = tokenizer(rows[0]["context"])["input_ids"]
    for label, ll in zip("AB", record["loglikelihoods"]):
        whole = tokenizer(rows[0]["context"] + " " + label)["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([whole])).logits[0].float(), -1)
        expected = sum(float(logp[t - 1, whole[t]]) for t in range(len(context), len(whole)))
        assert ll == pytest.approx(expected, abs=1e-5)
    assert record["pred"] == int(record["loglikelihoods"][1] > record["loglikelihoods"][0])


def test_eval_steps_as_a_share_of_the_run():
    assert eval_interval(0.5, 80) == 40 and eval_interval(0.3, 7) == 3 and eval_interval(5, 80) == 5
    args = {"eval_steps": 5.0}
    check_training_args(args, "unlearn")
    assert args["eval_steps"] == 5 and isinstance(args["eval_steps"], int)
    with pytest.raises(ConfigError, match="share of the run's steps"):
        check_training_args({"eval_steps": 1.5}, "unlearn")
