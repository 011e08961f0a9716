"""Regenerate the sample theme-tree figures: ``python examples/figures/make_figures.py`` from the repo root.

The project is synthetic (the shipped CMT codebook, 4 themes x 12 subthemes, with seeded random codings of 60
invented forms); the numbers are not results of any study.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from PIL import Image  # noqa: E402

from tests.test_export_tree import CMT, build_project  # noqa: E402
from thematic import export  # noqa: E402
from thematic.store import Store  # noqa: E402


def small_png(data: bytes) -> bytes:
    """The same 300 dpi image with a 256-colour palette (a fraction of the size, no visible change)."""
    img = Image.open(io.BytesIO(data))
    dpi = img.info["dpi"]
    buf = io.BytesIO()
    img.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        buf, format="PNG", dpi=dpi, optimize=True)
    return buf.getvalue()


def main() -> None:
    store = Store(":memory:")
    build_project(store, codebook=CMT, n_forms=60)
    (HERE / "theme_tree_4x12.svg").write_bytes(export.render(store, "svg"))
    (HERE / "theme_tree_4x12.png").write_bytes(small_png(export.render(store, "png")))
    big = Store(":memory:")
    build_project(big, themes=10, subthemes=40, n_forms=60)
    (HERE / "theme_tree_10x40.png").write_bytes(small_png(export.render(big, "png", dpi=110)))


if __name__ == "__main__":
    main()
