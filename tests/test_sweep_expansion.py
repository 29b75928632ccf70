"""Sweep expansion (``--multirun``): Hydra's comma lists, values that stay whole, and refused sweeps."""

from __future__ import annotations

import pytest

from unlearn_core.config import parse_overrides
from unlearn_core.config.sweep import expand_sweep, split_values
from unlearn_core.errors import ConfigError


def test_comma_lists_expand_to_the_product_last_key_fastest():
    combos = expand_sweep(["trainer.args.learning_rate=1e-5,2e-5,5e-5", "trainer.method_args.beta=0.1,0.5", "x=1"])
    assert [c.index for c in combos] == list(range(6))
    assert [c.swept for c in combos[:3]] == [
        (("trainer.args.learning_rate", "1e-5"), ("trainer.method_args.beta", "0.1")),
        (("trainer.args.learning_rate", "1e-5"), ("trainer.method_args.beta", "0.5")),
        (("trainer.args.learning_rate", "2e-5"), ("trainer.method_args.beta", "0.1")),
    ]
    assert combos[5].overrides == ("trainer.args.learning_rate=5e-5", "trainer.method_args.beta=0.5", "x=1")
    assert combos[1].label == "learning_rate=1e-5 beta=0.5"


def test_nothing_swept_is_one_combination_of_the_overrides_as_given():
    combos = expand_sweep(["forget_split=forget05", "+task_name=x"])
    assert len(combos) == 1 and combos[0].overrides == ("forget_split=forget05", "+task_name=x")
    assert combos[0].swept == () and combos[0].label == "(no swept key)"


@pytest.mark.parametrize(
    ("item", "values"),
    [
        ("eval.metrics=[forget_quality,model_utility]", ["[forget_quality,model_utility]"]),
        ("k={a: 1, b: [1,2]},{a: 2}", ["{a: 1, b: [1,2]}", "{a: 2}"]),
        ("k='a,b'", ["'a,b'"]),
        ('k="a,b",c', ['"a,b"', "c"]),
        ("k=a\\,b", ["a,b"]),
        ("k=[a,b],[c]", ["[a,b]", "[c]"]),
        ("k=", [""]),
    ],
)
def test_lists_mappings_quotes_and_escaped_commas_stay_one_value(item, values):
    assert split_values(item) == values


def test_the_values_parse_as_yaml_like_any_override():
    combos = expand_sweep(["eval.metrics=[forget_quality,model_utility],[privleak]", "k='a,b'", "n=1,2.5"])
    parsed = [{o.key: o.value for o in parse_overrides(c.overrides)} for c in combos]
    assert parsed[0] == {"eval.metrics": ["forget_quality", "model_utility"], "k": "a,b", "n": 1}
    assert parsed[3] == {"eval.metrics": ["privleak"], "k": "a,b", "n": 2.5}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["k=a,,b"], "empty value"),
        (["k=[a,b"], "unbalanced"),
        (["k='a,b"], "unbalanced"),
        (["task_name=a,b"], "names the sweep's directory"),
        (["paths.output_dir=a,b"], "names the sweep's directory"),
        (["k=1,2", "k=3"], "more than once"),
        (["k=3", "k=1,2"], "more than once"),
    ],
)
def test_refused_sweeps_name_the_problem(overrides, message):
    with pytest.raises(ConfigError, match=message):
        expand_sweep(overrides)
