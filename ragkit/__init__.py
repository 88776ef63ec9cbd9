"""ragkit: put private documents within an LLM's reach, and measure which way works best on them."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ragkit.knowledge_base import KnowledgeBase


def open(home=None, **settings) -> "KnowledgeBase":  # noqa: A001 - the documented entry point
    """Open the knowledge base in `home` (default RAGKIT_HOME, else ~/.local/share/ragkit).

    Keyword arguments override settings (e.g. `chroma_url=...`). Use `.collection(name)` on
    the result; close it with `.close()` or a `with` block.
    """
    from ragkit.knowledge_base import open_kb

    return open_kb(home=home, **settings)


__all__ = ["open", "__version__"]
