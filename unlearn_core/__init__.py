"""unlearn: machine unlearning for large language models (core package)."""

from unlearn_core.hookspecs import hookimpl
from unlearn_core.methods import LossOutput, Reference, UnlearningMethod

__all__ = ["hookimpl", "LossOutput", "Reference", "UnlearningMethod"]
__version__ = "0.1.0"
