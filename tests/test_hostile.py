"""Hostile and broken inputs, through the real command line (``python -m thematic ...`` in a subprocess).

Every file is generated here, at test time. For each one the command must exit with status 2 and print exactly
one line on stderr (``error: ...``, naming what is wrong and where), and leave every file in the folder exactly as
it was: the project (its bytes and the rows of every table) and the input file, with no file added or removed.
Each command runs under an address-space limit (:data:`MEMORY_LIMIT`), so an input that makes thematic expand
something huge (the YAML alias bomb took 14 GB) fails the test with a MemoryError traceback instead of passing.
"""

from __future__ import annotations

import hashlib
import os
import resource
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from thematic import limits
from thematic.schema import APPLICATION_ID

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 2 * 1024**3  # bytes of address space for one command (a bad input is refused long before this)
Q1 = "What was most helpful?"
Q2 = "What could be better?"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def thematic(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", THEMATIC_FAKE_EMBEDDER="1", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "thematic", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_memory,
        check=False,
    )


def snapshot(folder: Path) -> dict[str, str]:
    """Every file in the folder by name, with the SHA-256 of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def rows(project: Path) -> list[str]:
    """The whole database as SQL (schema and every row). Nothing is written; an ordinary connection, because a
    read-only one would leave WAL side files behind."""
    conn = sqlite3.connect(project)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def refused(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Assert exit 2 and one line on stderr holding every expected fragment; return the line."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr[-2000:])
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    for fragment in expected:
        assert fragment in result.stderr, (fragment, result.stderr)
    return result.stderr.strip()


@pytest.fixture(scope="module")
def project_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small project with forms and a codebook, made through the CLI; copied for each test."""
    folder = tmp_path_factory.mktemp("template")
    forms = folder / "forms.csv"
    forms.write_text(
        f"Form ID,Profession,{Q1},{Q2}\n"
        + "".join(f"F{i},Nurse,The breathing exercise number {i} helped me,More time for practice {i}\n" for i in range(12)),
        encoding="utf-8",
    )
    (folder / "codes.csv").write_text("path\nContent/Breathing\nContent/Practice\nDelivery/Time\n", encoding="utf-8")
    for args in (["init", "p.db"], ["ingest", "p.db", "forms.csv", "--unit", "response"], ["import-codebook", "p.db", "codes.csv"]):
        r = thematic(*args, cwd=folder)
        assert r.returncode == 0, r.stderr
    forms.unlink()
    (folder / "codes.csv").unlink()
    assert snapshot(folder).keys() == {"p.db"}  # no WAL left behind: the file alone is the project
    return folder / "p.db"


@pytest.fixture()
def work(tmp_path: Path, project_template: Path) -> Path:
    (tmp_path / "p.db").write_bytes(project_template.read_bytes())
    return tmp_path


def check_unchanged(work: Path, run: Callable[[], str], *, project: str | None = "p.db") -> str:
    """Run ``run`` (which asserts the refusal) and check that no file in ``work`` changed."""
    dump = rows(work / project) if project else None
    before = snapshot(work)
    line = run()
    assert snapshot(work) == before
    if project:
        assert rows(work / project) == dump
    return line


# ---------------------------------------------------------------------------------------------- codebooks


def alias_bomb(levels: int = 12, width: int = 9) -> str:
    """Each level lists the one before ``width`` times through an alias: width**levels codes in a few hundred bytes."""
    lines = ["codes:", "  - &a0 {name: x}"]
    for i in range(1, levels):
        lines.append(f"  - &a{i} {{name: n{i}, children: [{', '.join([f'*a{i - 1}'] * width)}]}}")
    return "\n".join(lines) + "\n"


def fan_out(levels: int = 6, width: int = 6) -> str:
    """Sibling names differ, so the expanded tree is a valid codebook of width + width**2 + ... codes."""
    lines = ["l0: &l0 [" + ", ".join(f"c{j}" for j in range(width)) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join(f"{{name: n{j}, children: *l{i - 1}}}" for j in range(width)) + "]")
    lines.append(f"codes: *l{levels - 1}")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_before_it_expands(work: Path) -> None:
    text = "# a billion laughs, in codes\n" + alias_bomb()
    assert len(text) < 2048
    (work / "bomb.yaml").write_text(text)
    line = check_unchanged(work, lambda: refused(thematic("import-codebook", "p.db", "bomb.yaml", cwd=work), "bomb.yaml"))
    assert f"more than {limits.MAX_YAML_NODES:,} nodes" in line


def test_a_one_kilobyte_codebook_of_fifty_thousand_codes_is_refused(work: Path) -> None:
    text = fan_out()
    assert len(text) < 1024 and sum(6**k for k in range(1, 7)) > 49_150
    (work / "many.yaml").write_text(text)
    line = check_unchanged(work, lambda: refused(thematic("import-codebook", "p.db", "many.yaml", cwd=work), "many.yaml"))
    assert f"more than {limits.MAX_CODEBOOK_CODES:,} codes" in line


def test_recursive_yaml_alias_is_refused(work: Path) -> None:
    (work / "loop.yaml").write_text("codes: &c\n  - name: a\n    children: *c\n")
    check_unchanged(work, lambda: refused(thematic("import-codebook", "p.db", "loop.yaml", cwd=work), "recursive alias"))


def test_yaml_nested_3000_deep_is_refused_without_recursion_error(work: Path) -> None:
    (work / "deep.yaml").write_text("codes: " + "[" * 3000 + "]" * 3000 + "\n")
    check_unchanged(
        work, lambda: refused(thematic("import-codebook", "p.db", "deep.yaml", cwd=work), "deep.yaml", "nests more than")
    )


def test_codebook_path_1500_levels_deep_is_refused(work: Path) -> None:
    (work / "deep.csv").write_text("path,definition\nTop,fine\n" + "/".join(["Level"] * 1500) + ",too deep\n")
    check_unchanged(
        work,
        lambda: refused(
            thematic("import-codebook", "p.db", "deep.csv", cwd=work), "deep.csv", "row 3", "1500 levels deep"
        ),
    )


@pytest.mark.parametrize("kind", ["yaml", "csv", "qdc"])
def test_a_code_name_over_the_limit_is_refused_in_every_format_not_cut(work: Path, kind: str) -> None:
    name = "Long " + "x" * limits.MAX_NAME_LENGTH
    texts = {
        "yaml": f"codes:\n  - name: Fine\n    children:\n      - name: {name}\n",
        "csv": f"path\nFine/{name}\n",
        "qdc": '<?xml version="1.0" encoding="utf-8"?>\n<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="x">'
        f'<Codes><Code guid="{"1" * 8}-1111-1111-1111-{"1" * 12}" name="Fine" isCodable="true">'
        f'<Code guid="{"2" * 8}-2222-2222-2222-{"2" * 12}" name="{name}" isCodable="true"/></Code></Codes></CodeBook>\n',
    }
    (work / f"long.{kind}").write_text(texts[kind], encoding="utf-8")
    check_unchanged(
        work,
        lambda: refused(
            thematic("import-codebook", "p.db", f"long.{kind}", cwd=work),
            f"{len(name)} characters long",
            f"the limit is {limits.MAX_NAME_LENGTH}",
        ),
    )


# ---------------------------------------------------------------------------------------------- forms


def forms_csv(answers: list[str]) -> str:
    return f"Form ID,{Q1}\n" + "".join(f'N{i},"{a}"\n' for i, a in enumerate(answers))


def test_answer_cell_over_the_length_limit_names_row_and_column(work: Path) -> None:
    long_answer = "word " * (limits.MAX_CELL_LENGTH // 5 + 1)
    (work / "long.csv").write_text(forms_csv(["short and fine", "also fine", long_answer]), encoding="utf-8")
    check_unchanged(
        work,
        lambda: refused(
            thematic("ingest", "p.db", "long.csv", "--question-column", Q1, cwd=work),
            "long.csv",
            "row 4",
            repr(Q1),
            f"the limit is {limits.MAX_CELL_LENGTH:,}",
        ),
    )


def test_redact_on_a_10_megabyte_cell_is_refused_by_the_same_limit(work: Path) -> None:
    huge = "Mrs Winterbottom was kind. " * (10 * 1024 * 1024 // 27)
    (work / "huge.csv").write_text(forms_csv(["fine", huge]), encoding="utf-8")
    assert (work / "huge.csv").stat().st_size > 10 * 1024 * 1024
    check_unchanged(
        work,
        lambda: refused(
            thematic("ingest", "p.db", "huge.csv", "--question-column", Q1, "--redact", cwd=work), "row 3", "limit"
        ),
    )


def test_one_stray_byte_in_a_utf8_file_is_refused_with_offset_and_row(work: Path) -> None:
    good = forms_csv(["I’m glad I came", "It’s the breathing", "We’d like more", "Café chat"]).encode("utf-8")
    cut = good.index(b"We")
    data = good[:cut] + b"\xff" + good[cut:]
    (work / "stray.csv").write_bytes(data)
    line = check_unchanged(work, lambda: refused(thematic("ingest", "p.db", "stray.csv", cwd=work), "stray.csv"))
    assert f"byte 0xFF at offset {cut} (row 4)" in line and "--encoding" in line


def test_an_unknown_encoding_name_is_refused(work: Path) -> None:
    (work / "f.csv").write_text(forms_csv(["fine answer here", "another answer"]), encoding="utf-8")
    check_unchanged(
        work, lambda: refused(thematic("ingest", "p.db", "f.csv", "--encoding", "klingon", cwd=work), "klingon")
    )


def test_nul_byte_after_the_first_64_kilobytes_is_refused_with_its_position(work: Path) -> None:
    answers = [f"A long and thoughtful answer number {i} about the breathing exercise" for i in range(1500)]
    data = forms_csv(answers).encode("utf-8")
    offset = data.index(b"number 1400")
    assert offset > 64 * 1024
    data = data[:offset] + b"\x00" + data[offset + 1 :]
    (work / "nul.csv").write_bytes(data)
    line = check_unchanged(work, lambda: refused(thematic("ingest", "p.db", "nul.csv", cwd=work), "nul.csv", "NUL"))
    assert f"offset {offset} (row 1402)" in line


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_is_not_a_regular_file(work: Path) -> None:
    line = check_unchanged(work, lambda: refused(thematic("ingest", "p.db", "/dev/zero", cwd=work), "not a regular file"))
    assert "folder" not in line
    check_unchanged(
        work, lambda: refused(thematic("import-codebook", "p.db", "/dev/zero", cwd=work), "not a regular file")
    )


def test_nul_byte_in_a_codebook_is_refused(work: Path) -> None:
    (work / "nul.csv").write_bytes(b"path,definition\nContent/Fine,ok\nContent/Bad\x00Name,x\n")
    check_unchanged(
        work,
        lambda: refused(thematic("import-codebook", "p.db", "nul.csv", cwd=work), "NUL character", "Bad\\x00Name"),
    )


# ---------------------------------------------------------------------------------------------- project files


@pytest.mark.parametrize("command", ["status", "undo", "log"])
def test_a_truncated_project_is_damaged_not_a_traceback(work: Path, command: str) -> None:
    data = (work / "p.db").read_bytes()
    (work / "p.db").write_bytes(data[: len(data) // 3])
    check_unchanged(work, lambda: refused(thematic(command, "p.db", cwd=work), "p.db is damaged"), project=None)


@pytest.mark.parametrize("command", ["status", "undo"])
def test_a_project_with_overwritten_pages_is_damaged(work: Path, command: str) -> None:
    data = bytearray((work / "p.db").read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for i in range(page, len(data), 3):  # everything after the first page (which holds the schema)
        data[i] = 0x5A
    (work / "p.db").write_bytes(bytes(data))
    check_unchanged(work, lambda: refused(thematic(command, "p.db", cwd=work), "p.db is damaged"), project=None)


def foreign_database(path: Path, journal: str = "wal") -> None:
    """Something like a browser history: another program's SQLite file (Firefox keeps its history in WAL mode)."""
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT, title TEXT)")
    conn.executemany("INSERT INTO moz_places (url, title) VALUES (?, ?)", [(f"https://example.org/{i}", f"page {i}") for i in range(50)])
    conn.commit()
    conn.close()


@pytest.mark.parametrize("journal", ["wal", "delete"])
@pytest.mark.parametrize("command", [["status"], ["undo"], ["ingest", "forms.csv"]])
def test_a_foreign_sqlite_file_is_refused_and_never_written(tmp_path: Path, command: list[str], journal: str) -> None:
    foreign_database(tmp_path / "history.sqlite", journal)
    (tmp_path / "forms.csv").write_text(forms_csv(["a real answer here", "another real answer"]), encoding="utf-8")
    argv = [command[0], "history.sqlite", *command[1:]]
    line = check_unchanged(
        tmp_path,
        lambda: refused(thematic(*argv, cwd=tmp_path), "history.sqlite is not a thematic project", "moz_places"),
        project="history.sqlite",
    )
    assert "nothing was changed" in line


def test_an_empty_sqlite_file_is_not_opened_as_a_project(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "empty.db")
    conn.execute("PRAGMA user_version = 0")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("DROP TABLE t")
    conn.commit()
    conn.close()
    check_unchanged(
        tmp_path, lambda: refused(thematic("status", "empty.db", cwd=tmp_path), "not a thematic project"), project="empty.db"
    )


def test_a_project_locked_by_another_process_is_busy_after_a_bounded_wait(work: Path) -> None:
    dump = rows(work / "p.db")
    before = snapshot(work)
    hold = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(work / "p.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        for command in (["undo", "p.db"], ["import-codebook", "p.db", "codes.csv"]):
            if command[0] == "import-codebook":
                (work / "codes.csv").write_text("path\nNew/Code\n", encoding="utf-8")
            r = thematic(*command, cwd=work, env={"THEMATIC_BUSY_TIMEOUT": "1"})
            assert refused(r) == "error: the project is busy (another process is writing); try again"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    (work / "codes.csv").unlink()
    assert snapshot(work) == before and rows(work / "p.db") == dump


def test_a_project_from_before_the_marker_is_recognised_and_marked(work: Path) -> None:
    """Files made by earlier versions carry no application id; their own tables say they are projects."""
    conn = sqlite3.connect(work / "p.db")
    conn.execute("PRAGMA application_id = 0")
    conn.execute("DELETE FROM migrations WHERE version = 10")
    conn.commit()
    conn.close()
    r = thematic("status", "p.db", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "forms      12" in r.stdout
    conn = sqlite3.connect(work / "p.db")
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    finally:
        conn.close()


def test_a_foreign_file_in_rollback_mode_with_a_hot_journal_is_not_rolled_back(tmp_path: Path) -> None:
    """Another program crashed mid-write: its journal is left for that program, not applied by thematic."""
    conn = sqlite3.connect(tmp_path / "app.sqlite")
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    (tmp_path / "app.sqlite-journal").write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + b"\x00" * 504)
    before = snapshot(tmp_path)
    refused(thematic("status", "app.sqlite", cwd=tmp_path), "app.sqlite is not a thematic project", "-journal")
    assert snapshot(tmp_path) == before
