"""``classifier_prob`` (the reference's gibberish score): a sequence classifier's class probability on the
generations of another entry, checked against the classifier run by hand on each text alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from unlearn_core import entries
from unlearn_core.errors import ConfigError, DataError
from unlearn_core.evaluation.builtin.classifier import ClassifierArgs
from unlearn_core.evaluation.builtin.classifier import compute as classifier_prob
from unlearn_core.evaluation.suite import MetricEntry
from unlearn_core.metrics.classifier import load_classifier
from unlearn_core.models.tiny import train_tokenizer

TEXTS = ["the cat sat on the mat", "zzq xqv qqz", "a clear and simple answer", ""]


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import LlamaConfig, LlamaForSequenceClassification

    tokenizer = train_tokenizer(TEXTS * 3 + ["cat mat answer simple clear"], 300)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        num_labels=2,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(config)
    path = tmp_path_factory.mktemp("classifier")
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


class Context:
    """What the metric sees: the ROUGE entry it reads, and the classifier loader."""

    def __init__(self, generations: list[Any]) -> None:
        self.rouge = {"value_by_index": {str(i): {"generation": g} for i, g in enumerate(generations)}}

    def result(self, key: str) -> dict[str, Any]:
        assert key == "forget_Q_A_ROUGE"
        return self.rouge

    def classifier(self, path: str) -> tuple[Any, Any]:
        return load_classifier(path, torch.device("cpu"))


def _by_hand(path: Path, text: str, class_id: int) -> float:
    model, tokenizer = load_classifier(str(path), torch.device("cpu"))
    ids = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        logits = model(**ids).logits[0].double()
    return float(torch.exp(logits[class_id] - torch.logsumexp(logits, dim=0)))


def test_class_probability_of_each_generation_equals_the_classifier_run_alone(classifier_dir: Path) -> None:
    args = ClassifierArgs("forget_Q_A_ROUGE", str(classifier_dir), class_id=1, batch_size=3)
    out = classifier_prob(Context(TEXTS), MetricEntry("forget_Q_A_gibberish", "classifier_prob", None, args))
    expected = [_by_hand(classifier_dir, t, 1) for t in TEXTS]
    got = [out["value_by_index"][str(i)]["score"] for i in range(len(TEXTS))]
    assert got == pytest.approx(expected, rel=1e-5)
    assert out["value_by_index"]["1"]["generation"] == TEXTS[1]
    assert out["agg_value"] == pytest.approx(sum(expected) / len(expected), rel=1e-5)
    assert len(set(round(g, 6) for g in got)) > 1  # the texts are told apart


def test_a_list_of_generations_is_scored_by_its_first(classifier_dir: Path) -> None:
    entry = entries.classifier_prob("k", "forget_Q_A_ROUGE", str(classifier_dir))
    out = classifier_prob(Context([[TEXTS[0]] * 5]), entry)
    assert out["value_by_index"]["0"]["score"] == pytest.approx(_by_hand(classifier_dir, TEXTS[0], 0), rel=1e-5)


def test_missing_classifier_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a sequence classifier: set eval.classifier_model"):
        classifier_prob(Context(TEXTS), entries.classifier_prob("k", "forget_Q_A_ROUGE", None))
    with pytest.raises(DataError, match="model directory not found"):
        load_classifier(str(tmp_path / "absent"), torch.device("cpu"))


def test_the_benchmarks_declare_the_reference_gibberish_entries() -> None:
    from unlearn_muse.suite import muse_suite
    from unlearn_tofu.suite import tofu_suite

    tofu = tofu_suite({}, classifier="/some/classifier").entries["forget_Q_A_gibberish"]
    assert (tofu.metric, tofu.args.precompute, tofu.args.max_length) == (
        "classifier_prob",
        "forget_Q_A_ROUGE",
        32,
    )
    empty = {key: [] for key in ("verbmem_forget", "knowmem_forget_qa", "knowmem_retain_qa", "knowmem_forget_qa_icl",
                                 "knowmem_retain_qa_icl", "privleak_forget", "privleak_holdout")}  # fmt: skip
    muse = muse_suite(empty, classifier="/some/classifier").entries["forget_gibberish"]
    assert (muse.args.precompute, muse.args.max_length) == ("forget_verbmem_ROUGE", 512)
