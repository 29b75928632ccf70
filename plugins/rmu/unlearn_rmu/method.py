"""RMU: push one layer's activations on forget data toward a fixed random direction, keep them on retain data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from unlearn_core import Batch, LossOutput, Normalization, Reference, UnlearnBatch, UnlearningMethod
from unlearn_core.errors import ConfigError

if TYPE_CHECKING:
    import torch

OPEN_UNLEARNING = "open-unlearning"
COMPAT_CHOICES: tuple[str, ...] = ("none", OPEN_UNLEARNING)
"""``compat``: ``none`` (the paper's formula) or ``open-unlearning`` (its values, quirks included)."""
EMBED_DIFF = "EMBED_DIFF"
RETAIN_CHOICES: tuple[str, ...] = (EMBED_DIFF, "NLL", "KL")


class RMU(UnlearningMethod):
    """``L = gamma * L_forget + alpha * L_retain``: ``L_forget`` is the squared error between layer
    ``module_regex``'s output on forget data and ``c * u / |u|``; ``L_retain`` (``EMBED_DIFF``) the squared error
    between that output on retain data and the frozen starting model's, or a NLL/KL retain loss."""

    name: ClassVar[str] = "RMU"
    description: ClassVar[str] = "representation misdirection: steer one layer's forget activations to a random vector"
    defaults: ClassVar[dict[str, Any]] = {
        "gamma": 1.0,
        "steering_coeff": 2.0,
        "retain_loss_type": EMBED_DIFF,
        "alpha": 1.0,
        "module_regex": r"model\.layers\.7",
        "trainable_params_regex": [".*"],
        "control_seed": 0,
        "compat": "none",
    }
    embedded_protocol: ClassVar[dict[str, dict[str, Any]]] = {
        "tofu": {"trainer.method_args.module_regex": r"model\.layers\.2"},
        "muse": {"trainer.method_args.module_regex": r"model\.layers\.2"},
    }
    """The embedded TOFU and MUSE models have 4 layers, so the published layer 7 does not exist there."""
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {"retain_loss_type": RETAIN_CHOICES, "compat": COMPAT_CHOICES}

    def __init__(self, **method_args: Any) -> None:
        super().__init__(**method_args)
        patterns = self.args["trainable_params_regex"]
        if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
            raise ConfigError(
                f"'trainer.method_args.trainable_params_regex' must be a non-empty list of regular expressions like "
                f"[model\\.layers\\.7\\..*], got {patterns!r}"
            )
        if not isinstance(self.args["module_regex"], str) or not self.args["module_regex"]:
            given = self.args["module_regex"]
            raise ConfigError(f"'trainer.method_args.module_regex' must be a regular expression, got {given!r}")
        self.control: torch.Tensor | None = None

    @property
    def compat(self) -> bool:
        """Whether open-unlearning's values are reproduced (``compat=open-unlearning``)."""
        return self.args["compat"] == OPEN_UNLEARNING

    def needs_reference_model(self) -> bool:
        """EMBED_DIFF and KL compare with the frozen starting model."""
        return self.args["retain_loss_type"] in (EMBED_DIFF, "KL")

    def hidden_state_modules(self) -> tuple[str, ...]:
        """The steered layer."""
        return (self.args["module_regex"],)

    def trainable_parameters(self) -> tuple[str, ...] | None:
        """``trainable_params_regex`` (``.*``, the default, trains every parameter)."""
        return tuple(self.args["trainable_params_regex"])

    def normalization(self) -> Normalization:
        """Each term is a mean over the effective batch's rows; open-unlearning's product of two batch means (and its
        KL over every position) cannot be split."""
        return "whole-batch" if self.compat else "effective"

    def control_vector(self, width: int) -> torch.Tensor:
        """The fixed target direction times ``steering_coeff``, drawn once from ``control_seed`` (or restored)."""
        from unlearn_rmu.losses import control_vector

        if self.control is None:
            self.control = control_vector(width, float(self.args["steering_coeff"]), int(self.args["control_seed"]))
        if self.control.shape != (width,):
            raise ConfigError(f"RMU's control vector has {self.control.numel()} units but the layer has {width}")
        return self.control

    def _layer_output(self, outputs: Any) -> torch.Tensor:
        if len(outputs.outputs) != 1:
            found = ", ".join(outputs.outputs)
            raise ConfigError(
                f"RMU steers one module, but trainer.method_args.module_regex='{self.args['module_regex']}' matches "
                f"{len(outputs.outputs)}: {found}"
            )
        return next(iter(outputs.outputs.values()))

    def _distance(self, errors: torch.Tensor, labels: torch.Tensor, rows: float) -> torch.Tensor:
        from unlearn_rmu.losses import labelled, open_unlearning_loss, row_mean_loss

        mask = labelled(labels)
        return open_unlearning_loss(errors, mask) if self.compat else row_mean_loss(errors, mask, rows)

    def forget_loss(self, model: torch.nn.Module, forget: Batch, rows: float) -> torch.Tensor:
        """Squared error of the layer's forget activations to the control vector."""
        from unlearn_core import module_outputs
        from unlearn_rmu.losses import squared_error

        hidden = self._layer_output(module_outputs(model, forget, self.args["module_regex"]))
        errors = squared_error(hidden, self.control_vector(hidden.shape[-1]))
        return self._distance(errors, forget["labels"], rows)

    def retain_loss(self, model: torch.nn.Module, retain: Batch, reference: Reference, totals: Any) -> torch.Tensor:
        """EMBED_DIFF (squared error to the frozen model's activations), or the NLL/KL retain loss."""
        from unlearn_core import losses, module_outputs
        from unlearn_rmu.losses import squared_error

        kind = self.args["retain_loss_type"]
        if kind == EMBED_DIFF:
            pattern = self.args["module_regex"]
            hidden = self._layer_output(module_outputs(model, retain, pattern))
            frozen = self._layer_output(reference.module_outputs(retain, pattern))
            return self._distance(squared_error(hidden, frozen), retain["labels"], totals.samples("retain"))
        if kind == "KL" and self.compat:
            return losses.kl_every_position(reference.logits(retain), losses.model_logits(model, retain))
        return losses.retain_loss(kind, model, retain, reference, totals.tokens("retain"))

    def compute_loss(self, model: torch.nn.Module, batch: UnlearnBatch, reference: Reference) -> LossOutput:
        """``gamma * L_forget + alpha * L_retain``."""
        totals = self.totals(batch)
        forget = self.forget_loss(model, batch["forget"], totals.samples("forget"))
        retain = self.retain_loss(model, batch["retain"], reference, totals)
        loss = self.args["gamma"] * forget + self.args["alpha"] * retain
        return LossOutput(loss, {"forget_loss": float(forget.detach()), "retain_loss": float(retain.detach())})

    def state_dict(self) -> dict[str, Any]:
        """The control vector, once drawn (a float32 tensor)."""
        return {} if self.control is None else {"control_vector": self.control}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back the control vector of a checkpoint."""
        vector = state.get("control_vector")
        self.control = None if vector is None else vector.detach().to("cpu", copy=True)
