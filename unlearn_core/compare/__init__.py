"""``unlearn compare``: the summaries of several runs (or sweeps) side by side, as a table, a plot and a page.

``runs`` reads run directories and sweeps; ``plot`` draws the benchmark's trade-off plots (matplotlib, the ``plots``
extra); ``page`` writes one self-contained HTML file.
"""
