"""The smallest embedded settings, for tests that run the real pipeline (the fault suite, the method plugins' runs)."""

from __future__ import annotations

TOFU_TINY = [
    "data.embedded.n_authors=10",
    "data.embedded.questions_per_author=6",
    "data.embedded.base_epochs=1",
    "data.embedded.finetune_epochs=1",
    "generation.max_new_tokens=8",
]
"""The embedded TOFU at its smallest: one forget author with six questions."""
MUSE_TINY = [
    "data.embedded.n_forget=4",
    "data.embedded.n_retain=4",
    "data.embedded.n_holdout=4",
    "data.embedded.n_background=2",
    "data.embedded.base_epochs=1",
    "data.embedded.finetune_epochs=1",
]
"""The embedded MUSE at its smallest: four forget, retain and holdout documents."""
PAIRS_TWO_EPOCHS = ["trainer.args.per_device_train_batch_size=2", "trainer.args.num_train_epochs=2"]
"""Two rows a step for two epochs: three steps an epoch on the tiny TOFU's six forget rows."""
