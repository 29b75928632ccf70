"""The evaluation engine: one forward pass per sample feeds every metric; generations are shared."""
