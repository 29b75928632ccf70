"""PDU (primal-dual unlearning, arXiv 2506.05314) for unlearn."""

__version__ = "0.1.0"
