"""Test helpers that do not ship with the package: a tiny model builder and the straightforward oracle of the
evaluation (``oracle``), which ``benchmarks/eval_speed.py`` times against the fused engine."""
