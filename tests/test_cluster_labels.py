"""Candidate labels: short phrases in the respondents' own words, and never a person's name."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from tests.test_cluster import TOPICS, corpus, texts_for, vectors
from tests.test_cluster_ops import EMB
from thematic import cluster as cl
from thematic.cluster.labels import Labeller
from thematic.cluster.pipeline import propose_clusters
from thematic.store import Store


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower().replace("\u2019", "'"))


def planted(name: str, n: int = 60, seed: int = 1) -> list[str]:
    """Feedback where one staff member is named in a third of the answers, more often than any other word."""
    rng = random.Random(seed)
    praise = ["was so kind to me", "listened to my worries", "explained everything", "made me feel safe",
              "always had time for me", "was brilliant with my mum"]
    texts, _ = texts_for(n, seed)
    return [f"{name} {rng.choice(praise)}" if i % 3 == 0 else t for i, t in enumerate(texts)]


def everything_shown(p: cl.Proposal) -> list[str]:
    return [n.label for n in p.candidates + p.groups] + [w for n in p.candidates + p.groups for w in n.keywords]


def test_a_staff_name_never_appears_in_a_label_or_keyword() -> None:
    texts = planted("Zorbet")
    # the name is the most used content word of the answers that carry it: unfiltered, it would be their label
    counts = Counter(w for t in texts if "Zorbet" in t for w in words_of(t))
    assert counts.most_common(1)[0][0] == "zorbet"
    p = propose_clusters(vectors(texts), texts, seed=0, params=None,
                         staff_names=["Zorbet Quill"])
    shown = everything_shown(p)
    assert shown and not any("zorbet" in s.lower() for s in shown)
    assert all("quill" not in s.lower() for s in shown)


def test_a_titled_name_is_kept_out_without_any_staff_list() -> None:
    texts = [t.replace("Zorbet", "Dr Okonkwo") for t in planted("Zorbet")]
    p = propose_clusters(vectors(texts), texts, seed=0)
    assert not any("okonkwo" in s.lower() for s in everything_shown(p))


def test_quoted_label_masks_names() -> None:
    texts = ["Dr Okonkwo.", "Dr Okonkwo.", "Dr Okonkwo!"]
    lab = Labeller(texts, staff_names=["Okonkwo"])
    assert "Okonkwo" not in lab.quote([0, 1]) and "[NAME]" in lab.quote([0, 1])


def test_labels_are_short_phrases_found_in_member_texts() -> None:
    texts, _ = texts_for(120, seed=3)
    p = propose_clusters(vectors(texts), texts, seed=0)
    assert p.candidates
    for node in p.candidates:
        members = [" ".join(words_of(texts[i])) for i in node.members]
        label = node.label
        if label.startswith("\u201c"):  # a quoted segment: the start of one member's text
            quoted = " ".join(words_of(label.strip("\u201c\u201d\u2026")))
            assert any(m.startswith(quoted) for m in members), label
            continue
        phrase = " ".join(words_of(label))
        assert 1 <= len(phrase.split()) <= 4, label
        used = sum(1 for m in members if f" {phrase} " in f" {m} ")
        assert used >= (2 if len(members) >= 4 else 1), (label, members[:5])


def test_labels_keep_surface_forms_not_lemmas() -> None:
    # "nurses" is written in every answer; a lemmatiser would say "nurse"
    texts = ["the nurses were caring", "caring nurses on the ward", "kind nurses", "the nurses listened",
             "nurses were kind", "friendly nurses"] * 3
    lab = Labeller(texts)
    assert "nurses" in words_of(lab.label(list(range(len(texts)))))


def test_stored_run_and_relabel_after_merge_keep_names_out(store: Store) -> None:
    corpus(store, 30)
    s = store.query("SELECT id, text FROM segments ORDER BY id")
    for r in s[::3]:
        store.conn.execute("UPDATE segments SET text = ? WHERE id = ?", ("Zorbet " + r["text"], r["id"]))
    run = cl.propose(store, seed=1, embedder=EMB, params={"n_candidates": 4, "n_groups": 0},
                     staff_names=["Zorbet"])
    assert "zorbet" not in str(run.params).lower()  # only fingerprints of names are kept
    leaves = [c for c in cl.candidates(store, run.id) if not c.unclustered]
    cl.merge_candidates(store, [leaves[0].id, leaves[1].id])
    for c in cl.candidates(store, run.id):
        assert "zorbet" not in c.label.lower() and not any("zorbet" in k for k in c.keywords)


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_labeller_names_each_planted_topic_by_its_own_words(topic: str) -> None:
    texts = [t for ts in TOPICS.values() for t in ts] * 2
    members = [i for i, t in enumerate(texts) if t in TOPICS[topic]]
    label = Labeller(texts).label(members)
    vocab = {w for t in TOPICS[topic] for w in words_of(t)}
    assert set(words_of(label)) <= vocab


def test_in_a_large_run_names_are_looked_for_in_the_rows_labelled_too() -> None:
    """A large run reads a sample of texts for names; a name only outside the sample is still kept out."""
    filler = [f"the {w} was fine" for w in ("room", "food", "video", "lunch", "chair")] * 80  # 400 rows
    named = ["Michelle explained everything so clearly", "Michelle explained everything really well"] * 15
    texts = filler + named
    lab = Labeller(texts, sample=40, seed=24)
    members = list(range(400, 430))
    assert not set(members) & set(lab._rows.tolist())  # the premise: no Michelle row is in the sample
    label = lab.label(members)
    words = lab.clean_keywords(["michelle", "explained"], members)
    assert "michelle" not in label.lower() and words == ["explained"]
