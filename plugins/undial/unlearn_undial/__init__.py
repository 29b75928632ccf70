"""UNDIAL (self-distillation with adjusted logits, arXiv 2402.10052) for unlearn."""

__version__ = "0.1.0"
