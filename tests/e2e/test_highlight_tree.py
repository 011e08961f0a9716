"""The theme tree on "3 Search for themes" shaped with the mouse in a real browser: drag a code between two others
(the others keep their order), drop one onto another and put it under it, drop one onto another and merge it in,
then undo the merge from the sidebar. Each step is checked in the project file. Screenshots: ``tree_*.png``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, wait_idle, wait_text

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300), pytest.mark.usefixtures("fake_embedder")]


@pytest.fixture(scope="module")
def project(fake_embedder: None, app_server: Server) -> Path:
    from thematic import codebook, coding
    from thematic.demo import create_demo_project
    from thematic.store import Store

    create_demo_project(app_server.project)
    with Store(app_server.project) as s:
        for name in ("Alpha", "Beta", "Gamma"):
            codebook.add_code(s, name, actor="setup")
        alpha = codebook.find_code(s, "Alpha")
        assert alpha is not None
        x = codebook.add_code(s, "Xi", parent_id=alpha.id, actor="setup")
        coding.apply_code(s, 1, x, "setup")
    return app_server.project


def tree(path: Path) -> list[tuple[str, str | None, int]]:
    con = sqlite3.connect(path)
    try:
        return con.execute(
            "SELECT c.name, p.name, c.position FROM codes c LEFT JOIN codes p ON p.id = c.parent_id "
            "ORDER BY coalesce(p.name, ''), c.position"
        ).fetchall()
    finally:
        con.close()


def row(page: Any, name: str) -> Any:
    return page.locator(".ttree .row").filter(has=page.locator(".name", has_text=name)).first


def drag(page: Any, src: str, dst: str, where: str) -> None:
    target = row(page, dst)
    box = target.bounding_box()
    y = {"before": 3, "onto": box["height"] / 2, "after": box["height"] - 3}[where]
    row(page, src).drag_to(target, target_position={"x": 60, "y": y})
    wait_idle(page)


def test_drag_to_move_nest_and_merge_then_undo(page: Any, app_server: Server, project: Path, e2e_out: Path) -> None:
    page.goto(f"{app_server.url}/themes?coder=tt")
    page.get_by_role("tab", name="Arrange the theme tree").first.click()
    wait_text(page, "Theme tree")
    row(page, "Gamma").wait_for()
    page.screenshot(path=str(e2e_out / "tree_before.png"))
    drag(page, "Gamma", "Alpha", "before")
    wait_text(page, "Moved \u201cGamma\u201d to the top level.")
    tops = [n for n, p, _ in tree(project) if p is None]
    assert tops == ["Gamma", "Alpha", "Beta"], tree(project)
    drag(page, "Beta", "Alpha", "onto")
    page.locator(".st-key-tree_drop_under button").first.click()
    wait_text(page, "Moved \u201cBeta\u201d under \u201cAlpha\u201d.")
    assert ("Beta", "Alpha") in [(n, p) for n, p, _ in tree(project)]
    assert [n for n, p, _ in tree(project) if p is None] == ["Gamma", "Alpha"]
    drag(page, "Xi", "Gamma", "onto")
    page.locator(".st-key-tree_drop_merge button").first.click()
    wait_text(page, "Merged")
    page.screenshot(path=str(e2e_out / "tree_after_merge.png"))
    names = [n for n, _, _ in tree(project)]
    assert "Xi" not in names
    con = sqlite3.connect(project)
    gamma_codings = con.execute(
        "SELECT count(*) FROM codings c JOIN codes k ON k.id = c.code_id WHERE k.name = 'Gamma'").fetchone()[0]
    con.close()
    assert gamma_codings == 1
    page.locator(".st-key-sidebar_undo button").first.click()
    wait_idle(page)
    page.wait_for_function("() => document.body.innerText.includes('Xi')")
    assert ("Xi", "Alpha") in [(n, p) for n, p, _ in tree(project)]
