"""The ``quantize`` attack (Zhang et al. 2024, "Catastrophic failure of LLM unlearning via quantization"): quantize
the unlearned model's Linear weights to 8 or 4 bits and evaluate it. Unlearning with a small learning rate moves
weights by less than half a quantization step, so the quantized unlearned model can round back to the target's.

``attack.method``: ``rtn`` (default: our round-to-nearest, per-output-channel absmax, dequantized; any device),
``quanto`` (optimum-quanto's int8/int4 weights, CPU-capable; RTN is compared with it on the same weights) or
``bnb`` (bitsandbytes ``load_in_8bit``/``load_in_4bit``; CUDA only).
"""

from __future__ import annotations

from typing import Any

from unlearn_core.attacks.bnb_backend import check_bnb, load_bnb_model
from unlearn_core.attacks.contract import Attack, AttackContext, AttackOutput

METHODS = ("rtn", "quanto", "bnb")
BITS = (8, 4)


class Quantize(Attack):
    """Weight-only quantization of every Linear layer, then evaluation."""

    name = "quantize"
    description = "quantize every Linear weight to attack.bits=8|4 (attack.method=rtn|quanto|bnb) and evaluate"
    defaults = {"bits": 4, "method": "rtn"}
    choices = {"bits": BITS, "method": METHODS}

    def check(self, cfg: dict[str, Any]) -> None:
        """The backend must be usable here: quanto installed; bnb on CUDA with bitsandbytes."""
        if self.args["method"] == "quanto":
            from unlearn_core.attacks.quanto_backend import check_quanto  # heavy (torch): loaded on first use

            check_quanto()
        if self.args["method"] == "bnb":
            check_bnb()

    def variant(self) -> str:
        """``4bit-rtn``, ``8bit-quanto``...: both arguments, always."""
        return f"{self.args['bits']}bit-{self.args['method']}"

    def apply(self, model: Any, context: AttackContext) -> AttackOutput:
        """Quantize ``model`` in place (rtn, quanto) or reload it quantized (bnb); the facts say how many weights
        RTN puts back on the starting model's level (when the run's starting model is known)."""
        from unlearn_core.attacks.rtn import level_agreement, linear_layers  # heavy (torch): loaded on first use

        bits, method = self.args["bits"], self.args["method"]
        weights = {f"{name}.weight": layer.weight for name, layer in linear_layers(model).items()}
        facts: dict[str, Any] = {
            "rtn_against_starting_model": level_agreement(weights, context.starting_weights(list(weights)), bits)
        }
        if method == "rtn":
            from unlearn_core.attacks.rtn import rtn_quantize_model  # heavy (torch): loaded on first use

            change = rtn_quantize_model(model, bits)
            facts.update(quantized_layers=len(change), mean_relative_weight_change=_mean(change.values()))
            return AttackOutput(model, facts)
        if method == "quanto":
            from unlearn_core.attacks.quanto_backend import quanto_quantize_model  # heavy (torch): loaded on first use

            return AttackOutput(model, {**facts, **quanto_quantize_model(model, bits)})

        model.to("cpu")
        return AttackOutput(load_bnb_model(context.model_dir, bits, context.cfg, context.device), facts)


def _mean(values: Any) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None
