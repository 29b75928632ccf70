"""Forget samples carry the row's other answers: other answer fields, and TOFU_QA_forget_idk's seeded "I don't know"."""

from __future__ import annotations

import pytest
from unlearn_tofu.benchmark import TofuBenchmark
from unlearn_tofu.datasets import IDK_FILE, read_idk

from unlearn_core.config import resolve_config
from unlearn_core.errors import DataError
from unlearn_core.models.presets import TEMPLATE_DEFAULTS
from unlearn_core.models.tiny import train_tokenizer
from unlearn_core.plugins import load_plugins
from unlearn_core.token_rules import PromptTemplate

SMALL = ["data.embedded.n_authors=10", "data.embedded.questions_per_author=5"]


@pytest.fixture(scope="module")
def template() -> PromptTemplate:
    corpus = ["Who wrote the book? The author is a writer of fiction. I don't know."] * 4
    return PromptTemplate(train_tokenizer(corpus, 300), dict(TEMPLATE_DEFAULTS), 128)


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


def forget_data(plugins, template: PromptTemplate, *overrides: str):
    cfg = resolve_config("unlearn", plugins, benchmark="tofu", method="npo", overrides=[*SMALL, *overrides])
    forget, retain = TofuBenchmark().unlearn_data(cfg.values, template)
    return forget, retain


def answer(template: PromptTemplate, sample) -> str:
    """The answer text of a scored sequence (a byte-level BPE may merge its first word into the prompt's last token)."""
    full = template.tokenizer.decode([*sample.prompt_ids, *sample.target_ids], skip_special_tokens=True)
    return full.split("Answer: ", 1)[1].strip()


def test_the_plain_forget_set_has_no_extras_and_retain_never_has(plugins, template):
    forget, retain = forget_data(plugins, template)
    assert all(s.extras == () for s in forget) and all(s.extras == () for s in retain)


def test_paraphrased_forget_samples_carry_the_original_answer_row_for_row(plugins, template):
    para, _ = forget_data(plugins, template, "data.forget=TOFU_QA_forget_para")
    plain, _ = forget_data(plugins, template)
    assert [s.extra_names for s in para] == [("answer",)] * len(para)
    for p, q in zip(para, plain):
        original = p.extra("answer")
        assert (original.prompt_ids, original.target_ids, original.index) == (q.prompt_ids, q.target_ids, q.index)
        assert original.index == p.index


def test_perturbed_forget_samples_carry_answer_and_paraphrase_once_per_perturbation(plugins, template):
    pert, _ = forget_data(plugins, template, "data.forget=TOFU_QA_forget_pert")
    para, _ = forget_data(plugins, template, "data.forget=TOFU_QA_forget_para")
    assert pert[0].extra_names == ("answer", "paraphrased_answer")
    per_row = len(pert) // len(para)
    assert pert[per_row].extra("paraphrased_answer").target_ids == para[1].target_ids
    assert hash(pert[0]) == hash(pert[0])  # still frozen and hashable


def test_idk_answers_are_drawn_per_row_from_the_shipped_file_with_the_seed(plugins, template):
    forget, _ = forget_data(plugins, template, "data.forget=TOFU_QA_forget_idk")
    again, _ = forget_data(plugins, template, "data.forget=TOFU_QA_forget_idk")
    other, _ = forget_data(plugins, template, "data.forget=TOFU_QA_forget_idk", "seed=1")
    responses = set(read_idk(None))
    drawn = [answer(template, s.extra("alternate")) for s in forget]
    assert all(d in responses for d in drawn) and len(set(drawn)) > 1
    assert drawn == [answer(template, s.extra("alternate")) for s in again]
    assert drawn != [answer(template, s.extra("alternate")) for s in other]
    assert [s.extra("alternate").index for s in forget] == [s.index for s in forget]
    assert [s.extra("alternate").prompt_ids[:-1] for s in forget] == [s.prompt_ids[:-1] for s in forget]


def test_the_shipped_idk_file_has_a_hundred_distinct_responses():
    responses = read_idk(None)
    assert len(responses) >= 100 and len(set(responses)) == len(responses)
    assert IDK_FILE.read_text(encoding="utf-8").splitlines() == responses


def test_data_idk_path_replaces_the_responses(plugins, template, tmp_path):
    path = tmp_path / "idk.txt"
    path.write_text("Nope, no idea.\n\nNot a clue.\n", encoding="utf-8")
    forget, _ = forget_data(plugins, template, "data.forget=TOFU_QA_forget_idk", f"data.idk_path={path}")
    assert {answer(template, s.extra("alternate")) for s in forget} <= {"Nope, no idea.", "Not a clue."}


@pytest.mark.parametrize("content", [None, "", "\n  \n"])
def test_a_missing_or_empty_idk_file_is_one_line_before_any_model_loads(plugins, tmp_path, content):
    path = tmp_path / "idk.txt"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as error:
        resolve_config("unlearn", plugins, benchmark="tofu", method="npo", overrides=[f"data.idk_path={path}"])
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_the_idk_experiment_trains_on_the_idk_forget_set(plugins, template):
    # the preset names DPO (the dpo plugin's); another method given with it keeps the preset's data
    cfg = resolve_config("unlearn", plugins, overrides=[*SMALL, "experiment=unlearn/tofu/idk", "trainer=NPO"])
    assert cfg.benchmark == "tofu" and cfg.get("trainer.name") == "NPO"
    assert cfg.get("data.forget") == "TOFU_QA_forget_idk" and cfg.get("forget_split") == "forget10"
    forget, _ = TofuBenchmark().unlearn_data(cfg.values, template)
    assert [s.extra_names for s in forget] == [("alternate",)] * len(forget)
