"""Safety helpers shared by the exporters and importers.

* :func:`cell` neutralises spreadsheet formulas (CSV/formula injection): a text cell that starts with ``=``, ``+``,
  ``-``, ``@``, a tab, a carriage return or a line feed -- also after leading spaces or line breaks, which Excel and
  LibreOffice skip -- gets a leading ``'`` so that they show it as text. Every CSV and XLSX writer in thematic goes
  through it, headers included: :func:`csv_writer` / :func:`write_csv` for CSV, ``cell(v)`` for each openpyxl value.
* :func:`parse_xml` parses untrusted XML without DTDs, external entities, network access or huge trees.
* :func:`read_zip` opens an untrusted archive and refuses path traversal and zip bombs *before* decompressing.
* :func:`write_bytes` writes to a path (atomically) or to a binary file object.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import zipfile
from pathlib import Path
from collections.abc import Iterable, Sequence
from typing import IO, Any

from ..errors import InvalidInput

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
# Leading characters a spreadsheet may skip before it looks for a formula trigger.
_LEADING_SPACE = " \t\r\n\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u3000\ufeff"
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XML_BAD = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Limits for archives we import (REFI-QDA .qdpx).
MAX_MEMBER_BYTES = 200 * 1024 * 1024
MAX_TOTAL_BYTES = 500 * 1024 * 1024
MAX_MEMBERS = 100_000
MAX_RATIO = 200  # uncompressed / compressed, per member (only checked for members over 1 MB)

Dest = str | os.PathLike[str] | IO[bytes]
Src = str | os.PathLike[str] | IO[bytes] | bytes


def cell(value: Any) -> Any:
    """A value safe to put in a spreadsheet cell: text that a spreadsheet would run as a formula is quoted."""
    if not isinstance(value, str):
        return value
    value = _CONTROL.sub("\ufffd", value)  # spreadsheets refuse control characters
    if value.startswith(FORMULA_START) or value.lstrip(_LEADING_SPACE).startswith(FORMULA_START):
        return "'" + value
    return value


def uncell(value: str) -> str:
    """The text :func:`cell` was given, for a cell it guarded (``'=x`` -> ``=x``, ``'  @x`` -> ``  @x``)."""
    if value.startswith("'") and cell(value[1:]) == value:
        return value[1:]
    return value


def cells(row: Iterable[Any]) -> list[Any]:
    """:func:`cell` applied to every value of a row."""
    return [cell(v) for v in row]


class SafeWriter:
    """A ``csv.writer`` whose every cell, header included, passes through :func:`cell`."""

    def __init__(self, fh: IO[str], **fmtparams: Any) -> None:
        self._w = csv.writer(fh, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._w.writerow(cells(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(fh: IO[str], **fmtparams: Any) -> SafeWriter:
    """``csv.writer(fh, **fmtparams)`` that neutralises formulas in every cell (see :func:`cell`)."""
    return SafeWriter(fh, **fmtparams)


def write_csv(
    dest: str | os.PathLike[str] | IO[str], header: Sequence[Any], rows: Iterable[Iterable[Any]], *,
    bom: bool = True, **fmtparams: Any,
) -> int:
    """Write ``header`` and ``rows`` as CSV (every cell through :func:`cell`); returns the number of data rows.

    A path is written atomically (UTF-8, with a byte-order mark unless ``bom=False``, so that Excel reads it as
    UTF-8); a text file object is written as it is."""
    n = 0
    if isinstance(dest, (str, os.PathLike)):
        buf = io.StringIO()
        n = write_csv(buf, header, rows, **fmtparams)
        write_bytes(buf.getvalue().encode("utf-8-sig" if bom else "utf-8"), dest)
        return n
    w = csv_writer(dest, **fmtparams)
    w.writerow(header)
    for row in rows:
        w.writerow(row)
        n += 1
    return n


def xml_text(s: str) -> str:
    """Text safe for XML 1.0 (control characters other than tab and newlines become U+FFFD, keeping offsets)."""
    return _XML_BAD.sub("\ufffd", s)


def write_bytes(data: bytes, dest: Dest) -> None:
    """Write ``data`` to a path (via a temporary file, so a failed export never leaves half a file) or a file."""
    if isinstance(dest, (str, os.PathLike)):
        path = Path(dest)
        if path.is_dir():
            raise InvalidInput("is a folder; give a file name to export to", path=path)
        if not path.parent.exists():
            raise InvalidInput(f"the folder {path.parent} does not exist", path=path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    else:
        dest.write(data)


def read_source(src: Src) -> tuple[bytes, str]:
    """The bytes of a path, bytes or binary file object, and a name for error messages."""
    if isinstance(src, bytes):
        return src, "input"
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.is_file():
            raise InvalidInput("file does not exist", path=path)
        return path.read_bytes(), path.name
    data = src.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    return data, Path(str(getattr(src, "name", "input"))).name


def parse_xml(data: bytes, *, what: str = "XML") -> Any:
    """Parse untrusted XML with lxml: no DTD loading, no entity expansion, no network, no huge trees."""
    from lxml import etree

    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:  # markup only: in text they would be escaped
        raise InvalidInput(f"the {what} declares a DTD or entities, which are not allowed in REFI-QDA files")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, dtd_validation=False,
        remove_blank_text=False,
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidInput(f"the {what} is not well-formed XML ({exc})") from exc
    if root.getroottree().docinfo.doctype:  # e.g. a UTF-16 file the byte check above cannot read
        raise InvalidInput(f"the {what} declares a DTD, which is not allowed in REFI-QDA files")
    return root


def safe_member_name(name: str) -> bool:
    """False for absolute paths, drive letters, backslashes and '..' parts (path traversal)."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or ":" in name.split("/")[0]:
        return False
    return all(part not in ("..",) for part in name.split("/"))


def read_zip(data: bytes, *, what: str = "archive") -> dict[str, bytes]:
    """Every file member of an untrusted zip, after checking names, sizes and compression ratios."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"the {what} is not a zip file ({exc})") from exc
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise InvalidInput(f"the {what} has {len(infos)} files; the limit is {MAX_MEMBERS}")
        total = 0
        for info in infos:
            if not safe_member_name(info.filename):
                raise InvalidInput(f"the {what} contains an unsafe file name {info.filename!r}")
            if info.file_size > MAX_MEMBER_BYTES:
                raise InvalidInput(f"{info.filename} in the {what} is {info.file_size} bytes; the limit is "
                                   f"{MAX_MEMBER_BYTES}")
            if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise InvalidInput(f"{info.filename} in the {what} expands {info.file_size // max(info.compress_size, 1)}"
                                   " times; refusing a possible zip bomb")
            total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise InvalidInput(f"the {what} expands to {total} bytes; the limit is {MAX_TOTAL_BYTES}")
        out: dict[str, bytes] = {}
        for info in infos:
            try:
                with zf.open(info) as fh:
                    body = fh.read(info.file_size + 1)
            except (zipfile.BadZipFile, OSError, NotImplementedError) as exc:
                raise InvalidInput(f"cannot read {info.filename} in the {what} ({exc})") from exc
            if len(body) > info.file_size:
                raise InvalidInput(f"{info.filename} in the {what} is larger than its header says")
            out[info.filename] = body
        return out
