"""Likely duplicates, pure: content words and their overlap."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "were",
        "will",
        "with",
        "our",
        "us",
        "can",
        "should",
        "would",
        "could",
        "not",
        "no",
    ]
)


def words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1)


def similarity(left: frozenset[str], right: frozenset[str]) -> float:
    """Jaccard overlap of content words: cheap, explainable, good enough to flag."""
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)
