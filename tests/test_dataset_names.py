"""Named data sets (the reference's dataset config names) in ``data.forget=`` / ``data.retain=``, and the anchor."""

from __future__ import annotations

import pytest

from unlearn_core.config import resolve_config
from unlearn_core.data import Tokenized
from unlearn_core.errors import ConfigError
from unlearn_core.plugins import Plugins, load_plugins
from unlearn_core.training.batches import ForgetRetainBatches


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return load_plugins()


def _resolve(plugins: Plugins, bench: str, *overrides: str):
    return resolve_config("unlearn", plugins, benchmark=bench, method="npo", overrides=list(overrides))


def test_every_benchmark_registers_the_reference_names(plugins):
    names = set(plugins.datasets.names())
    assert {"TOFU_QA_full", "TOFU_QA_forget", "TOFU_QA_retain", "TOFU_QA_forget_idk", "TOFU_QA_forget_para",
            "TOFU_QA_forget_pert", "TOFU_QA_retain_eval", "TOFU_QA_ra", "TOFU_QA_wf"} <= names  # fmt: skip
    assert {"MUSE_forget", "MUSE_retain", "MUSE_forget_scal", "MUSE_forget_sust"} <= names
    assert plugins.datasets.get("muse_forget").benchmark == "muse"  # names match case-insensitively


def test_the_seed_documents_muse_override_works(plugins):
    cfg = _resolve(plugins, "muse", "data.forget=MUSE_forget", "data.retain=MUSE_retain", "data.anchor=forget")
    assert (cfg.get("data.forget"), cfg.get("data.retain"), cfg.get("forget_split")) == (
        "MUSE_forget",
        "MUSE_retain",
        "forget",
    )
    scal = _resolve(plugins, "muse", "data.forget=muse_forget_scal")
    assert (scal.get("data.forget"), scal.get("forget_split")) == ("MUSE_forget_scal", "forget_4")
    sust = _resolve(plugins, "muse", "data.forget=MUSE_forget_sust")
    assert sust.get("forget_split") == "forget_1"  # the reference's default split of that data set


def test_another_benchmarks_data_set_and_unknown_names_are_refused(plugins):
    with pytest.raises(ConfigError, match="data.forget=MUSE_forget is a data set of benchmark 'muse'"):
        _resolve(plugins, "tofu", "data.forget=MUSE_forget")
    with pytest.raises(ConfigError, match="TOFU_QA_forget_para"):
        _resolve(plugins, "tofu", "data.forget=TOFU_QA_forget_parra")
    with pytest.raises(ConfigError, match="MUSE_forget_scal"):
        _resolve(plugins, "muse", "data.forget=MUSE_forget_scl")
    with pytest.raises(ConfigError, match="data.anchor"):
        _resolve(plugins, "tofu", "data.anchor=both")


def test_tofu_named_sets_read_their_config_and_answer_field(plugins):
    from unlearn_core.models.tiny import train_tokenizer
    from unlearn_core.token_rules import PromptTemplate

    cfg = _resolve(plugins, "tofu", "data.embedded.n_authors=10", "data.embedded.questions_per_author=4",
                   "data.forget=TOFU_QA_forget_pert", "data.retain=TOFU_QA_ra")  # fmt: skip
    bench = plugins.benchmarks.get("tofu")
    tokenizer = train_tokenizer(["Question: a b c\nAnswer: d e f"] * 3, 300)
    template = PromptTemplate(tokenizer, cfg.get("model.template_args"), 128)
    forget, retain = bench.unlearn_data(cfg.values, template)
    from unlearn_tofu.sources import load_tofu_config

    small = {"n_authors": 10, "questions_per_author": 4}
    rows = load_tofu_config("embedded", "forget10_perturbed", embedded_args=small)
    assert len(forget) == sum(len(r["perturbed_answer"]) for r in rows)  # one sample per perturbed answer
    first = template.qa(rows[0]["question"], rows[0]["perturbed_answer"][0], 0)
    assert (forget[0].prompt_ids, forget[0].target_ids) == (first.prompt_ids, first.target_ids)
    ra = load_tofu_config("embedded", "real_authors_perturbed", embedded_args=small)
    assert len(retain) == len(ra)


def _samples(n: int) -> list[Tokenized]:
    return [Tokenized((1,), (2,), i) for i in range(n)]


def test_the_retain_anchor_iterates_the_retain_set_and_draws_forget_samples():
    batches = ForgetRetainBatches(_samples(3), _samples(10), batch_size=4, pad_id=0, seed=0, anchor="retain")
    pairs = batches.pairs(0)
    assert sorted(r for _, r in pairs) == list(range(10))  # every retain sample once per epoch
    assert all(0 <= f < 3 for f, _ in pairs) and len(batches) == 3
    forget_anchor = ForgetRetainBatches(_samples(3), _samples(10), batch_size=4, pad_id=0, seed=0)
    assert sorted(f for f, _ in forget_anchor.pairs(0)) == [0, 1, 2] and len(forget_anchor) == 1
    halves = [
        ForgetRetainBatches(_samples(3), _samples(10), 4, 0, 0, rank=rank, world_size=2, anchor="retain")
        for rank in (0, 1)
    ]
    assert sorted(p for h in halves for p in h.pairs(0)) == sorted(pairs)  # the same global draw at any world size
