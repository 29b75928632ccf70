"""Metric math: pure functions over per-sample statistics, exactly as defined in the METRICS spec.

Each module has one job: ``statistics`` (one forward pass -> per-sample statistics), ``truth_ratio``, ``rouge``,
``forget_quality`` (KS test, model utility, privleak), ``mia`` (membership-inference scores and AUC) and
``memorization`` (extraction strength, exact memorization).
"""
