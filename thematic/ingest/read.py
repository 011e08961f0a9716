"""Reading a spreadsheet file into rows of cells, streaming: XLSX (openpyxl, read-only) or CSV/TSV text.

``open_source(file)`` checks the input (exists, not empty, what kind of file it is, the zip inside an .xlsx is
not a bomb, the text encoding) and hashes it in one streaming pass; ``Source.rows(sheet)`` then yields
``(row_number, values)`` with 1-based row numbers as a spreadsheet shows them. Values are ``str`` for CSV and
whatever openpyxl gives for XLSX (``str``, ``int``, ``float``, ``datetime`` ...); :func:`cell_text` turns them
into text.

Text is kept exactly as the file has it, except that line breaks inside a cell (CRLF or lone CR) become LF.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

from ..errors import InvalidInput

MAX_UNCOMPRESSED = 200 * 1024 * 1024  # total size of the parts of an .xlsx once inflated
MAX_RATIO = 200  # a part that inflates more than this many times, and past MAX_RATIO_MIN_SIZE, is refused
MAX_RATIO_MIN_SIZE = 20 * 1024 * 1024
MAX_MEMBERS = 10_000
CHUNK = 1 << 20
SAMPLE_BYTES = 64 * 1024
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm", ".xls")
DELIMITERS = (",", ";", "\t", "|")

csv.field_size_limit(16 * 1024 * 1024)

FileInput = str | Path | IO[bytes]


@dataclass
class Source:
    """An opened input file. ``kind`` is ``"xlsx"`` or ``"csv"``."""

    name: str
    kind: str
    sha256: str
    size: int
    encoding: str | None = None
    delimiter: str | None = None
    sheets: list[str] = field(default_factory=list)
    position: int = 0  # how far ``rows`` has got: bytes (CSV) or rows (XLSX) ...
    extent: int = 0  # ... out of this many (0 when unknown)
    _path: Path | None = None
    _data: IO[bytes] | None = None

    def open_binary(self) -> IO[bytes]:
        if self._path is not None:
            return self._path.open("rb")
        assert self._data is not None
        self._data.seek(0)
        return _NoClose(self._data)

    # ------------------------------------------------------------------ rows

    def rows(self, sheet: str | None = None) -> Iterator[tuple[int, list[Any]]]:
        """``(row_number, values)`` for every row, blank ones included; trailing empty cells are dropped."""
        if self.kind == "xlsx":
            yield from self._xlsx_rows(sheet)
        else:
            yield from self._csv_rows()

    def merged_ranges(self, sheet: str | None = None) -> list[tuple[int, int, int, int]]:
        """Merged cell ranges of an XLSX sheet as ``(min_row, min_col, max_row, max_col)``, 1-based."""
        if self.kind != "xlsx":
            return []
        import defusedxml.ElementTree as ET

        with self.open_binary() as fh, zipfile.ZipFile(fh) as zf:
            path = _sheet_path(zf, sheet or self.sheets[0])
            out = []
            with zf.open(path) as part:
                for _event, elem in ET.iterparse(part, events=("end",)):
                    tag = elem.tag.rsplit("}", 1)[-1]
                    if tag == "mergeCell":
                        ref = elem.get("ref", "")
                        if ":" in ref:
                            out.append(_range_bounds(ref))
                    elif tag in ("row", "c", "v", "is", "t"):
                        elem.clear()
            return out

    def _csv_rows(self) -> Iterator[tuple[int, list[Any]]]:
        assert self.encoding is not None and self.delimiter is not None
        with self.open_binary() as raw:
            text = io.TextIOWrapper(raw, encoding=self.encoding, newline="")
            reader = csv.reader(text, delimiter=self.delimiter)
            n = 0
            self.position, self.extent = 0, self.size
            try:
                for n, row in enumerate(reader, start=1):
                    if n % 1000 == 0:
                        self.position = raw.tell()
                    while row and row[-1] == "":
                        row.pop()
                    yield n, [_newlines(v) for v in row]
            except csv.Error as exc:
                raise InvalidInput(f"cannot read this CSV: {exc}", path=self.name, row=n + 1) from exc
            except UnicodeDecodeError as exc:
                raise InvalidInput(f"not {self.encoding} text: {exc.reason}", path=self.name, row=n + 1) from exc

    def _xlsx_rows(self, sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
        wb = self._workbook()
        try:
            name = sheet or self.sheets[0]
            if name not in wb.sheetnames:
                raise InvalidInput(f"no sheet {name!r} (sheets: {', '.join(wb.sheetnames)})", path=self.name)
            ws = wb[name]
            if not hasattr(ws, "iter_rows"):
                raise InvalidInput(f"sheet {name!r} is a chart, not a table", path=self.name)
            self.position, self.extent = 0, int(ws.max_row or 0)
            rows = ws.iter_rows(values_only=True)
            n = 0
            while True:
                try:
                    row = next(rows)
                except StopIteration:
                    break
                except Exception as exc:  # a damaged sheet part: say where
                    raise InvalidInput(f"cannot read sheet {name!r}: {exc}", path=self.name, row=n + 1) from exc
                n += 1
                self.position = n
                values = list(row)
                while values and (values[-1] is None or values[-1] == ""):
                    values.pop()
                yield n, [_newlines(v) if isinstance(v, str) else v for v in values]
        finally:
            wb.close()

    def _workbook(self) -> Any:
        import openpyxl

        fh = self.open_binary()
        try:
            return openpyxl.load_workbook(fh, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken workbook
            fh.close()
            raise InvalidInput(f"not an Excel workbook openpyxl can read ({exc})", path=self.name) from exc


class _NoClose(io.BufferedIOBase):
    """A view of a caller's file object that does not close it (the caller owns it)."""

    def __init__(self, inner: IO[bytes]) -> None:
        super().__init__()
        self._inner = inner

    def read(self, n: int | None = -1) -> bytes:
        return self._inner.read(-1 if n is None else n)

    def read1(self, n: int = -1) -> bytes:
        return self._inner.read(n)

    def readinto(self, b: Any) -> int:
        data = self._inner.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:
        pass


def open_source(file: FileInput) -> Source:
    """Check an input file and hash it; see the module docstring."""
    path: Path | None = None
    data: IO[bytes] | None = None
    if isinstance(file, (str, Path)):
        path = Path(file)
        name = path.name
        if not path.exists():
            raise InvalidInput(f"file not found: {path}")
        if not path.is_file():
            raise InvalidInput("is a folder, not a file", path=path)
    else:
        name = Path(str(getattr(file, "name", "") or "upload")).name
        if not hasattr(file, "read"):
            raise InvalidInput(f"cannot read {type(file).__name__}: give a path or a binary file")
        data = file
        if not (hasattr(file, "seekable") and file.seekable()):
            data = io.BytesIO(file.read())
        data.seek(0)
        probe = data.read(0)
        if isinstance(probe, str):
            raise InvalidInput("the file was opened as text: open it in binary mode ('rb')", path=name)
    src = Source(name=name, kind="csv", sha256="", size=0, _path=path, _data=data)

    digest = hashlib.sha256()
    size = 0
    head = b""
    decoder: Any = codecs.getincrementaldecoder("utf-8")()
    utf8_ok = True
    with src.open_binary() as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            if not head:
                head = chunk[:SAMPLE_BYTES]
            digest.update(chunk)
            size += len(chunk)
            if utf8_ok:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
    if utf8_ok:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    src.sha256 = digest.hexdigest()
    src.size = size
    if size == 0:
        raise InvalidInput("the file is empty", path=name)

    suffix = Path(name).suffix.lower()
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        src.kind = "xlsx"
        _check_zip(src)
        return src
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InvalidInput("an old-style .xls workbook (or another Office file): save it as .xlsx or CSV", path=name)
    if suffix in EXCEL_SUFFIXES:
        raise InvalidInput("not an Excel workbook (an .xlsx file is a zip archive; this one is not)", path=name)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        src.encoding = "utf-16"
    elif b"\x00" in head:
        raise InvalidInput("a binary file, not a CSV or Excel workbook", path=name)
    elif utf8_ok:
        src.encoding = "utf-8-sig"
    else:
        src.encoding = "cp1252"
        if not _decodes(src, "cp1252"):
            raise InvalidInput("text in an unknown encoding (not UTF-8 or Windows-1252): save it as UTF-8", path=name)
    sample = head.decode(src.encoding, errors="ignore") if src.encoding != "utf-16" else _utf16_sample(src)
    if not sample.strip():
        raise InvalidInput("the file is empty (only blank space)", path=name)
    src.delimiter = sniff_delimiter(sample)
    return src


def sniff_delimiter(sample: str) -> str:
    """Comma, semicolon, tab or bar: csv.Sniffer's answer if it parses the sample consistently, else the best."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end in the middle of a line
    text = "".join(lines[:200])

    def score(delim: str) -> tuple[int, int]:
        try:
            widths = [len(r) for r in csv.reader(io.StringIO(text), delimiter=delim) if any(c.strip() for c in r)]
        except csv.Error:
            return (0, 0)
        if not widths:
            return (0, 0)
        common = max(set(widths), key=lambda w: (widths.count(w), w))
        if common < 2:
            return (0, 0)
        return (widths.count(common), common)

    try:
        sniffed = csv.Sniffer().sniff(text, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    scores = {d: score(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: scores[d])
    if sniffed in scores and scores[sniffed][1] >= 2 and scores[sniffed] >= scores[best]:
        return sniffed
    return best if scores[best][1] >= 2 else ","


def cell_text(value: Any) -> str | None:
    """A cell as text: dates as ISO ``YYYY-MM-DD`` (with the time if there is one), 12.0 as ``12``."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second or value.microsecond else "minutes")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


# ---------------------------------------------------------------------------------------------- internals


def _newlines(text: str) -> str:
    if "\r" in text:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _decodes(src: Source, encoding: str) -> bool:
    decoder: Any = codecs.getincrementaldecoder(encoding)()
    with src.open_binary() as fh:
        try:
            while chunk := fh.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _utf16_sample(src: Source) -> str:
    with src.open_binary() as fh:
        raw = fh.read(SAMPLE_BYTES)
    return raw.decode("utf-16", errors="ignore")


def _check_zip(src: Source) -> None:
    """Refuse an .xlsx whose parts would inflate past the limits, before anything inflates them."""
    with src.open_binary() as fh:
        try:
            with zipfile.ZipFile(fh) as zf:
                infos = zf.infolist()
                names = {i.filename for i in infos}
                sheets = _sheet_names(zf) if "xl/workbook.xml" in names else None
        except zipfile.BadZipFile as exc:
            raise InvalidInput(f"not an Excel workbook (a damaged zip archive: {exc})", path=src.name) from exc
    if len(infos) > MAX_MEMBERS:
        raise InvalidInput(f"refused: the workbook holds {len(infos)} parts (limit {MAX_MEMBERS})", path=src.name)
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED:
        raise InvalidInput(
            f"refused: the workbook would inflate to {total / 2**20:.0f} MB (limit {MAX_UNCOMPRESSED // 2**20} MB)",
            path=src.name,
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_RATIO_MIN_SIZE and ratio > MAX_RATIO:
            raise InvalidInput(
                f"refused: part {info.filename} inflates {ratio:.0f} times (a zip bomb?)", path=src.name
            )
    if "[Content_Types].xml" not in names or sheets is None:
        raise InvalidInput("not an Excel workbook (a zip archive without a workbook inside)", path=src.name)
    if not sheets:
        raise InvalidInput("the workbook has no sheets", path=src.name)
    src.sheets = sheets


def _sheet_names(zf: zipfile.ZipFile) -> list[str]:
    return [name for name, _path in _sheets(zf)]


def _sheets(zf: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, part path) in workbook order, from workbook.xml and its relationships."""
    import defusedxml.ElementTree as ET

    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    try:
        wb = ET.fromstring(zf.read("xl/workbook.xml"))
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except KeyError as exc:
        raise InvalidInput(f"not an Excel workbook (missing part {exc})") from exc
    except Exception as exc:
        raise InvalidInput(f"not an Excel workbook (unreadable workbook.xml: {exc})") from exc
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    out = []
    for sheet in wb.iter(f"{ns_main}sheet"):
        target = targets.get(sheet.get(f"{ns_rel}id"), "")
        path = target.lstrip("/") if target.startswith("/") else "xl/" + target
        out.append((sheet.get("name", ""), path))
    return out


def _sheet_path(zf: zipfile.ZipFile, sheet: str) -> str:
    for name, path in _sheets(zf):
        if name == sheet:
            return path
    raise InvalidInput(f"no sheet {sheet!r}")


def _range_bounds(ref: str) -> tuple[int, int, int, int]:
    from openpyxl.utils.cell import range_boundaries

    min_col, min_row, max_col, max_row = range_boundaries(ref)
    return (int(min_row), int(min_col), int(max_row), int(max_col))
