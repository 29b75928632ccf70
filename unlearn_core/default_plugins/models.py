"""Built-in model presets."""
