"""The Python API behind the CLI: ``train``, ``evaluate``, ``unlearn`` on a resolved configuration."""
