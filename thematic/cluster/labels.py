"""Readable labels for candidate themes: a short phrase in the respondents' own words, never a person's name.

A label is the best *keyphrase* of a candidate: a run of 1-4 words exactly as respondents wrote them (surface
forms, not lemmas), taken inside one clause, not starting or ending with a stop word. Phrases are scored like
BERTopic's class-based TF-IDF on document frequencies, ``coverage * log(1 + lift)`` (the share of the
candidate's segments that use the phrase, times how much more often they use it than the whole run does), with a
small bonus per extra word so that "waiting times" beats "waiting" when both are about as typical, and picked
with maximal marginal relevance (a phrase sharing a word with one already picked is passed over) for the list
of keyphrases. When no phrase is used by at least ``max(2, 3%)`` of a candidate's segments, the label is its most
typical short segment, quoted.

Names: words that are people's names are never part of a label or a keyword, whether or not the import redacted
them. They come from the staff list (when given) and from :class:`thematic.redact.Redactor` (titles such as
"Dr Khan", spaCy PERSON entities, common first names written capitalised), run only on the segments that use
a capitalised candidate word, so that it costs little. A quoted segment has any name replaced by ``[NAME]``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import ModelMissing
from ..redact import FIRST_NAMES, Redactor, common_words
from . import keywords as kw

_log = logging.getLogger(__name__)
_CLAUSE = re.compile(r"[.,;:!?()\[\]{}\"“”‘’*•/|\n\r\t]+|\s[-–—]+\s|[–—]")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z']*[A-Za-z]|[A-Za-z]|\d+")
MAX_WORDS = 4
MAX_QUOTE = 60


def _stops() -> frozenset[str]:
    return kw.stop_words() | {"s", "t", "thank", "thanks", "you"}


def clauses(text: str) -> list[list[str]]:
    """The text's clauses as lists of surface tokens (apostrophes normalised)."""
    text = text.replace("\u2019", "'")
    return [toks for part in _CLAUSE.split(text) if (toks := _TOKEN.findall(part))]


def phrases(text: str, stops: frozenset[str], *, max_words: int = MAX_WORDS) -> dict[str, str]:
    """Candidate phrases of one text: lower-cased key -> surface form as written."""
    out: dict[str, str] = {}
    for toks in clauses(text):
        low = [t.lower() for t in toks]
        for i in range(len(toks)):
            if low[i] in stops or len(low[i]) < 2 or low[i].isdigit():
                continue
            for n in range(1, max_words + 1):
                j = i + n
                if j > len(toks):
                    break
                last = low[j - 1]
                if last in stops or len(last) < 2 or last.isdigit():
                    continue
                key = " ".join(low[i:j])
                out.setdefault(key, " ".join(toks[i:j]))
    return out


def word_hash(word: str) -> str:
    """A short one-way fingerprint of a name word, so that a run can remember which words to keep out of labels
    without writing the names themselves into its parameters."""
    return hashlib.sha256(("thematic-name:" + word.lower()).encode("utf-8")).hexdigest()[:16]


def find_names(
    texts: Sequence[str], candidates: Iterable[str], staff_names: Sequence[str] = (),
    common: frozenset[str] | None = None, most: int = 2000,
) -> set[str]:
    """Which of the ``candidates`` words (lower case) are people's names in ``texts``.

    Staff-list names (and their first names) count wherever they appear. Other words are checked only when the
    texts do not use them as everyday lower-case words (``common``, see :func:`thematic.redact.common_words`),
    and then only in the texts that write them capitalised; the first ``most`` of those go through the name
    finder.
    """
    words = {w.lower() for c in candidates for w in c.split()}
    found = words & _staff_words(staff_names)
    if common is None:
        common = common_words(texts)
    todo = {w for w in words - found if w not in common and w.isalpha()}
    if not todo:
        return found
    return found | _names_found_by_redactor(texts, todo, staff_names, most)


def _staff_words(staff_names: Sequence[str]) -> set[str]:
    """Every word of every staff name, lower case, without full stops."""
    staff: set[str] = set()
    for name in staff_names:
        staff.update(p.strip(".").lower() for p in name.split() if p.strip("."))
    return staff


def _names_found_by_redactor(
    texts: Sequence[str], todo: set[str], staff_names: Sequence[str], most: int = 2000
) -> set[str]:
    """Which ``todo`` words the redactor removes from the (first ``most``) texts that write one of them capitalised."""
    pattern = re.compile(r"(?<![\w'])([A-Z][A-Za-z'\-]*)")
    sample = [t for t in texts if any(m.group(1).lower() in todo for m in pattern.finditer(t))][:most]
    if not sample:
        return set()
    found: set[str] = set()
    try:
        redacted = Redactor(staff_names).redact_many(sample)
    except ModelMissing as exc:  # no spaCy model: the rules (staff list, titles, common first names) still run
        _log.warning("names in labels: %s; using the staff list, titles and common first names only", exc)
        redacted = Redactor(staff_names, use_ner=False).redact_many(sample)
        found |= {w for w in todo if w in FIRST_NAMES}
    for orig, (new, n) in zip(sample, redacted):
        if n:
            gone = {w.lower() for w in _TOKEN.findall(orig)} - {w.lower() for w in _TOKEN.findall(new)}
            found |= gone & todo
    return found


class Labeller:
    """Keyphrase labels for groups of rows of one corpus (computed once per run, reused for every candidate)."""

    def __init__(
        self, texts: Sequence[str], *, staff_names: Sequence[str] = (), name_hashes: Iterable[str] = (),
        seed: int = 0, sample: int = 20_000,
    ) -> None:
        self.texts = texts
        self.stops = _stops()
        self.staff_names = list(staff_names)
        self.name_hashes = set(name_hashes)
        self.names: set[str] = set()
        self._checked: set[str] = set()
        n = len(texts)
        rng = np.random.default_rng(seed)
        self._rows = np.sort(rng.choice(n, sample, replace=False)) if n > sample else np.arange(n)
        self._phrases: dict[int, dict[str, str]] = {}
        df: Counter[str] = Counter()
        for i in self._rows.tolist():
            ph = self._of(i)
            df.update(ph.keys())
        self.df = df
        self.n = max(len(self._rows), 1)
        self.common = common_words(texts[i] for i in self._rows.tolist())
        # Names are looked for in the sample plus the rows being labelled, never in every text of a large run.
        self._scope = [texts[i] for i in self._rows.tolist()]
        self._in_scope: set[int] | None = set(self._rows.tolist()) if n > sample else None

    def _of(self, i: int) -> dict[str, str]:
        got = self._phrases.get(i)
        if got is None:
            got = phrases(self.texts[i], self.stops)
            self._phrases[i] = got
        return got

    def _is_name(self, key: str) -> bool:
        return any(w in self.names or word_hash(w) in self.name_hashes for w in key.split())

    def check_names(self, candidates: Iterable[str], rows: Sequence[int] = ()) -> None:
        """Find which of these words are names (once per word), in the sample and the ``rows`` they come from."""
        todo = {w for c in candidates for w in c.split()} - self._checked
        if todo:
            texts = self._scope
            if self._in_scope is not None:
                texts = texts + [self.texts[int(i)] for i in rows if int(i) not in self._in_scope]
            # a large run checks many more words: the name finder reads fewer texts per check to stay quick
            most = 2000 if self._in_scope is None else 300
            self.names |= find_names(texts, todo, self.staff_names, self.common, most)
            self._checked |= todo

    @staticmethod
    def _some(members: Sequence[int], most: int = 2000) -> list[int]:
        """At most ``most`` of the members, evenly spread."""
        rows = list(members)
        if len(rows) > most:
            rows = [rows[i] for i in np.linspace(0, len(rows) - 1, most).astype(int)]
        return rows

    def keyphrases(
        self, members: Sequence[int], top_n: int = 5, *, widen: bool = False
    ) -> list[tuple[str, float, int]]:
        """The candidate's best phrases as (surface form, score, segments using it), best first (MMR).

        ``widen``: a one-word phrase is replaced by the most used longer phrase containing it, when at least a
        fifth as many segments use that.
        """
        rows = self._some(members)
        m = len(rows)
        if m == 0:
            return []
        df_c, forms = self._phrase_counts(rows)
        floor = max(2, math.ceil(0.03 * m)) if m >= 4 else 1
        scored = self._scored(df_c, m, floor)[: top_n * 8]
        self.check_names((k for _, k, _ in scored), rows)
        picked: list[tuple[str, float, int]] = []
        used: set[str] = set()
        for s, key, c in scored:
            if self._is_name(key):
                continue
            content = {w for w in key.split() if w not in self.stops}
            if content & used:
                continue
            used |= content
            if widen and " " not in key:
                key, c = self._widened(key, c, df_c, floor, rows)
            picked.append((_surface(forms[key]), float(s), int(c)))
            if len(picked) == top_n:
                break
        return picked

    def _phrase_counts(self, rows: Sequence[int]) -> tuple[Counter[str], dict[str, Counter[str]]]:
        """How many of ``rows`` use each phrase, and how each phrase was written."""
        df_c: Counter[str] = Counter()
        forms: dict[str, Counter[str]] = {}
        for i in rows:
            for key, surface in self._of(int(i)).items():
                df_c[key] += 1
                forms.setdefault(key, Counter())[surface] += 1
        return df_c, forms

    def _scored(self, df_c: Counter[str], m: int, floor: int) -> list[tuple[float, str, int]]:
        """(score, phrase, segments) for phrases used by at least ``floor`` segments, best first.

        The score favours coverage of the candidate, lift over the corpus, and longer phrases.
        """
        scored = []
        for key, c in df_c.items():
            if c < floor:
                continue
            cover = c / m
            base = max(self.df.get(key, 0), 1) / self.n
            lift = cover / base
            words = key.count(" ") + 1
            scored.append((cover * math.log1p(lift) * (1 + 0.6 * (words - 1)), key, c))
        scored.sort(key=lambda x: (-x[0], x[1]))
        return scored

    def _widened(self, key: str, c: int, df_c: Counter[str], floor: int, rows: Sequence[int]) -> tuple[str, int]:
        """The most used longer phrase (not a name) containing the word ``key``, if a fifth as many segments use it."""
        wider = [(c2, k2) for k2, c2 in df_c.items()
                 if " " in k2 and c2 * 5 >= c and c2 >= floor and key in k2.split() and not self._is_name(k2)]
        if wider:
            self.check_names((k2 for _, k2 in wider), rows)
            wider = [(c2, k2) for c2, k2 in wider if not self._is_name(k2)]
        if wider:
            c2, k2 = max(wider, key=lambda x: (x[0], -len(x[1]), x[1]))
            return k2, c2
        return key, c

    def label(self, members: Sequence[int], representatives: Sequence[int] = ()) -> str:
        """A phrase for these rows, or their most typical short segment quoted when no phrase stands for them.

        When the best phrase is one word, the most common longer phrase around it ("friendly staff" for
        "staff") is used instead if at least a fifth as many segments use it.
        """
        best = self.keyphrases(members, top_n=3, widen=True)
        if best:
            text = best[0][0]
            return text[0].upper() + text[1:]
        return self.quote(representatives or list(members)[:5])

    def quote(self, rows: Sequence[int]) -> str:
        if not rows:
            return "Unlabelled"
        texts = [" ".join(self.texts[i].split()) for i in rows]
        short = sorted(range(len(texts)), key=lambda j: (len(texts[j]) > MAX_QUOTE, j))
        text = texts[short[0]]
        self.check_names((w.lower() for w in _TOKEN.findall(text) if w[:1].isupper()), rows)
        text = _mask_names(text, self._is_name)
        more = "\u2026" if len(text) > MAX_QUOTE else ""
        return "\u201c" + text[:MAX_QUOTE] + more + "\u201d"

    def clean_keywords(self, words: Sequence[str], members: Sequence[int] = ()) -> list[str]:
        """Keywords without names (looked for in the sample and up to 2,000 of the ``members`` they describe)."""
        self.check_names(words, self._some(members) if self._in_scope is not None else ())
        return [w for w in words if not self._is_name(w)]

    def name_fingerprints(self) -> list[str]:
        return sorted({word_hash(w) for w in self.names} | self.name_hashes)


def _surface(forms: Counter[str]) -> str:
    """The way most respondents wrote it; lower case unless the word is an acronym (NHS, GP) or 'I'."""
    text = forms.most_common(1)[0][0]
    return " ".join(w if (w.isupper() and len(w) > 1) or w == "I" else w.lower() for w in text.split())


def _mask_names(text: str, is_name: object) -> str:
    def repl(m: re.Match[str]) -> str:
        return "[NAME]" if is_name(m.group(0).lower()) else m.group(0)  # type: ignore[operator]

    return _TOKEN.sub(repl, text)
