"""NPO (negative preference optimization) and SimNPO unlearning methods for unlearn."""

__version__ = "0.1.0"
