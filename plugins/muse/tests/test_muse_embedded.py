"""The embedded synthetic MUSE: determinism, sizes, the hub's subsets and fields, holdout never trained on."""

from __future__ import annotations

import re

import pytest
from unlearn_muse.embedded import EMBEDDED_DEFAULTS, N_ICL, build_corpus, generate_muse
from unlearn_muse.schema import FIELDS, STEP_SPLITS, SUBSETS, validate_row

SPLITS = ("News", "Books")


@pytest.fixture(scope="module", params=SPLITS)
def muse(request) -> tuple[str, dict[str, dict[str, list[dict]]]]:
    return request.param, generate_muse(request.param)


def _texts(rows: list[dict]) -> list[str]:
    return [row["text"] for row in rows]


def test_every_hub_subset_and_split_with_the_hub_fields(muse):
    _, data = muse
    assert {subset: tuple(splits) for subset, splits in data.items()} == SUBSETS
    for subset, splits in data.items():
        for split, rows in splits.items():
            assert rows, (subset, split)
            for i, row in enumerate(rows):
                assert tuple(row) == FIELDS[subset]
                validate_row(row, FIELDS[subset], f"{subset}/{split} row {i}")


def test_same_seed_same_corpus_other_seed_other_corpus():
    for split in SPLITS:
        assert generate_muse(split) == generate_muse(split, seed=0)
        assert _texts(generate_muse(split, seed=1)["raw"]["forget"]) != _texts(generate_muse(split)["raw"]["forget"])
    assert _texts(generate_muse("News")["raw"]["forget"]) != _texts(generate_muse("Books")["raw"]["forget"])


def test_default_sizes_give_tens_of_samples_per_metric(muse):
    _, data = muse
    n, r, per_doc = EMBEDDED_DEFAULTS["n_forget"], EMBEDDED_DEFAULTS["n_retain"], EMBEDDED_DEFAULTS["qa_per_doc"]
    assert [len(data["raw"][s]) for s in ("forget", "retain1", "retain2", "holdout")] == [n, r, r, n]
    assert len(data["verbmem"]["forget"]) == n
    assert len(data["knowmem"]["forget_qa"]) == n * per_doc and len(data["knowmem"]["retain_qa"]) == r * per_doc
    assert len(data["knowmem"]["forget_qa_icl"]) == len(data["knowmem"]["retain_qa_icl"]) == N_ICL
    assert len(data["privleak"]["forget"]) == len(data["privleak"]["holdout"]) == n
    assert data["train"] == {s: data["raw"][s] for s in ("forget", "retain1", "retain2")}


def test_scalability_grows_and_sustainability_partitions_the_forget_set(muse):
    _, data = muse
    forget = _texts(data["raw"]["forget"])
    scal = [_texts(data["scal"][s]) for s in STEP_SPLITS]
    assert [len(s) for s in scal] == [8, 16, 24, 32] and scal[-1] == forget
    assert all(scal[k] == scal[k + 1][: len(scal[k])] for k in range(3))
    sust = [_texts(data["sust"][s]) for s in STEP_SPLITS]
    assert [len(s) for s in sust] == [8, 8, 8, 8] and sum(sust, []) == forget


def test_verbmem_prompts_are_cut_from_forget_articles(muse):
    _, data = muse
    for row, doc in zip(data["verbmem"]["forget"], data["raw"]["forget"]):
        assert row["prompt"] + row["gt"] == doc["text"]
        assert row["prompt"].endswith(".") and row["gt"].startswith(" ") and len(row["gt"]) > 2 * len(row["prompt"])


def test_knowmem_answers_are_facts_of_their_own_documents(muse):
    data_split, data = muse
    corpus = build_corpus(data_split, **EMBEDDED_DEFAULTS)
    for role, raw in (("forget", "forget"), ("retain", "retain1")):
        facts = {qa for doc in corpus.documents[raw] for qa in doc.qa}
        rows = data["knowmem"][f"{role}_qa"] + data["knowmem"][f"{role}_qa_icl"]
        pairs = [(r["question"], r["answer"]) for r in rows]
        assert set(pairs) <= facts and len(set(pairs)) == len(pairs)
        texts = " ".join(_texts(data["raw"][raw]))
        assert all(answer in texts for _, answer in pairs)
    evaluated = {r["question"] for r in data["knowmem"]["forget_qa"]}
    assert not evaluated & {r["question"] for r in data["knowmem"]["forget_qa_icl"]}


def test_holdout_is_never_trained_on_and_shares_no_name_with_training_text(muse):
    data_split, data = muse
    corpus = build_corpus(data_split, **EMBEDDED_DEFAULTS)
    trained = [t for split in data["train"].values() for t in _texts(split)]
    trained += [d.text for d in corpus.documents["background"]]
    holdout = _texts(data["raw"]["holdout"])
    assert holdout == _texts(data["privleak"]["holdout"])
    assert not set(holdout) & set(trained)
    every_trained_word = set(re.findall(r"[A-Z][a-z]+", " ".join(trained)))
    for doc in corpus.documents["holdout"]:
        unique_name = doc.key.split()[-1]  # a town, or a hero's last name (first names repeat)
        assert unique_name not in every_trained_word, unique_name


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="n_forget"):
        build_corpus("News", n_forget=3)
    with pytest.raises(ValueError, match="qa_per_doc"):
        build_corpus("News", qa_per_doc=4)
    with pytest.raises(ValueError, match="data_split"):
        build_corpus("Poems")
