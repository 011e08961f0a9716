"""Test data that lives beside the repository (../shared) is never silently missing in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import require_shared


def test_missing_shared_data_fails_in_ci_and_skips_on_a_workstation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "shared" / "data.csv"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must have ../shared"):
        require_shared(missing)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="is not beside the repo"):
        require_shared(missing)
    assert require_shared(tmp_path) == tmp_path
