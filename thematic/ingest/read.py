"""Reading a spreadsheet file into rows of cells, streaming: XLSX (openpyxl, read-only) or CSV/TSV text.

``open_source(file)`` checks the input (exists, not empty, what kind of file it is, the zip inside an .xlsx is
not a bomb, the text encoding) and hashes it in one streaming pass; ``Source.rows(sheet)`` then yields
``(row_number, values)`` with 1-based row numbers as a spreadsheet shows them. Values are ``str`` for CSV and
whatever openpyxl gives for XLSX (``str``, ``int``, ``float``, ``datetime`` ...); :func:`cell_text` turns them
into text.

Text is kept exactly as the file has it, except that line breaks inside a cell (CRLF or lone CR) become LF.

Text encoding of a CSV file, never guessed into mojibake:

* ``encoding=`` (``--encoding`` on the command line) is used when given; the whole file must decode with it, else
  the error names the offset and row of the first byte that does not.
* A UTF-16 byte order mark means UTF-16; a file that is valid UTF-8 throughout is UTF-8 (a BOM is dropped).
* A file with no valid multi-byte UTF-8 sequence at all (only ASCII and single high bytes such as ``\x92``) is a
  legacy Windows export and is read as Windows-1252.
* A file that is UTF-8 except for some bytes (one stray ``\xff`` in an otherwise UTF-8 file) is refused, naming
  the byte, its offset and its row: reading it as Windows-1252 would silently turn every "’" into "â€™".

A NUL byte anywhere in a CSV file (other than UTF-16) is refused with its offset and row: the file is binary or
damaged. A path that is a device, pipe or socket (``/dev/zero``) is refused before anything is read.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, cast

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
        return cast(IO[bytes], _NoClose(self._data))

    # ------------------------------------------------------------------ rows

    def rows(self, sheet: str | None = None) -> Generator[tuple[int, list[Any]], None, None]:
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
            nul_possible = self.encoding == "utf-16"  # other encodings: a NUL byte was refused by open_source
            try:
                for n, row in enumerate(reader, start=1):
                    if n % 1000 == 0:
                        self.position = raw.tell()
                    while row and row[-1] == "":
                        row.pop()
                    if nul_possible and any("\x00" in v for v in row):
                        raise InvalidInput("a NUL character in a cell: the file is binary or damaged", path=self.name, row=n)
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


def open_source(file: FileInput, *, encoding: str | None = None) -> Source:
    """Check an input file and hash it; see the module docstring. ``encoding`` (a Python codec name such as
    ``cp1252``) overrides the guess for a CSV file; the whole file must then decode with it."""
    path, data, name = _input(file)
    src = Source(name=name, kind="csv", sha256="", size=0, _path=path, _data=data)
    scan = _scan(src)
    if scan.size == 0:
        raise InvalidInput("the file is empty", path=name)
    head = scan.head
    suffix = Path(name).suffix.lower()
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        if encoding is not None:
            raise InvalidInput("an Excel workbook has no text encoding: --encoding is for CSV files", path=name)
        src.kind = "xlsx"
        _check_zip(src)
        return src
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InvalidInput("an old-style .xls workbook (or another Office file): save it as .xlsx or CSV", path=name)
    if suffix in EXCEL_SUFFIXES:
        raise InvalidInput("not an Excel workbook (an .xlsx file is a zip archive; this one is not)", path=name)
    src.encoding = _choose_encoding(src, scan, encoding)
    sample = head.decode(src.encoding, errors="ignore") if src.encoding != "utf-16" else _utf16_sample(src)
    if not sample.strip():
        raise InvalidInput("the file is empty (only blank space)", path=name)
    src.delimiter = sniff_delimiter(sample)
    return src


def _input(file: FileInput) -> tuple[Path | None, IO[bytes] | None, str]:
    """(path, file object, display name) of what was given, checked to be a readable regular file."""
    if isinstance(file, (str, Path)):
        path = Path(file)
        if not path.exists():
            raise InvalidInput(f"file not found: {path}")
        if path.is_dir():
            raise InvalidInput("is a folder, not a file", path=path)
        if not path.is_file():
            raise InvalidInput("is not a regular file (a device, pipe or socket): give a .csv or .xlsx file", path=path)
        return path, None, path.name
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
    return None, data, name


@dataclass
class _Scan:
    """What one streaming pass over the bytes found."""

    size: int = 0
    head: bytes = b""
    bad_utf8: int | None = None  # offset of the first byte that is not valid UTF-8
    nul: int | None = None  # offset of the first NUL byte
    utf8_sequences: bool = False  # at least one valid multi-byte UTF-8 sequence


def _scan(src: Source) -> _Scan:
    """Hash the file and note its size, first bytes, first invalid UTF-8 byte and first NUL byte."""
    digest = hashlib.sha256()
    out = _Scan()
    decoder: Any = codecs.getincrementaldecoder("utf-8")()
    with src.open_binary() as fh:
        while chunk := fh.read(CHUNK):
            if not out.head:
                out.head = chunk[:SAMPLE_BYTES]
            digest.update(chunk)
            if out.nul is None and (i := chunk.find(b"\x00")) >= 0:
                out.nul = out.size + i
            if not out.utf8_sequences and _UTF8_MULTIBYTE.search(chunk):
                out.utf8_sequences = True
            if out.bad_utf8 is None:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    out.bad_utf8 = out.size - pending + exc.start
            out.size += len(chunk)
    if out.bad_utf8 is None:
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            out.bad_utf8 = out.size - pending + exc.start
    src.sha256 = digest.hexdigest()
    src.size = out.size
    return out


# a valid UTF-8 sequence of two to four bytes (RFC 3629): in a file that is not UTF-8, one of these is rare
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)


def _choose_encoding(src: Source, scan: _Scan, given: str | None) -> str:
    """The text encoding of a CSV file; see the module docstring. Never decodes a mostly-UTF-8 file as cp1252."""
    utf16 = scan.head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if given is not None:
        try:
            enc = codecs.lookup(given).name
        except LookupError:
            raise InvalidInput(f"unknown encoding {given!r} (e.g. utf-8, cp1252, latin-1, utf-16)") from None
        bad = _first_undecodable(src, enc)
        if bad is not None:
            raise InvalidInput(
                f"not {given} text: byte {_byte_at(src, bad)} at offset {bad} (row {_row_at(src, bad)}) cannot be "
                f"decoded as {given}", path=src.name
            )
    if not utf16 and scan.nul is not None:
        raise InvalidInput(
            f"a binary file, not a CSV or Excel workbook: a NUL byte at offset {scan.nul} (row {_row_at(src, scan.nul)})",
            path=src.name,
        )
    if given is not None:
        return enc
    if utf16:
        return "utf-16"
    if scan.bad_utf8 is None:
        return "utf-8-sig"
    if scan.utf8_sequences:
        bad = scan.bad_utf8
        raise InvalidInput(
            f"not valid UTF-8: byte {_byte_at(src, bad)} at offset {bad} (row {_row_at(src, bad)}), though the rest "
            "is UTF-8; correct that byte, or read the file as Windows-1252 if that is what it is (--encoding cp1252)",
            path=src.name,
        )
    if _first_undecodable(src, "cp1252") is not None:
        raise InvalidInput("text in an unknown encoding (not UTF-8 or Windows-1252): save it as UTF-8", path=src.name)
    return "cp1252"  # no UTF-8 sequence anywhere: a legacy Windows export (Excel's "CSV" before 2016)


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


def _first_undecodable(src: Source, encoding: str) -> int | None:
    """The offset of the first byte that ``encoding`` cannot decode, or None if the whole file decodes."""
    decoder: Any = codecs.getincrementaldecoder(encoding)()
    done = 0
    with src.open_binary() as fh:
        try:
            while chunk := fh.read(CHUNK):
                state = decoder.getstate()
                pending = len(state[0]) if isinstance(state, tuple) and isinstance(state[0], bytes) else 0
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    return done - pending + exc.start
                done += len(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return max(0, done - (len(exc.object) - exc.start))
    return None


def _byte_at(src: Source, offset: int) -> str:
    with src.open_binary() as fh:
        fh.seek(offset)
        return f"0x{fh.read(1).hex().upper()}"


def _row_at(src: Source, offset: int) -> int:
    """The CSV row (1-based, as ``Source.rows`` numbers them) holding the byte at ``offset``."""
    with src.open_binary() as fh:
        text = io.TextIOWrapper(
            io.BufferedReader(_Prefix(fh, offset)), encoding="utf-8", errors="replace", newline=""
        )
        try:
            return sum(1 for _ in csv.reader(text))
        except csv.Error:
            return 1


class _Prefix(io.RawIOBase):
    """The first ``limit`` bytes of a file, then one "x" standing for the byte at ``limit`` (so that the row
    holding that byte is counted even when it starts right there)."""

    def __init__(self, inner: IO[bytes], limit: int) -> None:
        super().__init__()
        self._inner = inner
        self._left = limit
        self._marker = True

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._left > 0:
            data = self._inner.read(min(len(b), self._left))
            if data:
                self._left -= len(data)
                b[: len(data)] = data
                return len(data)
            self._left = 0
        if self._marker:
            self._marker = False
            b[:1] = b"x"
            return 1
        return 0


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
