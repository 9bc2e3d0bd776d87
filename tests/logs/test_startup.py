"""The fixed cost of a query: the SQL DuckDB plans and the modules mgops loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mgops.cli.main import command_name
from mgops.logs.engine import explain
from mgops.logs.parser_cache import _trusted, default_cache_dir, load_parser
from tests.logs.conftest import DATA

QUERIES = [
    'jsonPayload.userId="u-4242"',
    "jsonPayload.latencyMs>1000 | orderBy severity desc",
    "severity=~ERR | groupBy severity, timestamp",
    'timestamp>="2024-12-06" | fields severity, timestamp',
]


class TestPlanSize:
    @pytest.mark.parametrize("strict", [False, True])
    @pytest.mark.parametrize("query", QUERIES)
    def test_severity_and_time_are_bound_once(self, query: str, strict: bool) -> None:
        """Shown severity and time bind their value once, so the SQL stays short.

        Repeating the value in every CASE branch made a 9 KB statement that
        took DuckDB 120 ms to plan, whatever the input size.
        """
        sql = explain(query, strict=strict)[1].sql

        assert len(sql) < 7000


class TestParserCache:
    QUERY = 'severity>=ERROR AND path:"/a" | groupBy path | count'

    def test_saved_tables_parse_alike(self, tmp_path: Path) -> None:
        """The tables saved on the first run are loaded by the next one."""
        built = load_parser(tmp_path)
        saved = list(tmp_path.glob("query-parser-*.lark"))

        loaded = load_parser(tmp_path)

        assert len(saved) == 1
        assert built.parse(self.QUERY) == loaded.parse(self.QUERY)
        assert loaded.options.propagate_positions

    def test_damaged_file_is_rebuilt(self, tmp_path: Path) -> None:
        """A truncated cache file is replaced, not trusted."""
        load_parser(tmp_path)
        (saved,) = tmp_path.glob("query-parser-*.lark")
        saved.write_bytes(saved.read_bytes()[:100])

        parser = load_parser(tmp_path)

        assert parser.parse(self.QUERY) is not None
        assert saved.stat().st_size > 100

    def test_file_others_may_write_is_not_loaded(self, tmp_path: Path) -> None:
        """A cache file writable by others is never unpickled."""
        load_parser(tmp_path)
        (saved,) = tmp_path.glob("query-parser-*.lark")
        saved.write_bytes(b"not a pickle")
        saved.chmod(0o666)

        assert not _trusted(saved)
        assert load_parser(tmp_path).parse(self.QUERY) is not None

    def test_unwritable_cache_still_parses(self, tmp_path: Path) -> None:
        """A cache directory that cannot be made only costs the build."""
        blocker = tmp_path / "file"
        blocker.write_text("")

        parser = load_parser(blocker / "mgops")

        assert parser.parse(self.QUERY) is not None

    def test_cache_dir_follows_xdg(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """$XDG_CACHE_HOME decides where the tables go."""
        monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")

        assert Path("/somewhere/mgops") == default_cache_dir()


HEAVY = ("sqlalchemy", "alembic", "fastapi", "starlette", "mgops.store", "mgops.web")
PROBE = """
import sys
from mgops.cli.main import run_cli
code = run_cli(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy}
               or any(m.startswith(h) for h in {heavy}))
print(code, heavy)
"""


class TestCliImports:
    @pytest.mark.parametrize(
        "args",
        [
            ["logs", "--help"],
            ["--db", "x.db", "logs", "explain", "severity>=ERROR"],
            ["logs", "query", "-f", "csv", "upstream", str(DATA / "mixed.jsonl")],
        ],
    )
    def test_logs_commands_load_no_store_or_web(self, args: list[str]) -> None:
        """``mgops logs`` never imports the database layer or the web app."""
        probe = PROBE.replace("{heavy}", repr(HEAVY))

        run = subprocess.run(
            [sys.executable, "-c", probe, *args],
            capture_output=True,
            text=True,
            check=True,
        )

        assert "0 []" == run.stdout.strip().splitlines()[-1]

    def test_command_name_skips_global_options(self) -> None:
        """The command word is found after options and their values."""
        assert "logs" == command_name(["--db", "logs", "logs", "query"])
        assert "logs" == command_name(["--db=x.db", "--version", "logs"])
        assert command_name(["--help"]) is None

    def test_whole_cli_is_still_built_on_demand(self) -> None:
        """``mgops.cli.main.app`` is the full CLI, every group registered."""
        from mgops.cli import main

        names = {group.name for group in main.app.registered_groups}

        assert {"logs", "incident", "db", "pg"} <= names


class TestConnection:
    def test_duckdb_draws_no_progress_bar(self) -> None:
        """DuckDB's own progress bar never lands in mgops's output."""
        from mgops.logs.engine import _connect

        connection = _connect(None, 1)
        setting = "SELECT current_setting('enable_progress_bar_print')"

        assert [(False,)] == connection.execute(setting).fetchall()
        connection.close()
