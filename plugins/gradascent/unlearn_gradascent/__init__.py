"""Gradient ascent (GradAscent) and gradient difference (GradDiff) unlearning methods for unlearn."""

__version__ = "0.1.0"
