"""Two analysts, two rounds: ``agreement``, ``blind``, ``import-codings``, ``export-codings``, ``disagreements``,
``adjudicate``, ``adjudications``, ``record-round``, ``rounds``, ``merge-codes``, ``split-code``, ``merge-project``."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import InvalidInput
from . import open_store


def _coders(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if len(names) < 2:
        raise InvalidInput(f"--coders needs two or more names separated by commas, not {text!r}")
    return names


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("agreement", help="inter-coder agreement per code: %% agreement, Cohen's kappa, Krippendorff's alpha")
    p.add_argument("project")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--coders", help="two or more coder names, e.g. A,B")
    g.add_argument("--machine", metavar="CODER", help="agreement of accepted machine proposals with this coder")
    p.add_argument("--level", choices=("segment", "form"), default="segment",
                   help="unit of comparison: each segment, or each form (code applied anywhere in it)")
    p.add_argument("--codes", default=None, help="only these codes (paths or ids, comma-separated)")
    p.add_argument("--rollup", action="store_true", help="a code counts where it or any of its subcodes was applied")
    p.add_argument("--common", action="store_true",
                   help="only forms in which every coder coded something (coders still working through the forms)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for the 95%% intervals (0: none)")
    p.add_argument("--seed", type=int, default=20240601, help="bootstrap seed (results are reproducible)")
    p.set_defaults(func=cmd_agreement)

    p = sub.add_parser("blind", help="turn blind coding on or off (coders see only their own codings)")
    p.add_argument("project")
    p.add_argument("state", choices=("on", "off", "status"))
    p.set_defaults(func=cmd_blind)

    p = sub.add_parser("import-codings", help="import one coder's codings from a spreadsheet (.xlsx or .csv)")
    p.add_argument("project")
    p.add_argument("file")
    p.add_argument("--coder", required=True, help="whose codings these are")
    p.add_argument("--unknown-codes", choices=("create", "refuse"), default="create",
                   help="codes not in the codebook: create them under 'Imported/' (default) or refuse the file")
    p.set_defaults(func=cmd_import_codings)

    p = sub.add_parser("export-codings", help="write codings as a CSV spreadsheet (form id, question, segment, code path)")
    p.add_argument("project")
    p.add_argument("dest")
    p.add_argument("--coder", default=None, help="only this coder's codings")
    p.set_defaults(func=cmd_export_codings)

    p = sub.add_parser("disagreements", help="segments where two coders differ, per code")
    p.add_argument("project")
    p.add_argument("--coders", required=True, help="the two coders, e.g. A,B")
    p.add_argument("--code", default=None, help="only this code (path or id)")
    p.add_argument("--all", action="store_true", help="include disagreements already decided")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_disagreements)

    p = sub.add_parser("adjudicate", help="decide one disagreement (writes the consensus coder's codings)")
    p.add_argument("project")
    p.add_argument("--coders", required=True, help="the two coders, e.g. A,B (A and B in the decision)")
    p.add_argument("--segment", type=int, required=True)
    p.add_argument("--code", required=True, help="the disputed code (path or id)")
    p.add_argument("--decision", required=True, choices=("keep_a", "keep_b", "both", "neither", "new_code"))
    p.add_argument("--rationale", required=True, help="why (kept with the decision)")
    p.add_argument("--new-code", default=None, help="with --decision new_code: the code to apply instead (path)")
    p.add_argument("--consensus", default=None, help="name of the consensus coder (default: project setting or 'consensus')")
    p.add_argument("--by", default=None, help="who decides (recorded in the audit trail)")
    p.set_defaults(func=cmd_adjudicate)

    p = sub.add_parser("adjudications", help="list adjudication decisions, write them to a CSV file, or withdraw one")
    p.add_argument("project")
    p.add_argument("--csv", default=None, help="write the decisions to this CSV file")
    p.add_argument("--revoke", type=int, default=None, metavar="ID",
                   help="withdraw decision ID (its item returns to the queue; its consensus coding is removed)")
    p.add_argument("--by", default=None, help="who withdraws it (recorded in the audit trail)")
    p.set_defaults(func=cmd_adjudications)

    p = sub.add_parser("record-round", help="store the agreement of a round (before or after adjudication)")
    p.add_argument("project")
    p.add_argument("--coders", required=True)
    p.add_argument("--level", choices=("segment", "form"), default="segment")
    p.add_argument("--stage", choices=("before", "after"), default="before")
    p.add_argument("--round", type=int, default=None, help="round number (default: a new round for 'before', the latest for 'after')")
    p.add_argument("--note", default="")
    p.add_argument("--boot", type=int, default=1000)
    p.set_defaults(func=cmd_record_round)

    p = sub.add_parser("rounds", help="agreement recorded per round")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rounds)

    p = sub.add_parser("merge-codes", help="merge code FROM into code TO, or many by a mapping CSV (from_path,to_path)")
    p.add_argument("project")
    p.add_argument("source", nargs="?", help="code to merge away (path or id)")
    p.add_argument("target", nargs="?", help="code that receives its codings (path or id)")
    p.add_argument("--mapping", default=None, help="CSV with columns from_path,to_path")
    p.set_defaults(func=cmd_merge_codes)

    p = sub.add_parser("split-code", help="move some segments' codings of a code to a new sibling code")
    p.add_argument("project")
    p.add_argument("code", help="code to split (path or id)")
    p.add_argument("--new", required=True, help="name of the new sibling code")
    p.add_argument("--segments", required=True, help="segment ids whose codings move, comma-separated")
    p.set_defaults(func=cmd_split_code)

    p = sub.add_parser("merge-project", help="bring in the codings, codes and memos of another copy of this project")
    p.add_argument("project")
    p.add_argument("other", help="the other copy (.db), coded elsewhere")
    p.add_argument("--prefix", default="", help="prefix for incoming coder names (e.g. 'site2:'); same name = same coder")
    p.set_defaults(func=cmd_merge_project)


def cmd_agreement(args: argparse.Namespace) -> int:
    from ..reliability import agreement_report, machine_agreement

    codes = [c.strip() for c in args.codes.split(",") if c.strip()] if args.codes else None
    with open_store(args.project) as store:
        if args.machine:
            report = machine_agreement(
                store, args.machine, level=args.level, codes=codes, rollup=args.rollup,
                scope="common" if args.common else "all", n_boot=args.boot, seed=args.seed,
            )
        else:
            report = agreement_report(
                store, _coders(args.coders), level=args.level, codes=codes, rollup=args.rollup,
                scope="common" if args.common else "all", n_boot=args.boot, seed=args.seed,
            )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.format_table())
    return 0


def cmd_blind(args: argparse.Namespace) -> int:
    from ..reliability import blind_mode, set_blind_mode

    with open_store(args.project) as store:
        if args.state != "status":
            set_blind_mode(store, args.state == "on")
        print(f"blind mode is {'on' if blind_mode(store) else 'off'}")
    return 0


def cmd_import_codings(args: argparse.Namespace) -> int:
    from ..codings_io import import_codings

    with open_store(args.project) as store:
        result = import_codings(store, args.file, coder=args.coder, unknown_codes=args.unknown_codes)
    print(result.summary())
    return 0


def cmd_export_codings(args: argparse.Namespace) -> int:
    from ..codings_io import export_codings_csv

    with open_store(args.project) as store:
        n = export_codings_csv(store, args.dest, coder=args.coder)
    print(f"wrote {n} codings to {args.dest}")
    return 0


def cmd_disagreements(args: argparse.Namespace) -> int:
    from ..adjudicate import disagreements

    a, b = _two(args.coders)
    with open_store(args.project) as store:
        items = disagreements(store, a, b, code=args.code, include_decided=args.all)
    if args.json:
        print(json.dumps([i.to_dict() for i in items], indent=2))
        return 0
    print(f"{len(items)} disagreements between {a} and {b}")
    for i in items[: args.limit]:
        who = a if i.a_applied else b
        done = f"  [decided: {i.decision}]" if i.decision else ""
        print(f"segment {i.segment_id:>6}  {i.code_path:<30} only {who:<10} {i.external_id}/{i.question}: {i.text[:60]}{done}")
    if len(items) > args.limit:
        print(f"... and {len(items) - args.limit} more (--limit)")
    return 0


def _two(text: str) -> tuple[str, str]:
    names = _coders(text)
    if len(names) != 2:
        raise InvalidInput("adjudication compares exactly two coders (e.g. --coders A,B)")
    return names[0], names[1]


def cmd_adjudicate(args: argparse.Namespace) -> int:
    from ..adjudicate import decide

    a, b = _two(args.coders)
    with open_store(args.project) as store:
        d = decide(
            store, args.segment, args.code, a, b, args.decision, args.rationale,
            new_code=args.new_code, consensus=args.consensus, actor=args.by,
        )
    print(f"decided segment {d.segment_id} / {d.code_path}: {d.decision} (round {d.round})")
    return 0


def cmd_adjudications(args: argparse.Namespace) -> int:
    from ..adjudicate import decisions, export_decisions_csv, revoke

    with open_store(args.project) as store:
        if args.revoke is not None:
            d = revoke(store, args.revoke, actor=args.by)
            print(f"withdrew decision {d.id}: segment {d.segment_id} / {d.code_path} ({d.decision})")
            return 0
        if args.csv:
            n = export_decisions_csv(store, args.csv)
            print(f"wrote {n} decisions to {args.csv}")
            return 0
        rows = decisions(store)
    for d in rows:
        print(f"#{d.id:<5} round {d.round}  segment {d.segment_id:>6}  {d.code_path:<30} {d.decision:<9} {d.rationale}")
    if not rows:
        print("no adjudication decisions yet")
    return 0


def cmd_record_round(args: argparse.Namespace) -> int:
    from ..adjudicate import record_round

    with open_store(args.project) as store:
        r = record_round(
            store, _coders(args.coders), level=args.level, stage=args.stage, round=args.round, note=args.note,
            n_boot=args.boot,
        )
    print(f"recorded round {r.round} ({r.stage}): overall kappa {r.kappa_text}")
    return 0


def cmd_rounds(args: argparse.Namespace) -> int:
    from ..adjudicate import rounds

    with open_store(args.project) as store:
        rs = rounds(store)
    if args.json:
        print(json.dumps([r.to_dict() for r in rs], indent=2))
        return 0
    if not rs:
        print("no rounds recorded yet (python -m thematic record-round ...)")
    for r in rs:
        print(f"round {r.round} {r.stage:<6} {r.level:<7} {','.join(r.coders):<20} kappa {r.kappa_text}  {r.note}")
    return 0


def cmd_merge_codes(args: argparse.Namespace) -> int:
    from ..merge import merge_by_mapping, merge_code

    with open_store(args.project) as store:
        if args.mapping:
            if args.source or args.target:
                raise InvalidInput("give either --mapping FILE or FROM TO, not both")
            report = merge_by_mapping(store, args.mapping)
        else:
            if not (args.source and args.target):
                raise InvalidInput("give the code to merge and the code to merge it into (or --mapping FILE)")
            report = merge_code(store, args.source, args.target)
    print(report.summary())
    return 0


def cmd_split_code(args: argparse.Namespace) -> int:
    from ..merge import split_code

    try:
        ids = [int(x) for x in args.segments.split(",") if x.strip()]
    except ValueError:
        raise InvalidInput(f"--segments must be segment ids separated by commas, not {args.segments!r}") from None
    with open_store(args.project) as store:
        report = split_code(store, args.code, args.new, ids)
    print(report.summary())
    return 0


def cmd_merge_project(args: argparse.Namespace) -> int:
    from ..merge import merge_project

    with open_store(args.project) as store:
        report = merge_project(store, args.other, coder_prefix=args.prefix)
    print(report.summary())
    if report.warnings:
        for w in report.warnings:
            print(f"note: {w}", file=sys.stderr)
    return 0
