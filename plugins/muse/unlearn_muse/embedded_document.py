"""One generated document of an embedded MUSE corpus: its text and the questions its facts answer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """An article or book passage; ``lead`` is its first sentence, ``key`` the name only it mentions."""

    text: str
    lead: str
    qa: tuple[tuple[str, str], ...]
    key: str

    def verbmem_row(self) -> dict[str, str]:
        """The verbatim-memorisation probe: the first sentence as prompt, the rest of the text as ground truth."""
        return {"prompt": self.lead, "gt": self.text[len(self.lead) :]}
