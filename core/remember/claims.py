"""How a new memory relates to an old one: the same fact again, a new version of it, or neither.

Embeddings say two texts are about the same thing; they cannot tell "the timeout is 30 s" from
"the timeout is 60 s" (cosine 0.96) nor a paraphrase from an update. This module adds a cheap,
LLM-free reading of the two texts:

- a claim is split at its first predicate (`is`, `uses`, `runs`, `:`, `=` …) into a subject and
  an object;
- values are numbers, versions, `code spans`, capitalised names and dotted/slashed identifiers;
- a **duplicate** says nothing the old memory does not (no new value, no negation flip) and is
  close in meaning and wording;
- a **duplicate** also never differs by one word put in another's place with the same words
  around it ("Bob owns …" / "Alice owns …", "the production project" / "the staging project"):
  a name or a qualifier, wherever it stands, is a value;
- a **new version** keeps the subject and changes the object of a single-valued attribute: a
  negation flip ("we deploy on Fridays" → "we never deploy on Fridays"), an explicit change cue
  ("now", "switched to", "no longer", "upgraded" …), a quantity stated again with another value
  (a number, version or date: Python 3.10 → 3.12 and Node 18 → 20 alike), or anything stated as
  what the subject *is* (`is`, `=`, `:`, `defaults to`, `set to`; "the default region is
  us-east-1" → "eu-west-1"). Other relations can hold for several values at once ("backups are
  replicated to Frankfurt" and "to Dublin", "logs are written to api.log" and "to worker.log",
  "we use Postgres" and "MySQL"): both stay current, linked.

It is deliberately conservative: a difference before the predicate ("Service A listens on 8080"
vs "Service B listens on 8080") is a different subject, not an update; a miss only leaves two
current memories, which `reflect` surfaces, while a wrong supersession can be undone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Literal

__all__ = ["Claim", "parse", "classify", "DUPLICATE_COSINE", "DUPLICATE_COSINE_LEXICAL"]

# A pair this close in meaning is a duplicate unless the texts disagree on values or negation.
DUPLICATE_COSINE = 0.90
# A little less close in meaning is still a duplicate when most content words are shared.
DUPLICATE_COSINE_LEXICAL = 0.80
DUPLICATE_JACCARD = 0.5
# Below this similarity two memories are not about the same subject at all.
SAME_SUBJECT_COSINE = 0.60
# `name: value` is a setting only when the value is short; a colon before a longer text labels
# it ("Melanie: Hey Caroline! …" is something Melanie said, not the new value of Melanie).
MAX_VALUE_TOKENS = 8
# A text with more content words than this is prose, not one fact: it is never detected as a
# new version of another (an explicit `supersedes` still is).
MAX_FACT_WORDS = 24

_TOKEN = re.compile(
    r"`[^`]+`|\"[^\"]+\"|[A-Za-z0-9][A-Za-z0-9_./+#-]*[A-Za-z0-9+#/]|[A-Za-z0-9]|[:=]|->"
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "of",
        "in",
        "on",
        "at",
        "for",
        "with",
        "by",
        "from",
        "and",
        "or",
        "but",
        "as",
        "it",
        "its",
        "we",
        "our",
        "you",
        "your",
        "they",
        "their",
        "he",
        "she",
        "his",
        "her",
        "i",
        "me",
        "my",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "will",
        "would",
        "should",
        "can",
        "could",
        "may",
        "might",
        "must",
        "shall",
        "also",
        "just",
        "only",
        "very",
        "so",
        "such",
        "than",
        "then",
        "there",
        "here",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "each",
        "every",
        "some",
        "about",
        "into",
        "over",
        "under",
        "again",
        "further",
        "once",
        "both",
        "few",
        "more",
        "most",
        "other",
        "own",
        "same",
        "too",
        "s",
        "t",
    ]
)
NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "don't",
        "doesn't",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "won't",
        "can't",
        "cannot",
        "shouldn't",
        "mustn't",
        "didn't",
        "without",
        "nothing",
        "none",
        "neither",
        "nor",
        "avoid",
        "stop",
        "stopped",
        "dont",
        "doesnt",
        "isnt",
    ]
)
CUES = frozenset(
    [
        "now",
        "instead",
        "switched",
        "switch",
        "moved",
        "migrated",
        "replaced",
        "replaces",
        "changed",
        "updated",
        "renamed",
        "deprecated",
        "anymore",
        "longer",
        "nowadays",
        "henceforth",
        "upgraded",
        "downgraded",
        "bumped",
        "raised",
        "lowered",
        "increased",
        "reduced",
    ]
)
# Predicates that state what the subject is: one value at a time.
SETTING_PREDICATES = frozenset(
    ["is", "are", "was", "were", "be", ":", "=", "->", "default", "defaults", "set", "equals",
     "pinned", "points"]
)
# Words between a predicate and what it states that change nothing ("is now", "is not").
_IN_BETWEEN = frozenset(["now", "also", "only", "always", "still", "currently", "usually",
                         "automatically", "then", "not", "never", "no", "longer"])
# Participles that make `is`/`are` a passive relation ("are written to"), not a setting.
_PARTICIPLES = frozenset(["written", "built", "read", "run", "sent", "kept", "held", "made",
                          "done", "taken", "given", "shown", "known", "found", "put", "split",
                          "spread", "set"])
PREDICATES = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "be",
        "uses",
        "use",
        "using",
        "used",
        "runs",
        "run",
        "running",
        "requires",
        "require",
        "needs",
        "need",
        "lives",
        "live",
        "listens",
        "listen",
        "defaults",
        "default",
        "set",
        "equals",
        "targets",
        "target",
        "prefers",
        "prefer",
        "points",
        "point",
        "goes",
        "go",
        "stores",
        "stored",
        "pinned",
        "installs",
        "installed",
        "deploys",
        "deploy",
        "builds",
        "built",
        "calls",
        "returns",
        "return",
        "means",
        "costs",
        "takes",
        "take",
        "has",
        "have",
        "contains",
        "lives",
        "located",
        ":",
        "=",
        "->",
        "should",
        "must",
    ]
)


def _stem(word: str) -> str:
    """A light English stemmer: "committing" → "commit", "runs" → "run", "caches" → "cach"."""
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]
            return word
    return word


_DETERMINERS = frozenset(
    ["the", "a", "an", "this", "that", "our", "its", "your", "my", "their", "his", "her"]
)


_CUE_STEMS = frozenset(_stem(c) for c in CUES)
# Verbs and frequency words a paraphrase swaps freely ("always run" / "run … every").
_LOOSE = frozenset({_stem(p) for p in PREDICATES} | {"always", "usually", "often", "generally"})
_SEPARATORS = frozenset([":", "=", "->"])
# Sentence punctuation inside a text: a question or exclamation, or a full stop before more.
_SENTENCES = re.compile(r"[!?]|\.\s+\S")
# A number with its unit is a number ("10MB", "30s", "2x"), not an identifier.
_UNIT = re.compile(r"\d+(?:[.,]\d+)*(?:[a-z]{1,3}|%)")
_CONTRACTED = re.compile(r"n['’]t\b", re.I)


@dataclass(frozen=True)
class Claim:
    """A text read as subject, predicate, object, values and polarity."""

    words: tuple[str, ...]  # content words (stemmed, lower-case), in order
    positions: tuple[int, ...]  # token position of each content word
    predicate_at: int | None  # token position of the first predicate
    predicate: str | None
    values: frozenset[str]
    values_after: frozenset[str]  # values after the predicate
    negated: bool
    cue: bool
    content: frozenset[str] = field(default_factory=frozenset)
    tokens: frozenset[str] = field(default_factory=frozenset)  # every token, lower-case
    acronyms: frozenset[str] = field(default_factory=frozenset)  # URL, API, CI: words, not values
    setting: bool = False  # the predicate states what the subject is (`SETTING_PREDICATES`)

    def subject(self) -> set[str]:
        if self.predicate_at is None:
            return set()
        return {w for w, p in zip(self.words, self.positions, strict=True) if p < self.predicate_at}

    def object(self) -> set[str]:
        if self.predicate_at is None:
            return set(self.words)
        return {w for w, p in zip(self.words, self.positions, strict=True) if p > self.predicate_at}


@lru_cache(maxsize=4096)
def parse(text: str) -> Claim:
    """Read one memory's text (cached: the same texts are compared again and again)."""
    text = _CONTRACTED.sub(" not", text[:4000])  # "don't" → "do not"
    matches = list(_TOKEN.finditer(text))
    tokens = [m.group() for m in matches]
    words: list[str] = []
    content: list[str] = []
    positions: list[int] = []
    values: set[str] = set()
    values_after: set[str] = set()
    predicate_at: int | None = None
    predicate: str | None = None
    negated = cue = False
    for i, raw in enumerate(tokens):
        low = raw.lower()
        if (
            predicate_at is None
            and low in PREDICATES
            and i > 0
            and tokens[i - 1].lower() not in _DETERMINERS
            and (low not in _SEPARATORS or _is_value(text[matches[i].end():]))
        ):
            predicate_at, predicate = i, _stem(low)
            content.append(predicate)
            continue
        if low in NEGATIONS or low.endswith("n't"):
            negated = True
            continue
        if low in CUES:
            cue = True
        found: set[str] = set()
        if raw[0] in '`"':
            found.add(low.strip('`"').strip())
        elif "/" in raw or re.search(r"[A-Za-z][._][A-Za-z]", raw):
            found.add(low)  # a path or an identifier
        elif any(c.isdigit() for c in raw):
            found.update(_NUMBER.findall(raw))  # "10MB" and "10 MB" are the same value
            if any(c.isalpha() for c in raw) and not _UNIT.fullmatch(low):
                found.add(low)  # an identifier with digits: `a7`, `v2beta`, `sha256`
        elif (i > 0 and raw[0].isupper()) or (len(raw) > 1 and raw.isupper()):
            found.add(low)  # a name
        values |= found
        if predicate_at is not None:
            values_after |= found
        if low in STOP or low in (":", "=", "->"):
            continue
        word = _stem(low.strip('`"'))
        content.append(word)
        words.append(word)
        positions.append(i)
    return Claim(
        words=tuple(words),
        positions=tuple(positions),
        predicate_at=predicate_at,
        predicate=predicate,
        values=frozenset(values),
        values_after=frozenset(values_after),
        negated=negated,
        cue=cue,
        content=frozenset(content),
        tokens=frozenset(t.lower() for t in tokens),
        acronyms=frozenset(t.lower() for t in tokens if t.isalpha() and t.isupper()
                           and len(t) <= 4),
        setting=_states(tokens, predicate_at),
    )


def _states(tokens: list[str], at: int | None) -> bool:
    """Whether the predicate at `at` states what the subject is: a setting predicate not
    followed by a participle ("is 30 s", "is in Frankfurt"; not "are replicated to")."""
    if at is None or tokens[at].lower() not in SETTING_PREDICATES:
        return False
    following = [t.lower() for t in tokens[at + 1:] if t.lower() not in _IN_BETWEEN]
    if not following or tokens[at].lower() in _SEPARATORS:
        return True
    word = following[0]
    return not (word in _PARTICIPLES or (word.endswith("ed") and len(word) > 4))


def _swapped(new: Claim, old: Claim) -> bool:
    """Whether one word of a text stands where the other has a different one, with the same
    words around it ("Bob owns …" / "Alice owns …", "nightly job" / "hourly job"): a name or
    a qualifier changed, not a paraphrase. Forms of one word ("cache" / "caches") and words
    the other text has elsewhere (a reordering) do not count."""
    matcher = SequenceMatcher(a=old.words, b=new.words, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace" or i2 - i1 > 2 or j2 - j1 > 2:
            continue
        gone, came = list(old.words[i1:i2]), list(new.words[j1:j2])
        if len(gone) + len(came) > 2:  # a longer block may be words moved, not replaced
            gone = [w for w in gone if w not in new.words]
            came = [w for w in came if w not in old.words]
        gone = [w for w in gone if w not in _LOOSE]
        came = [w for w in came if w not in _LOOSE]
        if any(not _forms(a, b) for a in gone for b in came):
            return True
    return False


def _forms(a: str, b: str) -> bool:
    """Whether two stems are forms of one word."""
    n = min(len(a), len(b), 4)
    return a[:n] == b[:n] and abs(len(a) - len(b)) <= 3


def _is_value(rest: str) -> bool:
    """Whether what follows a `:` or `=` reads as a setting's value: short, one statement."""
    return len(_TOKEN.findall(rest)) <= MAX_VALUE_TOKENS and not _SENTENCES.search(rest)


def _jaccard(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


Relation = Literal["duplicate", "supersedes", "related", "unrelated"]


def classify(new_text: str, old_text: str, cosine: float) -> Relation:
    """How `new_text` relates to `old_text`, given the cosine similarity of their vectors."""
    if cosine < SAME_SUBJECT_COSINE:
        return "unrelated"
    new, old = parse(new_text), parse(old_text)
    overlap = _jaccard(new.content, old.content)
    # A question, several sentences or prose of many words state no single fact that another
    # could replace.
    fact_sized = max(len(new.words), len(old.words)) <= MAX_FACT_WORDS and not any(
        _SENTENCES.search(t.strip().rstrip(".!")) for t in (new_text, old_text))
    # A negation flip over the same words is a new version, never a duplicate.
    if new.negated != old.negated:
        rest = _jaccard(new.content - CUES, old.content - CUES)
        return "supersedes" if rest >= 0.6 and fact_sized else "related"
    # A value counts as new only when the other text does not say it at all (a name that starts
    # one sentence and sits mid-sentence in the other is the same name).
    gained = {v for v in new.values - old.values if v not in old.tokens}
    lost = {v for v in old.values - new.values if v not in new.tokens}
    subject_new, subject_old = new.subject(), old.subject()
    other_subject = bool(subject_new - old.content) and bool(subject_old - new.content)
    # Texts that differ in a name, number, version, path or identifier state different facts.
    if (
        not gained
        and not (lost - old.acronyms)
        and not other_subject
        and not _swapped(new, old)
        and (
            cosine >= DUPLICATE_COSINE
            or (cosine >= DUPLICATE_COSINE_LEXICAL and overlap >= DUPLICATE_JACCARD)
        )
    ):
        return "duplicate"
    if new.predicate_at is None or old.predicate_at is None or not fact_sized:
        return "related"
    # The same subject, possibly more or less specific ("API timeout" / "API request timeout");
    # "billing service port" and "search service port" are two subjects.
    same_subject = subject_new == subject_old or bool(subject_new & subject_old) and (
        subject_new <= subject_old or subject_old <= subject_new
    )
    if not same_subject:
        return "related"
    # The texts differ only after the predicate, where the values are.
    diff_new = set(new.content - old.content)
    diff_old = set(old.content - new.content)
    object_only = diff_new <= (new.object() | _CUE_STEMS) and diff_old <= old.object()
    # A quantity (a number, version or date) has one value at a time; so has whatever is
    # stated as what the subject is.
    quantity = all(any(c.isdigit() for c in v) for v in gained | lost)
    if (
        object_only
        and gained
        and (lost or cosine >= DUPLICATE_COSINE_LEXICAL)
        and gained <= new.values_after
        and lost <= old.values_after
        and (quantity or new.setting or new.cue)
    ):
        # Other values (Postgres 15 → MySQL 8), or a more specific one (Python → Python 3.11).
        return "supersedes"
    if new.cue and cosine >= 0.7 and object_only:
        return "supersedes"
    if (
        object_only
        and len(subject_new) >= 2
        and subject_new == subject_old
        and new.predicate == old.predicate
        and new.setting
        and diff_new
        and not (new.object() & old.object())
        and cosine >= 0.7
    ):
        return "supersedes"
    return "related"
