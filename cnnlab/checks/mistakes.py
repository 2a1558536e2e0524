"""The classic mistakes an exercise recognises, declared once per exercise (lesson: exercises).

A chapter module writes down, for each exercise, every mistake its ``diagnose`` can name, as a
``Catalog`` of ``Mistake`` objects under short keys::

    SINGLE = Catalog(
        off_by_one=Mistake("size: off by one",
                           nudge="the output is {shape}: count again how many positions the kernel fits in",
                           hint="a {kh}-row kernel fits at H − KH + 1 = {rows} positions down ..."),
        flipped=Mistake("kernel flipped", nudge="...", hint="..."),
    )

    def _single_hint(case, got, expected):
        ...
        return SINGLE("off_by_one", shape=..., kh=kh, rows=h - kh + 1)

Calling the catalog returns the mistake with the case's numbers filled into the braces of its
nudge and hint; the label never changes, so a class summary can count it. Each chapter module
maps its exercise names to their catalogs in ``MISTAKES``: the tests plant every mistake listed
there, and the count of distinct mistakes per exercise is read from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from cnnlab.checks import Mistake


class Catalog:
    """The classic mistakes of one exercise, by key."""

    def __init__(self, **mistakes: Mistake):
        labels = [m.label for m in mistakes.values()]
        if len(set(labels)) != len(labels):
            raise ValueError(f"two mistakes share a label: {sorted(labels)}")
        self._mistakes = mistakes

    def __call__(self, key: str, **values) -> Mistake:
        """The mistake called ``key``, its nudge and hint filled in with ``values``."""
        found = self._mistakes[key]
        return replace(found, nudge=found.nudge.format(**values), hint=found.hint.format(**values))

    def unique(self, matches: dict[str, bool], **values) -> Mistake | None:
        """The one mistake whose prediction matches the answer; None when none or several do.

        Some answers are explained by two mistakes at once (with padding 1 and stride 1, padding
        one side only and an off-by-one give the same size): a hint must not guess between them.
        """
        found = [key for key, matched in matches.items() if matched]
        return self(found[0], **values) if len(found) == 1 else None

    def __getitem__(self, key: str) -> Mistake:
        """The mistake called ``key`` as declared (its braces unfilled), to share it with another catalog."""
        return self._mistakes[key]

    def __iter__(self) -> Iterator[Mistake]:
        return iter(self._mistakes.values())

    def __len__(self) -> int:
        return len(self._mistakes)

    def labels(self) -> list[str]:
        """Every label, in the order declared."""
        return [m.label for m in self._mistakes.values()]
