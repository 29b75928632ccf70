"""``python -m unlearn_core`` (also what ``accelerate launch -m unlearn_core`` runs)."""

from unlearn_core.entry import main

main()
