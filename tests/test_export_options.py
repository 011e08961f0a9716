"""Export options are typed: a misspelt option is an error, not silently ignored."""

from __future__ import annotations

import inspect
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_export_tree import CMT, build_project
from thematic import export
from thematic.cli import main
from thematic.errors import InvalidInput
from thematic.store import Store


@pytest.fixture(scope="module")
def proj() -> Iterator[Store]:
    s = Store(":memory:")
    build_project(s, codebook=CMT, n_forms=6)
    yield s
    s.close()


@pytest.mark.parametrize("fmt", ["svg", "csv", "md", "qdc"])
def test_a_misspelt_option_is_an_error(proj: Store, fmt: str) -> None:
    with pytest.raises(InvalidInput, match="unknown export option 'greyscal'"):
        export.render(proj, fmt, greyscal=True)
    with pytest.raises(InvalidInput, match="unknown export option 'dpl'"):
        export.export_project(proj, fmt, io.BytesIO(), dpl=600)


def test_an_option_of_another_format_is_left_out(proj: Store) -> None:
    # One set of options serves every format (CLI, app): the CSV has no resolution and takes none.
    assert export.render(proj, "csv", dpi=600, greyscale=True) == export.render(proj, "csv")
    assert export.render(proj, "svg", greyscale=True) != export.render(proj, "svg")


def test_every_format_declares_options_its_renderer_takes() -> None:
    for spec in export.FORMATS.values():
        assert set(spec.options) <= set(export.OPTION_NAMES), spec.name
    # Renderers take named options only: an unexpected keyword is a TypeError, never swallowed.
    from thematic import refi
    from thematic.export import report, tables

    for fn in (report.render_docx, report.render_markdown, report.render_json, tables.render_csv,
               tables.render_xlsx, refi.render_qdc, refi.render_qdpx):
        kinds = {p.kind for p in inspect.signature(fn).parameters.values()}
        assert inspect.Parameter.VAR_KEYWORD not in kinds, fn.__name__


def test_cli_export_still_passes_its_options(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Store(db) as s:
        build_project(s, codebook=CMT, n_forms=4)
    out = tmp_path / "t.csv"
    assert main(["export", str(db), "-o", str(out), "--dpi", "600"]) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
