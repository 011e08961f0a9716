#!/usr/bin/env python3
"""Import a REFI-QDA project (.qdpx) with QualCoder's own importer, headless, and print what arrived.

QualCoder is not on PyPI, so its source comes from a checkout you point at (``--qualcoder``: a clone of the
ccbogel/QualCoder repository, or its ``src`` folder). The script does not copy any of it: it imports
``qualcoder.refi`` from there, answers its file dialog with the file given, silences its closing message box, and
runs ``RefiImport.import_project`` into a fresh QualCoder database whose tables it creates with the statements of
QualCoder's own ``new_project`` (read from the checkout).

QualCoder needs PyQt6 (and, for its helpers, PyMuPDF and Pillow). They are not thematic's dependencies: with
``--install`` the script makes a virtual environment (``--venv``, default ``~/.cache/thematic/qualcoder-venv``),
installs them there from PyPI, and runs itself again inside it. Qt runs with ``QT_QPA_PLATFORM=offscreen``.

    python -m thematic export study.db -o study.qdpx --offsets codepoints   # QualCoder counts code points
    python scripts/qualcoder_import.py study.qdpx --qualcoder ~/src/QualCoder --install

Prints sources, codes, codings per coder with their dates, journals, annotations, cases and variables, then one
JSON line with the counts. Not part of the default test run (it needs a QualCoder checkout and a Qt install).
"""

from __future__ import annotations

import argparse
import ast
import builtins
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

QT_PACKAGES = ["PyQt6==6.11.0", "PyMuPDF==2.0", "Pillow==13.0.0"]


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("qdpx", type=Path, help="the REFI-QDA project to import")
    p.add_argument("--qualcoder", type=Path, required=True,
                   help="a QualCoder checkout (the folder holding src/qualcoder, or src itself)")
    p.add_argument("--install", action="store_true", help="install PyQt6, PyMuPDF and Pillow into --venv if missing")
    p.add_argument("--venv", type=Path, default=Path.home() / ".cache" / "thematic" / "qualcoder-venv")
    p.add_argument("--export-back", type=Path, default=None, metavar="OUT.qdpx",
                   help="then export the QualCoder project again with QualCoder's own exporter, to OUT.qdpx (to "
                   "import back into thematic)")
    return p.parse_args()


def _ensure_qt(args: argparse.Namespace) -> None:
    """Run inside an environment that has PyQt6, making it first if asked."""
    try:
        import pymupdf  # noqa: F401
        import PyQt6.QtWidgets  # noqa: F401
        return
    except ImportError:
        pass
    python = args.venv / "bin" / "python"
    if not python.exists():
        if not args.install:
            sys.exit("PyQt6 is not installed here: run with --install (installs it into --venv from PyPI)")
        venv.create(args.venv, with_pip=True)
    if args.install:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *QT_PACKAGES], check=True)
    if Path(sys.prefix).resolve() == args.venv.resolve():
        sys.exit(f"PyQt6 still cannot be imported in {args.venv}")
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def _src(path: Path) -> Path:
    for cand in (path, path / "src"):
        if (cand / "qualcoder" / "refi.py").exists():
            return cand.resolve()
    sys.exit(f"no qualcoder/refi.py under {path}: give a QualCoder checkout or its src folder")


def _schema(src: Path) -> list[str]:
    """The CREATE TABLE statements of QualCoder's new_project, read from its source."""
    tree = ast.parse((src / "qualcoder" / "__main__.py").read_text(encoding="utf-8"))
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "new_project")
    out = []
    for call in ast.walk(fn):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "execute" and call.args:
            try:
                sql = ast.literal_eval(call.args[0])
            except ValueError:
                continue
            if isinstance(sql, str) and sql.lstrip().upper().startswith("CREATE TABLE"):
                out.append(sql)
    return out


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def append(self, text: str) -> None:
        self.lines.append(str(text))


class _App:
    version = "QualCoder (run headless by thematic's scripts/qualcoder_import.py)"

    def __init__(self, folder: Path, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.project_path = str(folder)
        self.project_name = folder.name + ".qda"
        self.settings = {"directory": str(folder), "codername": "default", "ai_enable": "False"}
        self.ai_models: list[Any] = []
        self.project_events = None

    def write_config_ini(self, *_: Any) -> None:
        pass

    def get_annotations(self) -> list[dict[str, Any]]:
        keys = "anid", "fid", "pos0", "pos1", "memo", "owner", "date"
        return [dict(zip(keys, r)) for r in self.conn.execute(f"SELECT {', '.join(keys)} FROM annotation")]


def _run(qdpx: Path, src: Path) -> tuple[Any, sqlite3.Connection, list[str]]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if not callable(getattr(builtins, "_", None)):
        builtins._ = lambda s: s  # type: ignore[attr-defined]
    sys.path.insert(0, str(src))
    from PyQt6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from qualcoder import refi

    folder = Path(tempfile.mkdtemp(prefix="qualcoder-project-"))
    for sub in ("documents", "images", "audio", "video"):
        (folder / sub).mkdir()
    conn = sqlite3.connect(folder / "data.qda")
    for sql in _schema(src):
        conn.execute(sql)
    conn.execute("INSERT INTO project (databaseversion, date, memo) VALUES ('v14', datetime('now'), '')")
    conn.commit()

    class _Quiet:
        def __init__(self, *_: Any, **__: Any) -> None:
            pass

        def exec(self) -> int:
            return 0

    refi.Message = _Quiet  # the closing "experimental function" box would wait for a click
    refi.QtWidgets.QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: (str(qdpx.resolve()), "qdpx"))
    log = _Log()
    harness = _App(folder, conn)
    harness.qt = app  # keep the QApplication alive for the export
    refi.RefiImport(harness, log, "qdpx")
    app.processEvents()
    return harness, conn, log.lines


def _export(harness: Any, out: Path) -> None:
    """QualCoder's own REFI-QDA project export of what it imported (its dialogs answered, its work folder under a
    temporary HOME)."""
    from PyQt6 import QtWidgets
    from qualcoder import refi

    class _Endings:
        def __init__(self, *_: Any) -> None:
            self.ui = type("ui", (), {"radioButton_maxqda": type("b", (), {"isChecked": lambda self: False})()})()

        def exec(self) -> int:
            return 0

    target = Path(tempfile.mkdtemp(prefix="qualcoder-export-"))
    os.environ["HOME"] = str(target)
    (target / ".qualcoder").mkdir()
    refi.RefiLineEndings = _Endings
    refi.QtWidgets.QFileDialog.getExistingDirectory = staticmethod(lambda *a, **k: str(target))
    refi.RefiExport(harness, _Log(), "project")
    QtWidgets.QApplication.processEvents()
    made = target / (harness.project_name[:-4] + ".qdpx")
    out.write_bytes(made.read_bytes())
    print(f"QualCoder exported the project again: {out}")


def _selection_names(qdpx: Path) -> dict[tuple[str, int, int], str]:
    """(source name, start, end) -> the selection's name in the file (thematic writes the selected text there)."""
    import xml.etree.ElementTree as ET
    import zipfile

    ns = "{urn:QDA-XML:project:1.0}"
    root = ET.fromstring(zipfile.ZipFile(qdpx).read("project.qde"))
    return {(src.get("name"), int(sel.get("startPosition")), int(sel.get("endPosition"))): sel.get("name") or ""
            for src in root.iter(f"{ns}TextSource") for sel in src.iter(f"{ns}PlainTextSelection")}


def _report(conn: sqlite3.Connection, log: list[str], selection_names: dict[tuple[str, int, int], str]
            ) -> dict[str, Any]:
    q = conn.execute
    print("sources:", q("SELECT count(*) FROM source").fetchone()[0])
    print("codes:", q("SELECT count(*) FROM code_name").fetchone()[0],
          "categories:", q("SELECT count(*) FROM code_cat").fetchone()[0])
    print("codings per coder (with their dates):")
    per_coder = {}
    for owner, n, first, last in q("SELECT owner, count(*), min(date), max(date) FROM code_text GROUP BY owner"):
        per_coder[owner] = n
        print(f"  {owner}: {n} codings, dated {first} .. {last}")
    wrong = 0
    for source, code, pos0, pos1, seltext in q(
            "SELECT s.name, c.name, t.pos0, t.pos1, t.seltext FROM code_text t JOIN source s ON s.id = t.fid "
            "JOIN code_name c ON c.cid = t.cid ORDER BY s.id, t.pos0"):
        meant = selection_names.get((source, pos0, pos1))  # thematic names a selection after its text
        if meant is not None and not seltext.startswith(meant):
            wrong += 1
            print(f"  WRONG TEXT in {source!r}: {code} {pos0}-{pos1} selects {seltext!r}, meant {meant!r}")
    journals = q("SELECT name, owner, date, length(jentry) FROM journal").fetchall()
    print("journals:", len(journals), journals)
    annotations = q("SELECT fid, pos0, pos1, owner, date, memo FROM annotation").fetchall()
    print("annotations:", len(annotations), annotations)
    coding_memos = q("SELECT count(*) FROM code_text WHERE memo != ''").fetchone()[0]
    code_memos = q("SELECT count(*) FROM code_name WHERE memo != ''").fetchone()[0]
    cases = q("SELECT caseid, name FROM cases").fetchall()
    case_values = q("SELECT count(*) FROM attribute WHERE attr_type = 'case'").fetchone()[0]
    file_values = q("SELECT count(*) FROM attribute WHERE attr_type = 'file'").fetchone()[0]
    print("cases:", len(cases), [c[1] for c in cases], "case variable values:", case_values,
          "file variable values:", file_values)
    print("code memos (descriptions):", code_memos, "coding memos:", coding_memos)
    worries = [line for line in log if any(w in line for w in ("Duplicated", "Cannot", "rror"))]
    for line in worries:
        print("QualCoder said:", line)
    counts = {"sources": q("SELECT count(*) FROM source").fetchone()[0],
              "codes": q("SELECT count(*) FROM code_name").fetchone()[0],
              "codings": q("SELECT count(*) FROM code_text").fetchone()[0], "codings_per_coder": per_coder,
              "journals": len(journals), "annotations": len(annotations), "cases": len(cases),
              "case_values": case_values, "file_values": file_values, "codings_on_wrong_text": wrong,
              "warnings": len(worries)}
    print(json.dumps(counts, ensure_ascii=False))
    return counts


def main() -> None:
    args = _args()
    _ensure_qt(args)
    src = _src(args.qualcoder)
    work = Path(tempfile.mkdtemp(prefix="qualcoder-import-"))
    copy = work / args.qdpx.name  # QualCoder unzips beside the file it reads
    copy.write_bytes(args.qdpx.read_bytes())
    harness, conn, log = _run(copy, src)
    _report(conn, log, _selection_names(copy))
    if args.export_back:
        _export(harness, args.export_back)


if __name__ == "__main__":
    main()
