"""optimum-quanto weight quantization (the ``quanto`` extra): int8 or int4 weights that run on CPU.

quanto's int8 weights are symmetric per output channel with an absmax scale, the same grid as our RTN; its int4
weights are affine (a minimum and a maximum per group of up to 128 input features, 16 levels). ``compare_with_rtn``
measures RTN against quanto on the same weights, and the attack records it.
"""

from __future__ import annotations

from typing import Any

import torch

from unlearn_core.attacks.rtn import linear_layers, rtn_quantize, rtn_scales, untie_linear_weights
from unlearn_core.errors import ConfigError

INSTALL = "pip install optimum-quanto (or the core's 'quanto' extra: pip install -e '.[quanto]')"


def check_quanto() -> None:
    """Refuse ``attack.method=quanto`` when optimum-quanto is not installed."""
    import importlib.util

    if importlib.util.find_spec("optimum") is None or importlib.util.find_spec("optimum.quanto") is None:
        raise ConfigError(f"attack.method=quanto needs optimum-quanto, which is not installed: {INSTALL}")


def _qtype(bits: int) -> Any:
    from optimum import quanto  # optional extra: imported only for this backend

    return {8: quanto.qint8, 4: quanto.qint4}[bits]


def dequantized_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The dequantized weight of every quantized Linear of a frozen quanto model (float32, on the CPU)."""
    weights = {}
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if hasattr(weight, "dequantize") and type(weight) is not torch.nn.Parameter:
            weights[name] = weight.dequantize().detach().float().cpu()
    return weights


@torch.no_grad()
def quanto_quantize_model(model: torch.nn.Module, bits: int) -> dict[str, Any]:
    """Quantize every Linear weight of ``model`` with quanto, in place (weights only, frozen); returns how RTN
    compares on the same weights."""
    from optimum.quanto import freeze, quantize  # optional extra: imported only for this backend

    untie_linear_weights(model)
    originals = {name: layer.weight.detach().clone() for name, layer in linear_layers(model).items()}
    quantize(model, weights=_qtype(bits))
    freeze(model)
    quantized = dequantized_weights(model)
    return {"quantized_layers": len(quantized), "rtn_agreement": compare_with_rtn(originals, quantized, bits)}


def compare_with_rtn(originals: dict[str, torch.Tensor], quantized: dict[str, torch.Tensor], bits: int) -> dict:
    """RTN of each original weight against quanto's dequantized weight: the largest difference in units of the RTN
    step (0 where the grids agree), the share of weights that are equal, and each one's mean error."""
    worst, equal, count, rtn_error, quanto_error = 0.0, 0, 0, 0.0, 0.0
    for name, original in originals.items():
        if name not in quantized:
            continue
        weight = original.float().cpu()
        rtn = rtn_quantize(weight, bits)
        step = torch.where(rtn_scales(weight, bits) > 0, rtn_scales(weight, bits), torch.ones(1))
        difference = (rtn - quantized[name]).abs()
        worst = max(worst, float((difference / step).max()))
        equal += int((difference <= 1e-6 * step).sum())
        count += weight.numel()
        rtn_error += float((rtn - weight).abs().sum())
        quanto_error += float((quantized[name] - weight).abs().sum())
    return {
        "max_difference_in_rtn_steps": worst,
        "equal_share": equal / count if count else None,
        "rtn_mean_abs_error": rtn_error / count if count else None,
        "quanto_mean_abs_error": quanto_error / count if count else None,
    }
