"""Robustness attacks: the contract (``contract``), the built-in ``relearn`` and ``quantize`` attacks, their
arguments and the recovery an attack measures. The pipeline that runs them is ``unlearn_core.pipeline.attack``."""
