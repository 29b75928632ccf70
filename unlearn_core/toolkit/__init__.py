"""The benchmark toolkit: what a QA or text benchmark declares instead of writing.

- ``store.RowStore``: rows of named splits from ``data.source`` (the embedded generator, a hub id, or a directory of
  ``<split>.jsonl`` files), validated field by field.
- ``named.NamedDataset``: a data set users name in ``data.forget=`` / ``data.retain=`` (QA pairs, completions or
  documents), tokenised by the reference's rules.
- ``settings.Setting``: a top-level setting the benchmark owns (``forget_split``, ``data_split``).
- ``declared.DeclaredBenchmark``: a ``Benchmark`` built from those declarations plus its evaluation sets and
  metric entries (``unlearn_core.entries``). See docs/writing-a-benchmark.md.
"""
