"""The attack contract: an attack turns an unlearned model into an attacked one; the core evaluates both.

An attack (Hu et al. 2024, relearning; Zhang et al. 2024, quantization) asks whether unlearning removed knowledge or
only hid it. A subclass of ``Attack`` declares its arguments (``defaults``, ``choices``: the ``attack.<key>=`` keys of
``unlearn attack``) and implements ``apply``: it receives the unlearned model, loaded from the run's ``model/``,
and an ``AttackContext`` that gives it the run's data, a finetuning loop and a scratch directory; it returns the
model to evaluate. Nothing here owns an evaluation: the runner evaluates the returned model with the run's own
benchmark settings and reference logs, writes the results and compares them with the unlearned model's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import torch

    from unlearn_core.data import Tokenized

FORGET_SUBSET = "forget_subset"
"""``AttackContext.data`` name of the run's forget set (an attack takes the share it wants)."""
RETAIN = "retain"
"""``AttackContext.data`` name of the run's retain set."""


@dataclass
class AttackOutput:
    """The attacked model and facts about the attack (recorded in ``attack.json``: steps, final loss, layers...)."""

    model: torch.nn.Module
    facts: dict[str, Any] = field(default_factory=dict)


class AttackContext(Protocol):
    """What the runner provides to an attack."""

    cfg: dict[str, Any]
    """The attacked run's resolved configuration (``config.json``)."""
    model_dir: Path
    """The directory the unlearned model was loaded from."""
    work_dir: Path
    """A scratch directory of this attack, removed once the attacked model is evaluated."""
    tokenizer: Any
    device: torch.device
    """Where the model is (the evaluation runs there)."""

    def data(self, name: str) -> list[Tokenized]:
        """Tokenised samples of the run: ``forget_subset`` (the run's forget set), ``retain`` (its retain set) or
        any data set name of the run's benchmark (``data.forget=`` names: ``TOFU_QA_forget_para``...)."""
        ...

    def starting_weights(self, names: list[str]) -> dict[str, torch.Tensor]:
        """The parameters ``names`` (state-dict keys) of the model the run started from (the target model), read
        from its safetensors on the CPU; those it lacks are left out, and nothing when the run did not record it."""
        ...

    def finetune(
        self, model: torch.nn.Module, rows: list[Tokenized], *, steps: int, learning_rate: float, seed: int
    ) -> dict[str, Any]:
        """Finetune ``model`` in place on ``rows`` (cross-entropy on the answers) for ``steps`` optimizer steps at a
        constant ``learning_rate``, with the run's batch size and optimizer, and ``seed`` for the order of the
        samples; returns facts (steps, final loss)."""
        ...


class Attack(ABC):
    """Base class of attacks, registered with ``register_attacks``.

    ``defaults`` lists every argument with its default (``attack.<key>=VALUE`` sets one, typed like the default; a
    default of None takes any value, resolved by the attack); ``choices`` restricts values. ``self.args`` holds the
    resolved arguments.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def __init__(self, **args: Any) -> None:
        self.args: dict[str, Any] = {**self.defaults, **args}

    def check(self, cfg: dict[str, Any]) -> None:
        """Refuse arguments that cannot work for the run of ``cfg`` (raise ``ConfigError`` naming the key and the
        valid values), before any model loads; ``choices`` are checked already. By default nothing more."""
        return None

    def variant(self) -> str:
        """What tells this attack's results apart from other settings of the same attack: the directory is
        ``attacks/<name>-<variant>`` (``<name>`` when empty). By default the arguments that differ from the
        defaults, as ``key-value`` parts joined by ``_``."""
        parts = [f"{key}-{value}" for key, value in self.args.items() if value != self.defaults.get(key)]
        return "_".join(parts)

    def label(self) -> str:
        """The attack's name and variant: its directory under ``attacks/`` and its row in summary tables."""
        variant = "".join(c if c.isalnum() or c in "-_.+" else "-" for c in self.variant())
        return f"{self.name}-{variant}" if variant else self.name

    @abstractmethod
    def apply(self, model: torch.nn.Module, context: AttackContext) -> AttackOutput:
        """Attack ``model`` (the unlearned model, a fresh copy that may be changed in place)."""
