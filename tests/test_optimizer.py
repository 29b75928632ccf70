"""``trainer.args.optim``: the optimizer each name builds (unlearn_core.training.optim.build_optimizer)."""

from __future__ import annotations

import pytest
import torch

from unlearn_core.config.defaults import TRAINER_ARGS
from unlearn_core.training.optim import build_optimizer


def _args(optim: str) -> dict:
    return {**TRAINER_ARGS, "optim": optim, "learning_rate": 1e-2, "weight_decay": 0.1}


def _trained(optim: str) -> tuple[torch.optim.Optimizer, list[torch.Tensor]]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.LayerNorm(16), torch.nn.Linear(16, 4))
    optimizer = build_optimizer(model, _args(optim))
    x = torch.randn(32, 8)
    for _ in range(5):
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()
    return optimizer, [p.detach().clone() for p in model.parameters()]


def test_fused_adamw_is_fused_and_makes_the_same_update_up_to_rounding():
    fused, after_fused = _trained("adamw_torch_fused")
    plain, after_plain = _trained("adamw_torch")
    assert isinstance(fused, torch.optim.AdamW) and fused.defaults["fused"] is True
    assert not plain.defaults["fused"]
    for a, b in zip(after_fused, after_plain):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["adamw", "paged_adamw_32bit"])
def test_other_adamw_names_are_plain_adamw(name):
    optimizer, _ = _trained(name)
    assert isinstance(optimizer, torch.optim.AdamW) and not optimizer.defaults["fused"]


def test_weight_decay_on_matrices_only():
    optimizer, _ = _trained("adamw_torch_fused")
    decays = [(group["weight_decay"], [p.dim() for p in group["params"]]) for group in optimizer.param_groups]
    assert decays == [(0.1, [2, 2]), (0.0, [1, 1, 1, 1])]
