"""Running the real ``mgops`` command in-process, with its exit code and output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mgops.cli.main import run_cli


@dataclass
class Result:
    code: int
    out: str
    err: str


Mgops = Callable[..., Result]


@pytest.fixture
def mgops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Mgops:
    """``mgops(*args)`` against a store in tmp_path; wide output for assertions."""
    monkeypatch.setenv("MGOPS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MGOPS_ACTOR", "alice")
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("MGOPS_SERVER", "MGOPS_TOKEN", "MGOPS_POLICY"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = run_cli(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
