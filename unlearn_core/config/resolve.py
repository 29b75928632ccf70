"""Build the resolved configuration of one command: base -> benchmark -> experiment -> model -> method -> overrides."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unlearn_core.config.defaults import CHOICES, MODES, NONE_DEFAULT_TYPES, OPEN_SECTIONS, base_config
from unlearn_core.config.evaluators import add_sections, eval_benchmark, is_evaluator, open_keys, select
from unlearn_core.config.overrides import Override, parse_overrides
from unlearn_core.config.peft import apply_peft
from unlearn_core.config.validate import assign, check_choice, coerce, lookup, unknown_key_message
from unlearn_core.default_plugins.models import uses_embedded_model
from unlearn_core.errors import ConfigError, UnknownNameError
from unlearn_core.suggest import did_you_mean, unknown_message
from unlearn_core.toolkit.named import check_dataset_names

if TYPE_CHECKING:
    from unlearn_core.plugins import Plugins

GROUP_KEYS = ("benchmark", "experiment", "model", "trainer", "eval", "peft")
FINETUNE_TRAINER = "finetune"


@dataclass
class ExperimentConfig:
    """A fully resolved, validated configuration (plain nested dicts) with typed accessors."""

    values: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        """Value at a dotted key."""
        found, value = lookup(self.values, key)
        return value if found else default

    @property
    def mode(self) -> str:
        """``train``, ``unlearn`` or ``eval``."""
        return self.values["mode"]

    @property
    def benchmark(self) -> str:
        """The benchmark name."""
        return self.values["benchmark"]

    @property
    def output_dir(self) -> Path:
        """Where this run writes everything."""
        return Path(self.values["paths"]["output_dir"])

    def to_json(self) -> str:
        """The resolved configuration as JSON (what is written to ``config.json``)."""
        return json.dumps(self.values, indent=2, sort_keys=True, default=str)

    def derive(self, **changes: Any) -> ExperimentConfig:
        """A copy with dotted keys changed (no validation; for the runner's internal sub-steps)."""
        values = copy.deepcopy(self.values)
        for key, value in changes.items():
            assign(values, key.replace("__", "."), value)
        return ExperimentConfig(values)


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def _find_experiment(plugins: Plugins, name: str, benchmark: str | None) -> tuple[str, dict[str, Any]]:
    name = name.removesuffix(".yaml")
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for bench_name in plugins.benchmarks.names():
        for preset, values in plugins.benchmarks.get(bench_name).presets().items():
            found[preset] = (bench_name, values)
    if name not in found:
        raise UnknownNameError(unknown_message("experiment", name, found))
    owner, values = found[name]
    if benchmark is not None and plugins.benchmarks.canonical(benchmark) != owner:
        raise ConfigError(f"experiment '{name}' belongs to benchmark '{owner}', not '{benchmark}'")
    return owner, values


def resolve_config(
    mode: str,
    plugins: Plugins,
    *,
    benchmark: str | None = None,
    method: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> ExperimentConfig:
    """Resolve and validate everything before any model loads; errors are ConfigError (exit code 2)."""
    check_choice("mode", mode, MODES)
    groups, rest = _split_overrides(parse_overrides(list(overrides)))
    bench, preset = _benchmark(plugins, mode, benchmark, groups)
    cfg = _layered(plugins, mode, bench, preset, groups)
    method_cls = _method(plugins, mode, method, groups, cfg)
    _refuse_foreign_settings(plugins, bench, rest)
    peft_keys = [(o.key.removeprefix("peft."), o.value) for o in rest if o.key.startswith("peft.")]
    _apply_overrides(cfg, [o for o in rest if not o.key.startswith("peft.")], method_cls, open_keys(plugins))
    apply_peft(cfg, groups.get("peft"), peft_keys)
    if uses_embedded_model(cfg):
        explicit = {o.key for o in rest}
        protocol = {**bench.embedded_defaults(mode)}
        if method_cls is not None:
            protocol.update(method_cls.embedded_protocol.get(bench.name, {}))
        for key, value in protocol.items():
            if key not in explicit:
                assign(cfg, key, value)
    _check_choices(cfg, method_cls)
    check_dataset_names(cfg, plugins.datasets)
    bench.validate_config(cfg)
    select(cfg, plugins, groups.get("eval"), rest)  # after the benchmark's settings are filled in
    _fill_derived(cfg, bench.settings)
    return ExperimentConfig(cfg)


def _split_overrides(parsed: list[Override]) -> tuple[dict[str, Any], list[Override]]:
    """Group selections (``model=``, ``trainer=``, ``experiment=`` ...) and the other overrides."""
    groups = {o.key: o.value for o in parsed if o.key in GROUP_KEYS}
    for key, value in groups.items():
        if not isinstance(value, str):
            raise ConfigError(f"'{key}=' takes a name, got {value!r}")
    return groups, [o for o in parsed if o.key not in GROUP_KEYS]


def _benchmark(plugins: Plugins, mode: str, given: str | None, groups: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The benchmark (``--benchmark``, ``benchmark=``, ``eval=`` or the experiment's) and the experiment preset."""
    by_eval = groups.get("eval") if mode == "eval" and not is_evaluator(plugins, groups.get("eval")) else None
    name = given or groups.get("benchmark") or by_eval
    preset: dict[str, Any] = {}
    if groups.get("experiment"):
        name, preset = _find_experiment(plugins, groups["experiment"], name)
    if name is None:
        names = plugins.benchmarks.names()
        raise ConfigError(f"no benchmark given: use --benchmark NAME; installed: {', '.join(names) or 'none'}")
    return plugins.benchmarks.get(name), preset


def _layered(plugins: Plugins, mode: str, bench: Any, preset: dict[str, Any], groups: dict[str, Any]) -> dict[str, Any]:
    """Base configuration, then the benchmark's settings and defaults, the experiment preset, the model preset."""
    cfg = base_config()
    cfg.update(mode=mode, benchmark=bench.name, experiment=groups.get("experiment"))
    cfg.update({key: setting.default for key, setting in bench.settings.items()})
    add_sections(cfg, plugins)
    _merge(cfg, bench.config_defaults(mode))
    _merge(cfg, preset)
    if "eval" in groups and not is_evaluator(plugins, groups["eval"]):
        cfg["eval"]["benchmark"] = eval_benchmark(plugins, groups["eval"])
    cfg["eval"]["benchmark"] = cfg["eval"]["benchmark"] or bench.name
    # the model preset (the embedded tiny model's unless model= names another) brings its template
    model_cfg = _merge(base_config()["model"], plugins.models.get(groups.get("model") or cfg["model"]["name"]).config())
    if "model" not in groups:
        _merge(model_cfg, preset.get("model", {}))  # an experiment's model settings stay
    cfg["model"] = model_cfg
    return cfg


def _method(plugins: Plugins, mode: str, given: str | None, groups: dict[str, Any], cfg: dict[str, Any]) -> Any:
    """The unlearning method (``--method`` or ``trainer=``, which must agree), with its default arguments set."""
    trainer = groups.get("trainer")
    if given and trainer and str(given).lower() != str(trainer).lower():
        same = given in plugins.methods and trainer in plugins.methods
        if not same or plugins.methods.get(given) is not plugins.methods.get(trainer):
            raise ConfigError(f"--method {given} and trainer={trainer} name different methods; give one")
    name = given or trainer or cfg["trainer"]["name"]
    if mode != "unlearn":
        if name and str(name).lower() != FINETUNE_TRAINER and mode == "train":
            raise ConfigError(f"'train' finetunes a model; trainer must be 'finetune', got '{name}'")
        cfg["trainer"]["name"] = FINETUNE_TRAINER if mode == "train" else None
        return None
    if not name or str(name).lower() == FINETUNE_TRAINER:
        names = plugins.methods.names()
        raise ConfigError(f"unlearning needs a method: use --method NAME; installed: {', '.join(names)}")
    method_cls = plugins.methods.get(name)
    cfg["trainer"]["name"] = method_cls.name
    cfg["trainer"]["method_args"] = {**method_cls.defaults, **cfg["trainer"]["method_args"]}
    return method_cls


def _refuse_foreign_settings(plugins: Plugins, bench: Any, overrides: list[Override]) -> None:
    """A top-level setting of another benchmark (``data_split`` on a TOFU run) is an error naming whose it is."""
    for o in overrides:
        if "." in o.key or o.key in bench.settings:
            continue
        owners = [n for n in plugins.benchmarks.names() if o.key in plugins.benchmarks.get(n).settings]
        if owners:
            own = ", ".join(bench.settings) or "none"
            raise ConfigError(
                f"'{o.key}' is a setting of benchmark {', '.join(owners)}, not of {bench.name} (its settings: {own})"
            )


def _apply_overrides(
    cfg: dict[str, Any], overrides: list[Override], method_cls: Any, open_sections: tuple[str, ...] = ()
) -> None:
    for o in overrides:
        if o.key.startswith("trainer.method_args."):
            arg = o.key.removeprefix("trainer.method_args.")
            defaults = method_cls.defaults if method_cls is not None else {}
            if "." in arg or arg not in defaults:
                name = method_cls.name if method_cls is not None else "finetune"
                valid = ", ".join(sorted(defaults)) or "none"
                raise ConfigError(
                    f"unknown method argument '{o.key}' for {name}{did_you_mean(arg, defaults)}; valid: {valid}"
                )
            cfg["trainer"]["method_args"][arg] = coerce(o.key, defaults[arg], o.value)
            continue
        if any(o.key.startswith(section + ".") for section in (*OPEN_SECTIONS, *open_sections)):
            assign(cfg, o.key, o.value)
            continue
        found, current = lookup(cfg, o.key)
        if not found:
            raise ConfigError(unknown_key_message(cfg, o.key))
        if current is None and o.key in NONE_DEFAULT_TYPES:
            current = NONE_DEFAULT_TYPES[o.key]
        if isinstance(current, list) and isinstance(o.value, str):
            assign(cfg, o.key, [o.value])  # one name where a list is expected: a list of one
            continue
        assign(cfg, o.key, coerce(o.key, current, o.value))


def _check_choices(cfg: dict[str, Any], method_cls: Any) -> None:
    for key, choices in CHOICES.items():
        check_choice(key, lookup(cfg, key)[1], choices)
    if method_cls is not None:
        for arg, choices in method_cls.choices.items():
            check_choice(f"trainer.method_args.{arg}", cfg["trainer"]["method_args"].get(arg), choices)
    args = cfg["trainer"]["args"]
    for key in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
        if args[key] < 1:
            raise ConfigError(f"'trainer.args.{key}' must be at least 1, got {args[key]}")
    if args["learning_rate"] < 0 or args["num_train_epochs"] < 0:
        raise ConfigError("'trainer.args.learning_rate' and 'trainer.args.num_train_epochs' must not be negative")
    if args["eval_strategy"] == "steps" and not args["eval_steps"]:
        raise ConfigError("'trainer.args.eval_strategy=steps' needs 'trainer.args.eval_steps=N'")
    if cfg["generation"]["max_new_tokens"] < 1 or cfg["generation"]["batch_size"] < 1:
        raise ConfigError("'generation.max_new_tokens' and 'generation.batch_size' must be at least 1")


def _fill_derived(cfg: dict[str, Any], settings: dict[str, Any]) -> None:
    if cfg["trainer"]["args"]["seed"] is None:
        cfg["trainer"]["args"]["seed"] = cfg["seed"]
    if not cfg["task_name"]:
        parts = [cfg["benchmark"]]
        if cfg["mode"] == "unlearn":
            parts.append(cfg["trainer"]["name"])
        elif cfg["mode"] == "train":
            parts.append("finetune")
        else:
            parts.append("eval")
        parts += [str(cfg[k]) for k, setting in settings.items() if setting.in_task_name and cfg.get(k)]
        cfg["task_name"] = "_".join(parts)
    if not cfg["paths"]["output_dir"]:
        cfg["paths"]["output_dir"] = str(Path("saves") / cfg["mode"] / cfg["task_name"])
