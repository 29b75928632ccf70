"""Configuration resolution: defaults, presets, KEY=VALUE overrides and the errors a user sees for bad ones."""

from __future__ import annotations

import json

import pytest
from unlearn_tofu.benchmark import EMBEDDED_FINETUNE_ARGS, EMBEDDED_UNLEARN_ARGS, PUBLISHED_UNLEARN_ARGS

from unlearn_core.config import parse_overrides, resolve_config
from unlearn_core.errors import ConfigError, UnknownNameError
from unlearn_core.plugins import DISABLE_ENV, Plugins, load_plugins


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Plugins:
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    return load_plugins()


def resolve(plugins: Plugins, *overrides: str, mode: str = "unlearn", benchmark: str | None = "tofu", method=None):
    if mode == "unlearn" and method is None and not any(o.startswith(("trainer=", "experiment=")) for o in overrides):
        method = "npo"
    return resolve_config(mode, plugins, benchmark=benchmark, method=method, overrides=list(overrides))


def error_of(plugins: Plugins, *overrides: str, error: type[Exception] = ConfigError, **kwargs) -> str:
    with pytest.raises(error) as info:
        resolve(plugins, *overrides, **kwargs)
    message = str(info.value)
    assert "\n" not in message, "errors are one line"
    assert info.value.exit_code == 2
    return message


# ---- defaults --------------------------------------------------------------------------------------------------------


def test_defaults_for_tofu_npo(plugins):
    cfg = resolve(plugins)
    v = cfg.values
    assert cfg.mode == "unlearn"
    assert cfg.benchmark == "tofu"
    assert v["trainer"]["name"] == "NPO"
    assert (v["forget_split"], v["retain_split"], v["holdout_split"]) == ("forget10", "retain90", "holdout10")
    assert v["task_name"] == "tofu_NPO_forget10"
    assert v["paths"]["output_dir"] == "saves/unlearn/tofu_NPO_forget10"
    assert str(cfg.output_dir) == "saves/unlearn/tofu_NPO_forget10"
    assert v["eval"]["benchmark"] == "tofu"
    assert v["model"]["name"] == "tiny-llama"
    assert v["trainer"]["args"]["seed"] == v["seed"] == 0
    assert v["model"]["trust_remote_code"] is False


def test_method_name_is_case_insensitive_and_canonicalised(plugins):
    assert resolve(plugins, method="NPO").values == resolve(plugins, method="npo").values


def test_trainer_override_equals_method_option(plugins):
    by_override = resolve(plugins, "trainer=GradDiff")
    by_option = resolve(plugins, method="graddiff")
    assert by_override.values == by_option.values
    assert by_override.values["trainer"]["name"] == "GradDiff"
    assert by_override.values["task_name"] == "tofu_GradDiff_forget10"


def test_alias_resolves_to_the_canonical_method(plugins):
    cfg = resolve(plugins, method="ga")
    assert cfg.values["trainer"]["name"] == "GradAscent"
    assert cfg.values["task_name"] == "tofu_GradAscent_forget10"


def test_method_args_defaults_are_merged(plugins):
    assert resolve(plugins).values["trainer"]["method_args"] == {
        "beta": 0.1,
        "gamma": 1.0,
        "alpha": 1.0,
        "retain_loss_type": "NLL",
    }
    assert resolve(plugins, method="GradAscent").values["trainer"]["method_args"] == {}


def test_method_args_are_overridable(plugins):
    args = resolve(plugins, "trainer.method_args.beta=0.2", "trainer.method_args.retain_loss_type=KL").values[
        "trainer"
    ]["method_args"]
    assert args == {"beta": 0.2, "gamma": 1.0, "alpha": 1.0, "retain_loss_type": "KL"}


def test_integer_method_arg_becomes_a_float(plugins):
    args = resolve(plugins, "trainer.method_args.alpha=2").values["trainer"]["method_args"]
    assert args["alpha"] == 2.0 and isinstance(args["alpha"], float)


def test_train_mode_uses_finetune_and_its_own_settings(plugins):
    cfg = resolve(plugins, mode="train")
    assert cfg.values["trainer"]["name"] == "finetune"
    assert cfg.values["task_name"] == "tofu_finetune_forget10"
    assert cfg.values["paths"]["output_dir"] == "saves/train/tofu_finetune_forget10"
    assert cfg.values["trainer"]["args"]["learning_rate"] == EMBEDDED_FINETUNE_ARGS["learning_rate"]
    assert cfg.values["trainer"]["args"]["num_train_epochs"] == EMBEDDED_FINETUNE_ARGS["num_train_epochs"]


def test_eval_mode_defaults(plugins):
    cfg = resolve(plugins, mode="eval")
    assert cfg.values["trainer"]["name"] is None
    assert cfg.values["task_name"] == "tofu_eval_forget10"
    assert cfg.values["paths"]["output_dir"] == "saves/eval/tofu_eval_forget10"


def test_eval_override_selects_the_benchmark_in_eval_mode(plugins):
    cfg = resolve(plugins, "eval=tofu", mode="eval", benchmark=None)
    assert cfg.benchmark == "tofu"
    assert cfg.values["eval"]["benchmark"] == "tofu"


def test_task_name_and_output_dir(plugins):
    cfg = resolve(plugins, "task_name=my_run")
    assert cfg.values["paths"]["output_dir"] == "saves/unlearn/my_run"
    cfg = resolve(plugins, "task_name=my_run", "paths.output_dir=/elsewhere/out")
    assert str(cfg.output_dir) == "/elsewhere/out"


def test_experiment_preset_selects_benchmark_and_method(plugins):
    cfg = resolve(plugins, "experiment=unlearn/tofu/default", benchmark=None)
    assert cfg.benchmark == "tofu"
    assert cfg.values["experiment"] == "unlearn/tofu/default"
    assert cfg.values["trainer"]["name"] == "NPO"
    assert cfg.values["task_name"] == "tofu_NPO_forget10"


def test_experiment_preset_accepts_a_yaml_suffix(plugins):
    cfg = resolve(plugins, "experiment=unlearn/tofu/default.yaml", benchmark=None)
    assert cfg.values["trainer"]["name"] == "NPO"


def test_experiment_preset_sets_the_split(plugins):
    v = resolve(plugins, "experiment=unlearn/tofu/forget05", method="npo").values
    assert (v["forget_split"], v["retain_split"], v["holdout_split"]) == ("forget05", "retain95", "holdout05")
    assert v["task_name"] == "tofu_NPO_forget05"


def test_method_option_wins_over_the_presets_method(plugins):
    cfg = resolve(plugins, "experiment=unlearn/tofu/default", method="GradDiff")
    assert cfg.values["trainer"]["name"] == "GradDiff"


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ("forget_split=forget05", ("forget05", "retain95", "holdout05")),
        ("forget_split=forget01", ("forget01", "retain99", "holdout01")),
        ("retain_split=retain90", ("forget10", "retain90", "holdout10")),
        ("holdout_split=holdout10", ("forget10", "retain90", "holdout10")),
    ],
)
def test_split_overrides_fill_in_consistent_partners(plugins, split, expected):
    v = resolve(plugins, split).values
    assert (v["forget_split"], v["retain_split"], v["holdout_split"]) == expected


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ("retain_split=retain95", ("forget05", "retain95", "holdout05")),
        ("holdout_split=holdout01", ("forget01", "retain99", "holdout01")),
    ],
)
def test_lone_retain_or_holdout_split_selects_its_forget_split(plugins, split, expected):
    v = resolve(plugins, split).values
    assert (v["forget_split"], v["retain_split"], v["holdout_split"]) == expected


def test_model_preset_sets_hub_id_and_chat_template(plugins):
    model = resolve(plugins, "model=Llama-3.2-1B-Instruct").values["model"]
    assert model["name"] == "Llama-3.2-1B-Instruct"
    assert model["model_args"]["pretrained_model_name_or_path"] == "meta-llama/Llama-3.2-1B-Instruct"
    assert model["tokenizer_args"]["pretrained_model_name_or_path"] is None  # the model's own, wherever it is
    assert model["template_args"]["apply_chat_template"] is True
    assert model["template_args"]["system_prompt"] == "You are a helpful assistant."
    assert model["template_args"]["date_string"] == "10 Apr 2025"


def test_model_presets_carry_the_reference_templates(plugins):
    raw = resolve(plugins, "model=Llama-2-7b-hf").values["model"]["template_args"]
    assert (raw["apply_chat_template"], raw["asst_start_tag"], raw["asst_end_tag"]) == (False, "Answer: ", "\n\n")
    qwen = resolve(plugins, "model=Qwen2.5-7B-Instruct").values["model"]["template_args"]
    assert qwen["system_prompt"] == "You are a helpful assistant." and qwen["asst_end_tag"] == "<|im_end|>\n"
    tiny = resolve(plugins).values["model"]["template_args"]
    assert tiny["asst_start_tag"] == "Answer:"  # the embedded model's prompt stays a token prefix of the answer
    names = set(plugins.models.names())
    assert {"zephyr-7b-beta", "Phi-3.5-mini-instruct", "Qwen2.5-1.5B-Instruct", "Llama-2-13b-hf"} <= names


def test_model_preset_name_is_case_insensitive(plugins):
    assert resolve(plugins, "model=llama-3.2-1b-instruct").values["model"]["name"] == "Llama-3.2-1B-Instruct"


def test_model_args_section_is_open_to_any_from_pretrained_key(plugins):
    model = resolve(plugins, "model.model_args.attn_implementation=sdpa").values["model"]
    assert model["model_args"]["attn_implementation"] == "sdpa"


def test_template_override(plugins):
    template = resolve(plugins, "model.template_args.system_prompt=Be brief.").values["model"]["template_args"]
    assert template["system_prompt"] == "Be brief."


# ---- value parsing ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1e-5", "1E-5", "0.00001", "1.0e-5"])
def test_scientific_notation_parses_as_float(plugins, text):
    lr = resolve(plugins, f"trainer.args.learning_rate={text}").values["trainer"]["args"]["learning_rate"]
    assert isinstance(lr, float)
    assert lr == pytest.approx(1e-5)


def test_override_values_are_typed(plugins):
    args = resolve(
        plugins,
        "trainer.args.num_train_epochs=3",
        "trainer.args.bf16=true",
        "trainer.args.weight_decay=0",
        "trainer.args.optim=sgd",
    ).values["trainer"]["args"]
    assert args["num_train_epochs"] == 3 and isinstance(args["num_train_epochs"], int)
    assert args["bf16"] is True
    assert args["weight_decay"] == 0.0 and isinstance(args["weight_decay"], float)
    assert args["optim"] == "sgd"


def test_whole_float_is_accepted_for_an_integer(plugins):
    assert resolve(plugins, "trainer.args.num_train_epochs=2.0").values["trainer"]["args"]["num_train_epochs"] == 2


def test_parse_overrides_keeps_the_text():
    (override,) = parse_overrides(["+trainer.args.learning_rate=2e-5"])
    assert override.key == "trainer.args.learning_rate"
    assert override.text == "+trainer.args.learning_rate=2e-5"


def test_list_values_parse(plugins):
    cfg = resolve(plugins, "eval.metrics=[forget_quality,model_utility]")
    assert cfg.values["eval"]["metrics"] == ["forget_quality", "model_utility"]


# ---- errors ----------------------------------------------------------------------------------------------------------


def test_invalid_method_arg_choice_lists_the_valid_ones(plugins):
    message = error_of(plugins, "trainer.method_args.retain_loss_type=KLL")
    assert "trainer.method_args.retain_loss_type" in message
    assert "NLL" in message and "KL" in message
    assert "did you mean 'KL'" in message


def test_unknown_method_arg_suggests_and_lists(plugins):
    message = error_of(plugins, "trainer.method_args.betaa=1")
    assert "trainer.method_args.betaa" in message
    assert "did you mean 'beta'" in message
    assert "alpha, beta, gamma, retain_loss_type" in message


def test_method_arg_of_another_method_is_unknown(plugins):
    message = error_of(plugins, "trainer.method_args.beta=0.2", method="GradDiff")
    assert "trainer.method_args.beta" in message and "GradDiff" in message


def test_method_args_in_train_mode_are_an_error(plugins):
    assert "trainer.method_args.beta" in error_of(plugins, "trainer.method_args.beta=0.2", mode="train")


def test_unknown_key_suggests_the_close_one(plugins):
    message = error_of(plugins, "trainer.args.learnin_rate=1")
    assert "unknown override key 'trainer.args.learnin_rate'" in message
    assert "did you mean 'trainer.args.learning_rate'?" in message
    assert "trainer.args.num_train_epochs" in message


def test_unknown_top_level_key(plugins):
    message = error_of(plugins, "forget_splt=forget05")
    assert "forget_splt" in message and "did you mean 'forget_split'" in message


def test_key_below_a_value_is_an_error(plugins):
    assert "trainer.args.learning_rate" in error_of(plugins, "trainer.args.learning_rate.x=1")


def test_section_given_a_value_is_an_error(plugins):
    assert "trainer.args" in error_of(plugins, "trainer.args=3")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("trainer.args.num_train_epochs=abc", "trainer.args.num_train_epochs"),
        ("trainer.args.num_train_epochs=2.5", "trainer.args.num_train_epochs"),
        ("trainer.args.bf16=maybe", "trainer.args.bf16"),
        ("trainer.args.bf16=1", "trainer.args.bf16"),
        ("trainer.args.learning_rate=fast", "trainer.args.learning_rate"),
        ("trainer.args.optim=[a,b]", "trainer.args.optim"),
        ("trainer.method_args.beta=high", "trainer.method_args.beta"),
        ("data.max_length=long", "data.max_length"),
        ("seed=abc", "seed"),
    ],
)
def test_wrong_type_names_the_key(plugins, override, key):
    assert f"'{key}'" in error_of(plugins, override)


@pytest.mark.parametrize("override", ["trainer.args.seed=abc", "trainer.args.eval_steps=often"])
def test_wrong_type_for_a_key_whose_default_is_none(plugins, override):
    assert override.split("=")[0] in error_of(plugins, override)


def test_numeric_task_name_is_a_name_or_a_config_error(plugins):
    try:
        cfg = resolve(plugins, "task_name=5")
    except ConfigError:
        return
    assert cfg.values["paths"]["output_dir"] == "saves/unlearn/5"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("trainer.args.optim=adamw_torch_fusd", "trainer.args.optim"),
        ("generation.cache=statik", "generation.cache"),
        ("trainer.args.lr_scheduler_type=cosin", "trainer.args.lr_scheduler_type"),
        ("trainer.args.eval_strategy=sometimes", "trainer.args.eval_strategy"),
    ],
)
def test_invalid_choice_names_the_key_and_choices(plugins, override, key):
    message = error_of(plugins, override)
    assert key in message and "valid choices" in message


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("trainer.args.per_device_train_batch_size=0", "per_device_train_batch_size"),
        ("trainer.args.gradient_accumulation_steps=0", "gradient_accumulation_steps"),
        ("trainer.args.learning_rate=-1", "learning_rate"),
        ("generation.max_new_tokens=0", "max_new_tokens"),
    ],
)
def test_out_of_range_values(plugins, override, fragment):
    assert fragment in error_of(plugins, override)


def test_eval_steps_needed_for_steps_strategy(plugins):
    assert "eval_steps" in error_of(plugins, "trainer.args.eval_strategy=steps")


def test_unknown_benchmark(plugins):
    message = error_of(plugins, benchmark="nope", error=UnknownNameError)
    assert "unknown benchmark 'nope'" in message and "tofu" in message


def test_unknown_benchmark_with_a_suggestion(plugins):
    assert "did you mean 'tofu'" in error_of(plugins, benchmark="tofuu", error=UnknownNameError)


def test_unknown_method(plugins):
    message = error_of(plugins, method="nope", error=UnknownNameError)
    assert "unknown method 'nope'" in message
    valid = message.split("valid choices: ")[1]  # every installed method; the built-in plugins' at least
    assert all(name in valid.split(", ") for name in ("GradAscent", "GradDiff", "NPO", "SimNPO"))


def test_unknown_method_through_trainer_override(plugins):
    message = error_of(plugins, "trainer=GradDif", error=UnknownNameError)
    assert "did you mean 'GradDiff'" in message


def test_unknown_model_preset(plugins):
    message = error_of(plugins, "model=Llama-9", error=UnknownNameError)
    assert "unknown model 'Llama-9'" in message
    assert "Llama-3.2-1B-Instruct" in message and "tiny-llama" in message


def test_unknown_experiment(plugins):
    message = error_of(plugins, "experiment=unlearn/tofu/defualt", error=UnknownNameError)
    assert "did you mean 'unlearn/tofu/default'" in message
    assert "finetune/tofu/default" in message


def test_misspelled_forget_split(plugins):
    message = error_of(plugins, "forget_split=forget11", error=UnknownNameError)
    assert "forget11" in message
    assert "forget01, forget05, forget10" in message


def test_inconsistent_splits(plugins):
    message = error_of(plugins, "forget_split=forget10", "retain_split=retain95")
    assert "retain95" in message and "forget10" in message and "retain90" in message


def test_tofu_has_no_data_split(plugins):
    assert "data_split" in error_of(plugins, "data_split=News")


def test_unknown_embedded_data_key(plugins):
    message = error_of(plugins, "data.embedded.nauthors=10")
    assert "did you mean 'n_authors'" in message


def test_unknown_data_train_choice(plugins):
    assert "target" in error_of(plugins, "data.train=targt", mode="train")


@pytest.mark.parametrize("bad", ["foo", "=1", "trainer..args=1", "1abc=2", "a b=1"])
def test_bad_override_syntax(plugins, bad):
    message = error_of(plugins, bad)
    assert f"'{bad}'" in message and "KEY=VALUE" in message


def test_group_key_needs_a_name(plugins):
    assert "model" in error_of(plugins, "model=[a,b]")


def test_unlearning_needs_a_method(plugins):
    with pytest.raises(ConfigError) as info:
        resolve_config("unlearn", plugins, benchmark="tofu")
    assert "--method" in str(info.value) and "NPO" in str(info.value)


def test_no_benchmark_lists_installed_ones(plugins):
    message = error_of(plugins, benchmark=None)
    assert "--benchmark" in message and "tofu" in message


def test_finetune_is_not_an_unlearning_method(plugins):
    assert "method" in error_of(plugins, "trainer=finetune")


def test_train_mode_refuses_an_unlearning_method(plugins):
    assert "finetune" in error_of(plugins, "trainer=NPO", mode="train")


def test_unknown_mode(plugins):
    with pytest.raises(ConfigError, match="mode"):
        resolve_config("forget", plugins, benchmark="tofu")


def test_conflicting_method_option_and_trainer_override_is_an_error(plugins):
    error_of(plugins, "trainer=GradDiff", method="npo")


# ---- embedded-model defaults -----------------------------------------------------------------------------------------


def test_embedded_model_gets_its_own_protocol_by_default(plugins):
    v = resolve(plugins).values
    args = v["trainer"]["args"]
    for key, value in EMBEDDED_UNLEARN_ARGS.items():
        assert args[key] == value, key
    assert v["generation"]["max_new_tokens"] == 48
    assert v["data"]["max_length"] == 128


def test_user_value_beats_the_embedded_default(plugins):
    v = resolve(plugins, "trainer.args.learning_rate=2e-5", "generation.max_new_tokens=8").values
    assert v["trainer"]["args"]["learning_rate"] == 2e-5
    assert v["generation"]["max_new_tokens"] == 8
    assert v["trainer"]["args"]["num_train_epochs"] == EMBEDDED_UNLEARN_ARGS["num_train_epochs"]


def test_user_value_equal_to_the_published_one_is_kept(plugins):
    assert resolve(plugins, "trainer.args.learning_rate=1e-5").values["trainer"]["args"]["learning_rate"] == 1e-5


def test_a_real_model_keeps_the_published_protocol(plugins):
    v = resolve(plugins, "model.model_args.pretrained_model_name_or_path=/x").values
    args = v["trainer"]["args"]
    for key, value in PUBLISHED_UNLEARN_ARGS.items():
        assert args[key] == value, key
    assert args["learning_rate"] == 1e-5
    assert v["generation"]["max_new_tokens"] == 200
    assert v["data"]["max_length"] == 512


def test_a_model_preset_keeps_the_published_protocol(plugins):
    assert resolve(plugins, "model=Llama-3.2-1B-Instruct").values["trainer"]["args"]["learning_rate"] == 1e-5


# ---- ExperimentConfig ------------------------------------------------------------------------------------------------


def test_get_to_json_and_derive(plugins):
    cfg = resolve(plugins)
    assert cfg.get("trainer.method_args.beta") == 0.1
    assert cfg.get("trainer.nothing", "fallback") == "fallback"
    assert json.loads(cfg.to_json())["task_name"] == "tofu_NPO_forget10"
    derived = cfg.derive(trainer__args__learning_rate=0.5)
    assert derived.get("trainer.args.learning_rate") == 0.5
    assert cfg.get("trainer.args.learning_rate") == EMBEDDED_UNLEARN_ARGS["learning_rate"]


def test_resolving_does_not_mutate_shared_defaults(plugins):
    resolve(plugins, "trainer.args.learning_rate=0.5", "trainer.method_args.beta=0.7")
    v = resolve(plugins).values
    assert v["trainer"]["args"]["learning_rate"] == EMBEDDED_UNLEARN_ARGS["learning_rate"]
    assert v["trainer"]["method_args"]["beta"] == 0.1
