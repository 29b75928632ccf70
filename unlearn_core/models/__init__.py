"""Models: presets, HF loading, and the embedded tiny Llama."""
