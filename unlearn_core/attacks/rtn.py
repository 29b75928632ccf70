"""Round-to-nearest weight quantization: symmetric, one absmax scale per output channel, then dequantized.

For a Linear weight ``W`` (out_features × in_features) and ``b`` bits, row ``i`` gets the scale
``s_i = max_j |W_ij| / (2^(b-1) - 1)`` and each weight becomes ``s_i · clamp(round(W_ij / s_i), -(2^(b-1)-1),
2^(b-1)-1)`` (``round`` halves to even, as ``torch.round``); a row of zeros stays zero. This is the weight-only
quantization of the quantization attack (Zhang et al. 2024), and what int8 loaders do per channel; computed in
float32 and cast back to the weight's dtype, so the model keeps its layers and runs on any device.
"""

from __future__ import annotations

import torch


def qmax(bits: int) -> int:
    """The largest integer level of a symmetric ``bits``-bit grid (127 for 8 bits, 7 for 4)."""
    return 2 ** (bits - 1) - 1


def rtn_scales(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """The per-output-channel scales ``max_j |W_ij| / qmax`` as a column (float32)."""
    return weight.detach().float().abs().amax(dim=1, keepdim=True) / qmax(bits)


def _safe_scales(weight: torch.Tensor, bits: int) -> torch.Tensor:
    scale = rtn_scales(weight, bits)
    return torch.where(scale > 0, scale, torch.ones_like(scale))


def rtn_levels(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """The integer level of each weight on its row's grid, ``clamp(round(W_ij / s_i))`` (float32)."""
    if weight.ndim != 2:
        raise ValueError(f"RTN quantizes a 2-D Linear weight, got shape {tuple(weight.shape)}")
    return torch.clamp(torch.round(weight.detach().float() / _safe_scales(weight, bits)), -qmax(bits), qmax(bits))


def rtn_quantize(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """``weight`` quantized to ``bits`` bits per output channel and dequantized (same shape and dtype)."""
    return (rtn_levels(weight, bits) * _safe_scales(weight, bits)).to(weight.dtype)


def level_agreement(weights: dict[str, torch.Tensor], starting: dict[str, torch.Tensor], bits: int) -> dict:
    """How much of an update survives ``bits``-bit RTN: the share of weights that land on the same level as the
    starting model's (1.0: the quantized models are the same), and the median update in units of the starting
    model's step, over the weights both have."""
    same, count, updates = 0, 0, []
    for name, weight in weights.items():
        if name not in starting or starting[name].shape != weight.shape:
            continue
        weight = weight.detach()
        before = starting[name].float().to(weight.device)
        same += int((rtn_levels(weight, bits) == rtn_levels(before, bits)).sum())
        count += weight.numel()
        updates.append(((weight.float() - before).abs() / _safe_scales(before, bits)).flatten().cpu())
    if not count:
        return {}
    return {"same_level_share": same / count, "median_update_in_steps": float(torch.cat(updates).median())}


def linear_layers(model: torch.nn.Module) -> dict[str, torch.nn.Linear]:
    """Every ``nn.Linear`` of ``model`` by name (the output head included)."""
    return {name: module for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}


def untie_linear_weights(model: torch.nn.Module) -> list[str]:
    """Give every Linear whose weight another module shares (an output head tied to the input embeddings) a copy of
    its own, so quantizing the Linear leaves the other module as it was; returns their names."""
    owners: dict[int, int] = {}
    for module in model.modules():
        for param in module.parameters(recurse=False):
            owners[id(param)] = owners.get(id(param), 0) + 1
    untied = []
    for name, layer in linear_layers(model).items():
        if owners.get(id(layer.weight), 0) > 1:
            layer.weight = torch.nn.Parameter(layer.weight.detach().clone(), requires_grad=layer.weight.requires_grad)
            untied.append(name)
    return untied


@torch.no_grad()
def rtn_quantize_model(model: torch.nn.Module, bits: int) -> dict[str, float]:
    """Replace every Linear weight of ``model`` by its RTN quantization, in place; returns per-layer relative change
    ``||W_q - W|| / ||W||``."""
    untie_linear_weights(model)
    change = {}
    for name, layer in linear_layers(model).items():
        quantized = rtn_quantize(layer.weight, bits)
        norm = float(layer.weight.float().norm())
        change[name] = float((quantized.float() - layer.weight.float()).norm()) / norm if norm else 0.0
        layer.weight.copy_(quantized)
    return change
