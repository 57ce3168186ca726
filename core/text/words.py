"""Words as the full-text index reads them: one stop list and one stemmer, Snowball English
(Porter2, the algorithm LanceDB's index stems with), so that what the core decides about words —
which of a query's words BM25 already matched, how much two texts share, which words a task
turns on — agrees with what the index did.
"""

from __future__ import annotations

import re

import Stemmer

__all__ = ["STOP_WORDS", "stem", "words", "word_stems"]

_WORD = re.compile(r"[a-z0-9]+")
_STEMMER = Stemmer.Stemmer("english")

# Words that say nothing about what a text is about: articles, pronouns, auxiliaries, question
# words, quantifiers.
STOP_WORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "from",
    "by", "as", "into", "onto", "about", "after", "before", "over", "under", "further", "is",
    "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "done", "has",
    "have", "had", "can", "could", "would", "should", "will", "shall", "may", "might", "must",
    "what", "when", "where", "who", "whom", "whose", "which", "why", "how", "while", "that",
    "this", "these", "those", "there", "here", "it", "its", "he", "she", "his", "her", "hers",
    "him", "they", "them", "their", "theirs", "i", "me", "my", "mine", "you", "your", "yours",
    "we", "us", "our", "ours", "own", "not", "no", "so", "if", "then", "than", "also", "just",
    "again", "once", "too", "very", "only", "same", "such", "some", "any", "all", "both",
    "each", "every", "few", "more", "most", "other", "like", "please", "s", "t",
})


def stem(word: str) -> str:
    """The Snowball stem of a lower-case word (`agencies` → `agenc`, `running` → `run`)."""
    return _STEMMER.stemWord(word)


def words(text: str) -> list[str]:
    """The lower-case words of `text` that carry meaning (no stop words), in order."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def word_stems(text: str) -> set[str]:
    """The stems of the words of `text` that carry meaning."""
    return {stem(w) for w in words(text)}
