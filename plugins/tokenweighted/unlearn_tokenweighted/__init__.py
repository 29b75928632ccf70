"""Token-weighted unlearning methods for unlearn: WGA, SatImp and CE-U."""

__version__ = "0.1.0"
