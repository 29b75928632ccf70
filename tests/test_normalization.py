"""Loss normalisation over the effective batch: counts, shares that add up to the whole batch's loss, the runner's
record and scale, and the refusals (``unlearn_core.normalization``, ``unlearn_core.training.normalizing``)."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from faultkit import tiny_lm, tiny_samples

from unlearn_core.data import collate
from unlearn_core.errors import ConfigError
from unlearn_core.methods import FORGET_FIELD, LossOutput, UnlearningMethod
from unlearn_core.normalization import TOTALS_KEY, BatchTotals, add_counts, share, standard_counts
from unlearn_core.training.normalizing import StepNormalizer, check_split, step_mode


def _batch(samples: list[Any]) -> dict[str, torch.Tensor]:
    return collate(samples, pad_id=0)


def test_standard_counts_are_target_tokens_after_the_shift_and_rows():
    labels = torch.tensor([[-100, -100, 5, 6], [-100, 7, -100, -100]])
    forget = {"labels": labels}
    retain = {"labels": torch.tensor([[-100, 1, 2, 3]])}
    idk = {"labels": torch.tensor([[-100, -100, -100, 4], [-100, -100, 9, 9]])}
    counts = standard_counts({"forget": forget, "retain": retain, "forget_fields": {"alternate": idk}})
    # position 0's label is never a target (nothing predicts it): forget has 2 + 1, retain 3, alternate 1 + 2
    assert counts == {
        "forget.tokens": 3.0,
        "forget.samples": 2.0,
        "retain.tokens": 3.0,
        "retain.samples": 1.0,
        "alternate.tokens": 3.0,
        "alternate.samples": 2.0,
    }
    assert standard_counts({"labels": labels}) == {"batch.tokens": 3.0, "batch.samples": 2.0}


def test_counts_add_key_by_key_and_a_missing_count_is_named():
    total = BatchTotals(add_counts([{"forget.tokens": 3.0, "x": 1.0}, {"forget.tokens": 4.0}]))
    assert total.tokens("forget") == 7.0 and total["x"] == 1.0
    with pytest.raises(KeyError, match="no count 'retain.tokens'.*forget.tokens, x"):
        total.tokens("retain")


def test_a_share_of_an_empty_effective_batch_is_nan_so_the_run_stops():
    assert float(share(torch.tensor(2.0), 4.0)) == 0.5
    assert math.isnan(float(share(torch.tensor(0.0), 0.0)))


class _Reference:
    """Cached reference log-probs of zero: NPO's log ratio is the model's own sequence log-prob."""

    def forget_logprobs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.zeros(batch["labels"].shape[0])

    def logprobs(self, batch: dict[str, torch.Tensor], field: str = FORGET_FIELD) -> torch.Tensor:
        return self.forget_logprobs(batch)


def _unlearn_batch(forget: list[Any], retain: list[Any]) -> dict[str, Any]:
    return {"forget": _batch(forget), "retain": _batch(retain)}


@pytest.mark.parametrize("name", ["NPO", "SimNPO", "GradAscent", "GradDiff"])
def test_micro_batch_shares_add_up_to_the_whole_batch_loss(name):
    """Split four forget and four retain rows of different lengths 1+3: with the whole batch's totals the two shares
    add up to the whole batch's loss (and gradient); the means of the two halves do not."""
    from unlearn_core.plugins import load_plugins

    method: UnlearningMethod = load_plugins().methods.get(name)()
    assert method.normalization() == "effective"
    model = tiny_lm()
    forget, retain = tiny_samples(4, seed=1), tiny_samples(4, seed=2)
    whole = _unlearn_batch(forget, retain)
    whole_terms = method.compute_loss(model, whole, _Reference()).terms
    parts = [_unlearn_batch(forget[:1], retain[:1]), _unlearn_batch(forget[1:], retain[1:])]
    totals = BatchTotals(add_counts([method.unit_counts(p) for p in parts]))
    assert totals.counts == method.unit_counts(whole)
    shares = [method.compute_loss(model, {**p, TOTALS_KEY: totals}, _Reference()).terms for p in parts]
    means = [method.compute_loss(model, p, _Reference()).terms for p in parts]
    for key, value in whole_terms.items():
        assert shares[0][key] + shares[1][key] == pytest.approx(value, rel=1e-6), key
    assert any(abs((a + b) / 2 - whole_terms[k]) > 1e-3 * abs(whole_terms[k]) for k, a, b in _pairs(means))


def _pairs(terms: list[dict[str, float]]) -> list[tuple[str, float, float]]:
    return [(key, terms[0][key], terms[1][key]) for key in terms[0]]


class _Split(UnlearningMethod):
    name = "Split"

    def __init__(self, mode: str = "effective", **method_args: Any) -> None:
        super().__init__(**method_args)
        self.mode = mode

    def normalization(self) -> Any:
        return self.mode

    def compute_loss(self, model: Any, batch: Any, reference: Any) -> LossOutput:
        raise NotImplementedError


def _accelerator(processes: int = 1) -> Any:
    return SimpleNamespace(num_processes=processes, device=torch.device("cpu"))


def test_the_step_mode_follows_the_setting_and_the_method():
    on, off = {"average_tokens_across_devices": True}, {"average_tokens_across_devices": False}
    assert step_mode(None, on) == "effective" and step_mode(None, off) == "micro-batch"
    assert step_mode(_Split("effective"), on) == "effective"
    assert step_mode(_Split("micro-batch"), on) == "micro-batch"
    assert step_mode(_Split("whole-batch"), on) == "micro-batch"
    assert step_mode(_Split("effective"), off) == "micro-batch"


def test_effective_steps_add_shares_and_scale_by_processes_micro_batch_steps_average():
    outputs = [LossOutput(torch.tensor(0.25), {"forget_loss": 0.5}, {"lambda": 2.0})]
    outputs.append(LossOutput(torch.tensor(0.75), {"forget_loss": 1.5}, {"lambda": 2.0}))
    effective = StepNormalizer(_Split("effective"), {}, _accelerator(3))
    record = StepNormalizer(_Split("effective"), {}, _accelerator(1)).record(outputs, 4, 1.5, 0.1)
    assert record == {"step": 4, "epoch": 1.5, "loss": 1.0, "learning_rate": 0.1, "forget_loss": 2.0, "lambda": 2.0}
    assert effective.backward_scale(2) == 3.0
    averaging = StepNormalizer(_Split("micro-batch"), {}, _accelerator(1))
    record = averaging.record(outputs, 4, 1.5, 0.1)
    assert (record["loss"], record["forget_loss"], record["lambda"]) == (0.5, 1.0, 2.0)
    assert averaging.backward_scale(2) == 0.5
    assert averaging.totals([{}]) is None


def test_totals_of_a_step_add_the_micro_batches():
    normalizer = StepNormalizer(None, {}, _accelerator())
    group = [_batch(tiny_samples(2, seed=3)), _batch(tiny_samples(3, seed=4))]
    totals = normalizer.totals(group)
    assert totals.samples("batch") == 5.0
    assert totals.tokens("batch") == sum(standard_counts(b)["batch.tokens"] for b in group)


def test_a_whole_batch_method_is_refused_a_split_in_one_line():
    args = {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 2, "average_tokens_across_devices": True}
    with pytest.raises(ConfigError) as refused:
        check_split(_Split("whole-batch"), args, processes=1)
    message = str(refused.value)
    assert "\n" not in message and "4 per device × 2 accumulation × 1 processes" in message
    assert "average_tokens_across_devices=false" in message
    check_split(_Split("whole-batch"), {**args, "gradient_accumulation_steps": 1}, processes=1)
    check_split(_Split("whole-batch"), {**args, "average_tokens_across_devices": False}, processes=2)
    check_split(_Split("effective"), args, processes=2)
    with pytest.raises(ConfigError):
        check_split(_Split("whole-batch"), {**args, "gradient_accumulation_steps": 1}, processes=2)
