"""Module-level names in the generated module: one per definition and import.

All reached statements land in one namespace. Each key (a definition, an
import, or a reserved word of the generated module's own API) claims a name in
a fixed order; a later claimant whose name is taken gets a deterministic new
one that captures no local variable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from snapshot.model import ImportItem, SymbolRef

#: What a name is claimed for: a definition, an import, or a reserved word.
NameKey = SymbolRef | ImportItem | str


def snake_case(name: str) -> str:
    """``MyModel`` → ``my_model``, keeping acronyms whole.

    A word starts at a capital followed by a small letter (``Model``), at a run
    of two or more capitals after a small letter or digit (``CausalLM`` →
    ``causal_lm``), and at a capital followed by a digit after a small letter
    (``NetV2`` → ``net_v2``). A single capital after small letters otherwise
    stays in their word, as in ``ViT`` or ``CaiT``: ``ViTDistilled`` →
    ``vit_distilled``.
    """
    parts: list[str] = []
    start = 0
    for i in range(1, len(name)):
        here, before = name[i], name[i - 1]
        after = name[i + 1] if i + 1 < len(name) else ""
        beyond = name[i + 2] if i + 2 < len(name) else ""
        starts_word = here.isupper() and after.islower()
        # A capital that itself starts a word (the D of ViTDistilled) is no acronym.
        starts_acronym = (
            here.isupper()
            and (before.islower() or before.isdigit())
            and after.isupper()
            and not beyond.islower()
        )
        starts_version = here.isupper() and before.islower() and after.isdigit()
        if starts_word or starts_acronym or starts_version:
            parts.append(name[start:i])
            start = i
    parts.append(name[start:])
    return "_".join(p.strip("_") for p in parts if p.strip("_")).lower()


class NameTable:
    """Assigns each key (symbol, import or reserved word) a unique module-level name."""

    def __init__(self, identifiers_in_use: set[str]) -> None:
        self._by_key: dict[NameKey, str] = {}
        self._taken: dict[str, NameKey] = {}
        # New names must not capture a local variable somewhere in the code.
        self._avoid = identifiers_in_use

    def claim(self, key: NameKey, wanted: str) -> str:
        if key in self._by_key:
            return self._by_key[key]
        original = key.name if isinstance(key, SymbolRef) else wanted
        name = original if original not in self._taken else wanted
        counter = 1
        while name in self._taken or (name != original and name in self._avoid):
            counter += 1
            name = f"{wanted}_{counter}"
        self._by_key[key] = name
        self._taken[name] = key
        return name

    def name_of(self, key: NameKey) -> str:
        return self._by_key[key]

    def assigned(self) -> dict[NameKey, str]:
        return dict(self._by_key)


def renamed_candidate(symbol: SymbolRef) -> str:
    """Name to try when ``symbol``'s own name is taken, from its module's name.

    ``zoo.blocks.Encoder`` becomes ``Encoder_blocks``; a module part that just
    repeats the name (``zoo.layers.encoder.Encoder``) is skipped: ``Encoder_layers``.
    """
    snake = snake_case(symbol.name)
    parts = [
        p for p in symbol.module.split(".") if p not in (snake, "__init__", "__main__")
    ]
    suffix = parts[-1] if parts else "module"
    return f"{symbol.name}_{suffix}"


def import_key(item: ImportItem) -> ImportItem:
    """The key of an import's name: ``import a.b`` and ``import a`` both bind ``a``."""
    if item.obj is None and item.alias is None:
        return ImportItem(item.module.partition(".")[0])
    return item


def identifiers_in(texts: Iterable[str]) -> set[str]:
    """Every identifier-like word in ``texts``; new names must avoid them all."""
    found: set[str] = set()
    for text in texts:
        found.update(re.findall(r"[A-Za-z_]\w*", text))
    return found
