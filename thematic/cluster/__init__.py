"""Auto-clustering of segments into candidate themes (Braun & Clarke's phase 3, "searching for themes").

Public API::

    run = propose(store, question_id=None, seed=42, embedder=None, params=None, progress=None, actor=None)
    runs(store); latest_run(store); get_run(store, run_id); describe_run(run)  # provenance, one line
    candidates(store, run_id)             # groups (level 0) and candidates (level 1) with their figures
    segment_ids(store, candidate_id); assignments(store, run_id)
    merge_candidates(store, [a, b, ...]); split_candidate(store, cand_id, k=2)
    move_segments(store, segment_ids, cand_id); rename_candidate(store, cand_id, label)
    members_by_fit(store, cand_id) -> [(segment_id, text, fit)]   # best first, for review before accepting
    accept_candidate(store, cand_id, coder=..., parent_code_id=None, name=None, exclude=[seg ids]) -> code_id
    provenance(store, code_id)             # run, candidate, keywords, model of a code made from a proposal
    reject_candidate(store, cand_id)

Each operation is one audited action, undone by ``store.undo()``. The algorithm itself (no database) is
:func:`thematic.cluster.pipeline.propose_clusters`; heavy libraries are imported only when it runs.
"""

from __future__ import annotations

from .candidates import (
    Candidate,
    Run,
    assignments,
    candidates,
    describe_run,
    get_candidate,
    get_run,
    latest_run,
    propose,
    runs,
    segment_ids,
    status_counts,
)
from .operations import (
    accept_candidate,
    members_by_fit,
    merge_candidates,
    move_segments,
    provenance,
    reject_candidate,
    rename_candidate,
    split_candidate,
)
from .pipeline import Params, Proposal, propose_clusters

__all__ = [
    "Candidate",
    "Params",
    "Proposal",
    "Run",
    "accept_candidate",
    "assignments",
    "candidates",
    "describe_run",
    "get_candidate",
    "get_run",
    "latest_run",
    "members_by_fit",
    "merge_candidates",
    "move_segments",
    "propose",
    "propose_clusters",
    "provenance",
    "reject_candidate",
    "rename_candidate",
    "runs",
    "segment_ids",
    "split_candidate",
    "status_counts",
]
