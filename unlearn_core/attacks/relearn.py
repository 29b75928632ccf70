"""The ``relearn`` attack (Hu et al. 2024, "Jogging the memory of unlearned LLMs"): finetune the unlearned model on
a little data for a few steps and evaluate it. If unlearning only hid the forget set, relearning a small part of it
(or related data) brings back much more than that part.

Arguments: ``attack.data`` (``forget_subset``: the run's forget set, ``retain``: its retain set, or a data set name
of the run's benchmark), ``attack.fraction`` (the share of those samples used, drawn with the seed), ``attack.steps``
(optimizer steps, at the run's batch size), ``attack.learning_rate`` (default: the run's own learning rate, so the
published 1e-5 for a real model and the embedded protocol's for the tiny one), ``attack.seed`` (default: the run's).
"""

from __future__ import annotations

import math
import random
from typing import Any

from unlearn_core.attacks.contract import FORGET_SUBSET, Attack, AttackContext, AttackOutput
from unlearn_core.errors import ConfigError


class Relearn(Attack):
    """Finetuning on a seeded share of the forget set (or of other data), then evaluation."""

    name = "relearn"
    description = "finetune on attack.fraction of attack.data for attack.steps steps at attack.learning_rate"
    defaults = {"data": FORGET_SUBSET, "fraction": 0.1, "steps": 10, "learning_rate": None, "seed": None}

    def check(self, cfg: dict[str, Any]) -> None:
        """Positive steps, a fraction in (0, 1], a positive learning rate and an integer seed."""
        args = self.args
        if args["steps"] < 1:
            raise ConfigError(f"attack.steps must be at least 1, got {args['steps']}")
        if not 0 < args["fraction"] <= 1:
            raise ConfigError(f"attack.fraction must be in (0, 1], got {args['fraction']}")
        rate = args["learning_rate"]
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0):
            raise ConfigError(f"attack.learning_rate must be a positive number, got {rate!r}")
        if args["seed"] is not None and (isinstance(args["seed"], bool) or not isinstance(args["seed"], int)):
            raise ConfigError(f"attack.seed must be an integer, got {args['seed']!r}")

    def settings(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """The arguments with the run's learning rate and seed where they were left unset."""
        trainer = cfg["trainer"]["args"]
        rate = self.args["learning_rate"] if self.args["learning_rate"] is not None else trainer["learning_rate"]
        seed = self.args["seed"] if self.args["seed"] is not None else trainer["seed"]
        return {**self.args, "learning_rate": float(rate), "seed": int(seed)}

    def apply(self, model: Any, context: AttackContext) -> AttackOutput:
        """Finetune ``model`` in place on the chosen samples."""
        settings = self.settings(context.cfg)
        rows = context.data(settings["data"])
        chosen = subset(len(rows), settings["fraction"], settings["seed"])
        facts = context.finetune(
            model,
            [rows[i] for i in chosen],
            steps=settings["steps"],
            learning_rate=settings["learning_rate"],
            seed=settings["seed"],
        )
        facts.update(settings=settings, samples=len(chosen), of=len(rows), positions=chosen)
        return AttackOutput(model, facts)


def subset(count: int, fraction: float, seed: int) -> list[int]:
    """``ceil(fraction · count)`` sample positions (at least one) drawn without replacement with ``seed``, sorted."""
    if count == 0:
        raise ConfigError("attack.data has no samples to relearn on")
    size = min(count, max(1, math.ceil(fraction * count - 1e-9)))
    return sorted(random.Random(seed).sample(range(count), size))
