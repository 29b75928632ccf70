"""Round-to-nearest quantization against values worked out by hand, and RTN against optimum-quanto."""

from __future__ import annotations

import pytest
import torch

from unlearn_core.attacks.rtn import qmax, rtn_quantize, rtn_quantize_model


def test_levels_of_the_symmetric_grid():
    assert qmax(8) == 127
    assert qmax(4) == 7


def test_four_bit_rtn_of_a_known_matrix():
    # row 0: absmax 1.75, scale 1.75/7 = 0.25; W/s = [7, -3.5, 1, 0]; -3.5 rounds half to even: -4 -> -1.0
    # row 1: absmax 3.5, scale 0.5; W/s = [-7, 2.4, 0.2, 5.8] -> [-7, 2, 0, 6] -> [-3.5, 1.0, 0.0, 3.0]
    # row 2: all zeros: scale 0, stays zero
    weight = torch.tensor([[1.75, -0.875, 0.25, 0.0], [-3.5, 1.2, 0.1, 2.9], [0.0, 0.0, 0.0, 0.0]])
    expected = torch.tensor([[1.75, -1.0, 0.25, 0.0], [-3.5, 1.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0]])
    assert torch.equal(rtn_quantize(weight, 4), expected)


def test_eight_bit_rtn_of_a_known_matrix():
    # absmax 12.7, scale 0.1; W/s = [127, -50, 0.4, 0.6] -> [127, -50, 0, 1] -> [12.7, -5.0, 0.0, 0.1]
    # second row: absmax 0.635, scale 0.005; W/s = [-127, 63.6, -0.2, 12.49] -> [-127, 64, 0, 12]
    weight = torch.tensor([[12.7, -5.0, 0.04, 0.06], [-0.635, 0.318, -0.001, 0.06245]])
    expected = torch.tensor([[12.7, -5.0, 0.0, 0.1], [-0.635, 0.32, 0.0, 0.06]])
    torch.testing.assert_close(rtn_quantize(weight, 8), expected, rtol=0, atol=1e-6)


def test_rtn_keeps_shape_and_dtype_and_refuses_other_shapes():
    weight = torch.randn(5, 7, dtype=torch.bfloat16)
    out = rtn_quantize(weight, 4)
    assert out.shape == weight.shape and out.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="2-D"):
        rtn_quantize(torch.ones(3), 4)


def test_every_quantized_row_has_at_most_fifteen_levels_within_half_a_step():
    weight = torch.randn(16, 64, generator=torch.Generator().manual_seed(0))
    out = rtn_quantize(weight, 4)
    scale = weight.abs().amax(dim=1, keepdim=True) / 7
    assert all(len(torch.unique(row)) <= 15 for row in out)
    assert bool(((out - weight).abs() <= scale / 2 + 1e-6).all())


class TiedLM(torch.nn.Module):
    """An embedding, a hidden Linear and an output head that shares the embedding's weight."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(1)
        self.embed = torch.nn.Embedding(10, 4)
        self.hidden = torch.nn.Linear(4, 4, bias=False)
        self.head = torch.nn.Linear(4, 10, bias=False)
        with torch.no_grad():
            self.embed.weight.copy_(torch.randn(10, 4, generator=generator))
            self.hidden.weight.copy_(torch.randn(4, 4, generator=generator))
        self.head.weight = self.embed.weight


def test_every_linear_is_quantized_and_a_tied_embedding_is_left_as_it_was():
    model = TiedLM()
    embedding, hidden = model.embed.weight.detach().clone(), model.hidden.weight.detach().clone()
    change = rtn_quantize_model(model, 4)
    assert sorted(change) == ["head", "hidden"]
    assert torch.equal(model.embed.weight, embedding)
    assert torch.equal(model.hidden.weight, rtn_quantize(hidden, 4))
    assert torch.equal(model.head.weight, rtn_quantize(embedding, 4))


def test_rtn_against_quanto_on_the_same_weights():
    pytest.importorskip("optimum.quanto")
    from unlearn_core.attacks.quanto_backend import compare_with_rtn, quanto_quantize_model

    def model() -> torch.nn.Module:
        torch.manual_seed(3)
        return torch.nn.Sequential(torch.nn.Linear(128, 64), torch.nn.Linear(64, 352), torch.nn.Linear(352, 32))

    originals = {str(i): layer.weight.detach().clone() for i, layer in enumerate(model())}
    eight = quanto_quantize_model(model(), 8)["rtn_agreement"]
    assert eight["max_difference_in_rtn_steps"] == 0.0  # int8: the same per-channel absmax grid
    assert eight["equal_share"] == 1.0
    four = quanto_quantize_model(model(), 4)["rtn_agreement"]
    # int4: quanto's grid is affine (min/max, 16 levels, groups of up to 128 inputs), ours symmetric (15 levels):
    # each is within half its own step of the weight, and quanto's step is at most 14/15 of ours, so the two stay
    # within one RTN step of each other (and are not the same grid)
    assert 0 < four["max_difference_in_rtn_steps"] < 1
    assert four["equal_share"] < 1
    assert four["quanto_mean_abs_error"] <= four["rtn_mean_abs_error"]
    assert compare_with_rtn(originals, {}, 4)["equal_share"] is None


def test_how_much_of_an_update_survives_quantization():
    from unlearn_core.attacks.rtn import level_agreement, rtn_levels

    # starting row: absmax 1.75, scale 0.25, levels [7, 3.5 -> 4, 0.5 -> 0]
    # updated row: absmax 1.75, scale 0.25, levels [7, 3, 1.5 -> 2]: one weight of three on its old level
    # updates in starting steps: [0, 0.125 / 0.25, 0.25 / 0.25] = [0, 0.5, 1.0], median 0.5
    starting = {"w": torch.tensor([[1.75, 0.875, 0.125]])}
    updated = {"w": torch.tensor([[1.75, 0.75, 0.375]]), "absent": torch.ones(2, 2)}
    assert torch.equal(rtn_levels(starting["w"], 4), torch.tensor([[7.0, 4.0, 0.0]]))
    agreement = level_agreement(updated, starting, 4)
    assert agreement["same_level_share"] == pytest.approx(1 / 3)
    assert agreement["median_update_in_steps"] == pytest.approx(0.5)
    assert level_agreement(updated, {}, 4) == {}
