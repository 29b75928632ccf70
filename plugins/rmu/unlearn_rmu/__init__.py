"""RMU (representation misdirection for unlearning, arXiv 2403.03218) for unlearn."""

__version__ = "0.1.0"
