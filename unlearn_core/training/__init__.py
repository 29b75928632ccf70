"""The shared training loop (finetuning and unlearning) on HuggingFace Accelerate."""
