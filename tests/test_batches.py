"""Batch orders (finetuning and the forget/retain pairing of METHODS.md) and padded collation."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from unlearn_core.data import IGNORE_INDEX, Tokenized, collate, collate_prompts
from unlearn_core.training.batches import FinetuneBatches, ForgetRetainBatches

PAD = 0


def samples(n: int, offset: int = 0) -> list[Tokenized]:
    """``n`` samples of varied lengths whose index is their position; token ids encode the index."""
    return [Tokenized(tuple([5, 6 + i % 3]), tuple([100 + offset + i] * (1 + i % 4)), i) for i in range(n)]


def indices(batch: dict[str, torch.Tensor]) -> list[int]:
    return batch["index"].tolist()


def finetune_order(batches: FinetuneBatches, epoch: int) -> list[int]:
    return [i for batch in batches.epoch(epoch) for i in indices(batch)]


# ---- FinetuneBatches -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "batch_size"), [(10, 3), (16, 4), (1, 8)])
def test_finetune_epoch_sees_every_sample_once(n, batch_size):
    batches = FinetuneBatches(samples(n), batch_size, PAD, seed=0)
    for epoch in range(3):
        order = finetune_order(batches, epoch)
        assert sorted(order) == list(range(n))
    assert len(list(batches.epoch(0))) == len(batches) == -(-n // batch_size)


def test_finetune_batch_sizes():
    sizes = [len(indices(b)) for b in FinetuneBatches(samples(10), 4, PAD, seed=0).epoch(0)]
    assert sizes == [4, 4, 2]


def test_finetune_order_is_shuffled_each_epoch_and_deterministic_by_seed():
    batches = FinetuneBatches(samples(40), 8, PAD, seed=3)
    first, second = finetune_order(batches, 0), finetune_order(batches, 1)
    assert first != second
    assert first != list(range(40))
    again = FinetuneBatches(samples(40), 8, PAD, seed=3)
    assert finetune_order(again, 0) == first and finetune_order(again, 1) == second
    assert finetune_order(FinetuneBatches(samples(40), 8, PAD, seed=4), 0) != first


@pytest.mark.parametrize(("n", "world_size"), [(12, 2), (12, 3), (13, 4)])
def test_finetune_ranks_cover_the_samples_in_equal_shares(n, world_size):
    per_rank = [
        finetune_order(FinetuneBatches(samples(n), 2, PAD, seed=1, rank=r, world_size=world_size), 0)
        for r in range(world_size)
    ]
    flat = [i for order in per_rank for i in order]
    padded = -(-n // world_size) * world_size
    assert len({len(order) for order in per_rank}) == 1
    assert set(flat) == set(range(n)) and len(flat) == padded  # wrap-around padding, as DistributedSampler does


def test_pairing_is_the_same_global_batch_whatever_the_world_size():
    single = pairing(12, 20, batch_size=1).pairs(3)
    ranks = [pairing(12, 20, batch_size=1, rank=r, world_size=2).pairs(3) for r in range(2)]
    interleaved = [pair for step in zip(*ranks) for pair in step]
    assert interleaved == single


# ---- ForgetRetainBatches ---------------------------------------------------------------------------------------------


def pairing(n_forget: int, n_retain: int, **kwargs) -> ForgetRetainBatches:
    kwargs.setdefault("seed", 0)
    return ForgetRetainBatches(
        samples(n_forget), samples(n_retain, offset=500), kwargs.pop("batch_size", 4), PAD, **kwargs
    )


@pytest.mark.parametrize(("n_forget", "batch_size"), [(10, 4), (8, 8), (3, 5)])
def test_every_forget_sample_exactly_once_per_epoch(n_forget, batch_size):
    batches = pairing(n_forget, 50, batch_size=batch_size)
    for epoch in range(3):
        forget_seen = [i for b in batches.epoch(epoch) for i in indices(b["forget"])]
        assert Counter(forget_seen) == Counter(range(n_forget))
    assert len(list(batches.epoch(0))) == len(batches)


def test_each_forget_sample_is_paired_with_one_retain_sample():
    for batch in pairing(10, 7).epoch(0):
        assert batch["forget"]["input_ids"].shape[0] == batch["retain"]["input_ids"].shape[0]
        assert all(0 <= i < 7 for i in indices(batch["retain"]))


def test_batches_carry_the_paired_samples():
    batches = pairing(6, 9, batch_size=6)
    (batch,) = list(batches.epoch(0))
    pairs = batches.pairs(0)
    assert indices(batch["forget"]) == [f for f, _ in pairs]
    assert indices(batch["retain"]) == [r for _, r in pairs]
    # the retain ids are the retain samples' own tokens (offset 500), not forget ones
    targets = batch["retain"]["labels"][batch["retain"]["labels"] != IGNORE_INDEX]
    assert bool((targets >= 600).all())


def test_retain_draws_are_with_replacement():
    draws = [r for _, r in pairing(60, 60).pairs(0)]
    assert len(set(draws)) < len(draws), "60 uniform draws from 60 with replacement repeat (almost surely)"


def test_retain_draws_are_uniform():
    n_retain, n_forget = 10, 5000
    draws = Counter(r for _, r in pairing(n_forget, n_retain).pairs(0))
    assert set(draws) == set(range(n_retain))
    expected = n_forget / n_retain
    chi2 = sum((draws[i] - expected) ** 2 / expected for i in range(n_retain))
    assert chi2 < 30, f"chi-square {chi2:.1f} with 9 degrees of freedom is far from uniform"


def test_retain_draws_are_redrawn_each_epoch():
    batches = pairing(40, 1000)
    epoch0 = [r for _, r in sorted(batches.pairs(0))]
    epoch1 = [r for _, r in sorted(batches.pairs(1))]
    assert epoch0 != epoch1


def test_forget_order_changes_each_epoch():
    batches = pairing(40, 10)
    assert [f for f, _ in batches.pairs(0)] != [f for f, _ in batches.pairs(1)]


def test_pairing_is_deterministic_by_seed():
    assert pairing(30, 30, seed=7).pairs(2) == pairing(30, 30, seed=7).pairs(2)
    assert pairing(30, 30, seed=7).pairs(0) != pairing(30, 30, seed=8).pairs(0)


def test_ranks_draw_different_retain_samples_with_the_same_seed():
    """Each rank gets its own retain generator (seeded per rank): same seed, different draws."""
    world = 2
    per_rank = [pairing(400, 1000, seed=5, rank=r, world_size=world).pairs(0) for r in range(world)]
    draws = [[r for _, r in pairs] for pairs in per_rank]
    assert draws[0] != draws[1]


@pytest.mark.parametrize(("n_forget", "world_size"), [(12, 2), (12, 4), (9, 3)])
def test_ranks_partition_the_forget_set(n_forget, world_size):
    per_rank = [pairing(n_forget, 20, rank=r, world_size=world_size).pairs(0) for r in range(world_size)]
    forget = [f for pairs in per_rank for f, _ in pairs]
    assert sorted(forget) == list(range(n_forget))
    assert len({len(pairs) for pairs in per_rank}) == 1


@pytest.mark.parametrize("kind", ["forget_retain", "finetune"])
def test_every_rank_yields_len_micro_batches_when_the_data_does_not_divide(kind):
    world_size, n = 2, 5
    for rank in range(world_size):
        if kind == "finetune":
            batches = FinetuneBatches(samples(n), 1, PAD, seed=0, rank=rank, world_size=world_size)
        else:
            batches = pairing(n, 20, batch_size=1, rank=rank, world_size=world_size)
        assert len(list(batches.epoch(0))) == len(batches), f"rank {rank}"


def test_len_counts_micro_batches_per_rank():
    assert len(pairing(10, 5, batch_size=4)) == 3
    assert len(pairing(10, 5, batch_size=4, rank=0, world_size=2)) == 2


# ---- collate ---------------------------------------------------------------------------------------------------------


def test_collate_right_pads_and_masks_prompt_and_padding():
    short = Tokenized((1, 2), (3,), index=7)
    long = Tokenized((1,), (4, 5, 6, 2), index=9)
    batch = collate([short, long], pad_id=PAD)
    assert batch["input_ids"].tolist() == [[1, 2, 3, PAD, PAD], [1, 4, 5, 6, 2]]
    assert batch["labels"].tolist() == [
        [IGNORE_INDEX, IGNORE_INDEX, 3, IGNORE_INDEX, IGNORE_INDEX],
        [IGNORE_INDEX, 4, 5, 6, 2],
    ]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["index"].tolist() == [7, 9]
    assert all(t.dtype == torch.long for t in batch.values())


def test_collate_mask_comes_from_real_lengths_when_pad_equals_eos():
    eos = 2
    sample = Tokenized((1, eos), (4, eos, 5, eos), index=0)  # EOS inside the prompt and the answer
    other = Tokenized((1,), (4, 5, 6, 7, 8, eos, 9), index=1)
    batch = collate([sample, other], pad_id=eos)
    assert batch["attention_mask"][0].tolist() == [1, 1, 1, 1, 1, 1, 0, 0]
    assert batch["labels"][0].tolist() == [IGNORE_INDEX, IGNORE_INDEX, 4, eos, 5, eos, IGNORE_INDEX, IGNORE_INDEX]
    assert batch["attention_mask"][1].tolist() == [1] * 8


def test_collate_trains_on_targets_only():
    batch = collate(samples(6), pad_id=PAD)
    for row, s in enumerate(samples(6)):
        trained = batch["labels"][row][batch["labels"][row] != IGNORE_INDEX].tolist()
        assert trained == list(s.target_ids)


def test_collate_prompts_left_pads_for_generation():
    batch = collate_prompts([[1, 2, 3], [4], []], pad_id=PAD)
    assert batch["input_ids"].tolist() == [[1, 2, 3], [PAD, PAD, 4], [PAD, PAD, PAD]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1], [0, 0, 0]]


def test_collate_prompts_mask_ignores_pad_equal_to_eos_inside_a_prompt():
    eos = 2
    batch = collate_prompts([[1, eos, 3], [eos, 5]], pad_id=eos)
    assert batch["input_ids"].tolist() == [[1, eos, 3], [eos, eos, 5]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 1, 1]]
