"""Groups whose prompts begin alike share a packed row (unlearn_core.evaluation.packed_rows): the exact row layout,
when rows merge, and statistics equal to plain full sequences."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from support.same_statistics import assert_same_statistics  # noqa: E402
from support.tiny_setup import tiny_model_and_tokenizer  # noqa: E402

from unlearn_core.evaluation import packed_rows  # noqa: E402
from unlearn_core.evaluation.packed import PackedScorer  # noqa: E402
from unlearn_core.evaluation.packed_rows import build_row, pack_rows  # noqa: E402
from unlearn_core.evaluation.plain import AnswerGroup, ScoringCounters, score_plain  # noqa: E402


def test_row_of_two_groups_sharing_a_prefix():
    # prompts 1 2 3 4 and 1 2 3 5 6 share 1 2 3; answers: (7 8) (7 9) after the first, (7) after the second
    a = AnswerGroup((1, 2, 3, 4), ((7, 8), (7, 9)))
    b = AnswerGroup((1, 2, 3, 5, 6), ((7,),))
    row = build_row((1, 2, 3), [(0, a), (1, b)])
    assert row.prefix == (1, 2, 3)
    assert row.groups == [0, 1]
    # nodes: 4 (after the prefix), 7 after 4 (predicts 8 and 9), 5 (after the prefix), 6 after 5
    assert row.tokens == [4, 7, 5, 6]
    assert row.parents == [-1, 0, -1, 2]
    assert row.depths == [0, 1, 0, 1]
    # edges (predicting node, target): 7 from node 0 (4), 8 and 9 from node 1 (7 after 4), 7 from node 3 (6)
    assert row.edges == [(0, 7), (1, 8), (1, 9), (3, 7)]
    assert row.paths == [[0, 1], [0, 2], [3]]
    assert row.width == 7


def test_a_prompt_equal_to_the_prefix_predicts_from_the_prefix():
    a = AnswerGroup((1, 2), ((3, 4),))
    row = build_row((1, 2), [(0, a)])
    assert row.tokens == [3] and row.parents == [-1] and row.edges == [(-1, 3), (0, 4)] and row.paths == [[0, 1]]


def _few_shot_groups(shared: int, n: int) -> list[AnswerGroup]:
    prefix = tuple(range(10, 10 + shared))
    return [AnswerGroup((*prefix, 100 + k, 101 + k), ((200 + k, 201), (200 + k, 202))) for k in range(n)]


def test_groups_with_a_long_common_beginning_share_rows():
    groups = _few_shot_groups(shared=40, n=6)
    rows = pack_rows(groups, hidden_size=32)
    assert len(rows) == 1
    assert rows[0].prefix == tuple(range(10, 50))
    assert sorted(rows[0].groups) == list(range(6))


def test_groups_sharing_less_than_min_shared_stay_apart():
    groups = _few_shot_groups(shared=packed_rows.MIN_SHARED - 1, n=4)
    rows = pack_rows(groups, hidden_size=32)
    assert [r.groups for r in rows] == [[0], [1], [2], [3]]
    assert all(r.prefix == g.prompt for r, g in zip(rows, groups))


def test_rows_merge_only_when_cheaper_and_stay_narrow(monkeypatch):
    # 8 shared tokens, then 30 of each prompt's own: alone a row is 39 wide, two merged 70
    groups = [AnswerGroup((*range(8), *range(100 * k, 100 * k + 30)), ((7, 7),)) for k in range(1, 3)]
    assert len(pack_rows(groups, hidden_size=1000)) == 1  # the saved matrix products outweigh a wider attention
    assert len(pack_rows(groups, hidden_size=1)) == 2  # attention over the wider row dominates
    groups = _few_shot_groups(shared=40, n=6)
    monkeypatch.setattr(packed_rows, "MAX_ROW_WIDTH", 48)
    assert all(r.width <= 48 for r in pack_rows(groups, hidden_size=32))


def test_shared_rows_score_as_plain_full_sequences():
    corpus = ["Question: what colour is the sky? Answer: blue", "Question: who wrote it? Answer: a person of note"]
    model, tokenizer = tiny_model_and_tokenizer(corpus)
    encode = lambda text: tuple(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    shots = encode("Question: what colour is the sky? Answer: blue\n\nQuestion: who wrote it? Answer: a person\n\n")
    questions = ["what colour is it?", "who wrote the sky?", "what colour is it?", "who?"]
    groups = [
        AnswerGroup(shots + encode(f"Question: {q} Answer:"), (encode(" blue"), encode(" a person of note"), ()))
        for q in questions
    ]
    groups.append(AnswerGroup(shots, (encode("Question"),), (False,)))  # a prompt that is the common beginning
    assert len(pack_rows(groups, model.config.hidden_size)) < len(groups)
    ours = PackedScorer(model, tokenizer.pad_token_id, 2, ScoringCounters()).score(groups)
    plain = score_plain(model, groups, batch_size=2, pad_id=tokenizer.pad_token_id, counters=ScoringCounters())
    assert_same_statistics(groups, ours, plain)


def _rebuilt_rows(groups: list[AnswerGroup], hidden_size: int) -> list[packed_rows.PackedRow]:
    """The packing decided on rows rebuilt whole for every group that might join (the straightforward way)."""
    order = sorted(range(len(groups)), key=lambda k: groups[k].prompt)
    rows, members, prefix, current = [], [], (), None
    for k in order:
        alone = build_row(groups[k].prompt, [(k, groups[k])])
        if current is not None:
            shared = prefix[: packed_rows._common_length(prefix, groups[k].prompt)]
            if len(shared) >= packed_rows.MIN_SHARED:
                merged = build_row(shared, [*members, (k, groups[k])])
                cost = packed_rows._cost
                cheaper = cost(merged.width, hidden_size) < cost(current.width, hidden_size) + cost(
                    alone.width, hidden_size
                )
                if merged.width <= packed_rows.MAX_ROW_WIDTH and cheaper:
                    current, prefix = merged, shared
                    members.append((k, groups[k]))
                    continue
            rows.append(current)
        current, prefix, members = alone, groups[k].prompt, [(k, groups[k])]
    return [*rows, current] if current is not None else rows


def test_packing_equals_rebuilding_each_candidate_row(monkeypatch):
    import random

    rng = random.Random(0)
    monkeypatch.setattr(packed_rows, "MAX_ROW_WIDTH", 120)
    for hidden_size in (1, 8, 64, 1000):
        groups = []
        for _ in range(40):
            shots = tuple(rng.choice([range(10, 30), range(10, 22), range(40, 55)]))
            prompt = shots + tuple(rng.randrange(60, 64) for _ in range(rng.randint(0, 5)))
            answers = tuple(tuple(rng.randrange(1, 5) for _ in range(rng.randint(0, 4))) for _ in range(3))
            groups.append(AnswerGroup(prompt, answers))
        ours, rebuilt = pack_rows(groups, hidden_size), _rebuilt_rows(groups, hidden_size)
        assert [vars(row) for row in ours] == [vars(row) for row in rebuilt]
        assert len(ours) < len(groups)  # some rows were shared
