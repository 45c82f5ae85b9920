"""Every bad input and fault through the real CLI: one line saying what and where, an exit code, and
nothing written (issue 14 §1). No output here may contain a Python traceback."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from ntrader.cli import cli
from ntrader.cli.app import INTERNAL_ERROR_EXIT
from ntrader.config import get_settings
from ntrader.db import dispose_engines
from tests.conftest import count_rows

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CSV = REPO / "examples" / "data" / "AAPL.csv"
PERIOD = ("--start", "2023-01-01", "--end", "2023-03-31")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_line(result: Result, *fragments: str, code: int = 1) -> str:
    """The command failed with `code` and said so in one line holding every fragment, no traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def no_database(home: Path) -> None:
    assert not (home / "ntrader.db").exists(), "a failed command created the database"


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "command", "expected"),
    [
        ("NTRADER_DEFAULT_CAPITAL", "abc", ("backtest", "run", "--strategy", "sma", "--symbol", "AAPL"),
         "valid number"),
        ("NTRADER_RISK_FREE_RATE", "lots", ("backtest", "list-results"), "valid number"),
        ("IBKR_TRADING_MODE", "demo", ("data", "connect"), "'paper' or 'live'"),
        ("IBKR_PORT", "four", ("data", "connect"), "valid integer"),
    ],
)  # fmt: skip
def test_a_bad_environment_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path, variable, value, command, expected
):
    set_env(monkeypatch, **{variable: value})
    one_line(invoke(*command), f"environment variable {variable}={value!r}", expected)
    no_database(isolated_home)


def test_an_empty_value_means_not_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated_home: Path):
    # `cp .env.example .env` leaves these empty: the defaults apply, not the current directory.
    (tmp_path / ".env").write_text("NTRADER_HOME=\nNTRADER_CATALOG=\nDATABASE_URL=\nIBKR_PORT=\n")
    monkeypatch.delenv("NTRADER_HOME")
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.home == Path.home() / ".local" / "share" / "ntrader"
    assert settings.catalog_path == settings.home / "catalog"
    assert settings.database_url is None
    assert settings.ibkr.port == 7497


# --- the boundary itself --------------------------------------------------------------------------


def test_an_unexpected_exception_is_one_line_with_its_own_exit_code(monkeypatch: pytest.MonkeyPatch):
    def broken(**_: object) -> None:
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr(importlib.import_module("ntrader.db.runs"), "list_runs", broken)
    line = one_line(invoke("backtest", "list-results"), "internal error", code=INTERNAL_ERROR_EXIT)
    assert "RuntimeError: something nobody foresaw" in line and "--verbose" in line

    verbose = invoke("--verbose", "backtest", "list-results")
    assert verbose.exit_code == INTERNAL_ERROR_EXIT
    assert "Traceback (most recent call last)" in verbose.output
    assert 'raise RuntimeError("something nobody foresaw")' in verbose.output


def test_verbose_shows_the_traceback_of_a_known_error_too(database_url):
    result = invoke(
        "--verbose", "backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--capital", "nan"
    )
    assert result.exit_code == 1
    assert "Traceback" in result.output and "capital must be greater than 0 and finite" in result.output


# --- user strategies that raise -----------------------------------------------------------------

BOOM = textwrap.dedent(
    """\
    from ntrader.strategies import SignalStrategy, SignalStrategyConfig


    class BoomConfig(SignalStrategyConfig, frozen=True):
        pass


    class OnBar(SignalStrategy):
        def on_signal_bar(self, bar):
            raise ZeroDivisionError("bad math in on_bar")


    class Init(SignalStrategy):
        def __init__(self, config: BoomConfig) -> None:
            super().__init__(config)
            raise RuntimeError("broken __init__")
    """
)


def test_a_strategy_raising_in_on_bar_names_its_file_and_line_and_is_not_saved_completed(
    database_url, tmp_path: Path
):
    (tmp_path / "boom.py").write_text(BOOM)
    result = invoke("backtest", "run", "--strategy", "boom.py:OnBar", "--symbol", "AAPL", *PERIOD, "--json")
    assert result.exit_code == 5
    assert "Traceback" not in result.output
    assert "ZeroDivisionError: bad math in on_bar (at boom.py:10 in on_signal_bar)" in result.output
    with create_engine(database_url).connect() as conn:
        assert conn.execute(text("SELECT status FROM backtest_runs")).scalars().all() == ["halted"]


def test_a_strategy_raising_in_init_names_its_file_and_line_and_saves_nothing(database_url, tmp_path: Path):
    (tmp_path / "boom.py").write_text(BOOM)
    result = invoke("backtest", "run", "--strategy", "boom.py:Init", "--symbol", "AAPL", *PERIOD)
    one_line(result, "RuntimeError: broken __init__ (at boom.py:16 in __init__)", code=5)
    assert count_rows(database_url, "backtest_runs") == 0


# --- numbers the engine cannot represent ----------------------------------------------------------


@pytest.mark.parametrize("capital", ["nan", "inf", "-inf", "1e300", "1e14"])
def test_capital_beyond_the_engine_is_refused_on_the_command_line(database_url, capital):
    result = invoke("backtest", "run", "--strategy", "sma", "--symbol", "AAPL", "--capital", capital)
    one_line(result, "capital must be")
    assert count_rows(database_url, "backtest_runs") == 0


@pytest.mark.parametrize("capital", [".nan", ".inf", "1e300", "1e14"])
@pytest.mark.parametrize("command", ["strategy validate", "backtest run-config"])
def test_capital_beyond_the_engine_is_refused_in_yaml(database_url, tmp_path: Path, capital, command):
    config = tmp_path / "run.yaml"
    config.write_text(f"strategy: sma\nsymbol: AAPL\ncapital: {capital}\n")
    one_line(invoke(*command.split(), str(config)), "run.yaml: line 3: field 'capital'")
    assert count_rows(database_url, "backtest_runs") == 0


def test_the_price_and_volume_limits_are_nautilus_own():
    from nautilus_trader.model.objects import PRICE_MAX, QUANTITY_MAX

    from ntrader.data.csv import PRICE_MAX as CSV_PRICE_MAX
    from ntrader.data.csv import VOLUME_MAX

    assert (CSV_PRICE_MAX, VOLUME_MAX) == (PRICE_MAX, QUANTITY_MAX)


@pytest.mark.parametrize(
    ("row", "column"),
    [("2023-01-05,1e300,1e300,122.00,123.15,83780200", "open"),
     ("2023-01-05,122.33,123.98,122.00,123.15,1e300", "volume")],
)  # fmt: skip
def test_a_csv_value_beyond_the_engine_is_refused_with_row_and_column(
    database_url, tmp_path: Path, row, column
):
    lines = EXAMPLE_CSV.read_text().splitlines()[:6]
    lines[3] = row
    csv = tmp_path / "huge.csv"
    csv.write_text("\n".join(lines) + "\n")
    result = invoke("data", "import-csv", str(csv), "--symbol", "AAPL")
    one_line(result, "huge.csv", "row 4", f"column {column!r}", "beyond the engine's")
    assert count_rows(database_url, "market_data") == 0


# --- YAML that is not a config --------------------------------------------------------------------

BOMB = "\n".join(
    ["a0: &a0 {k: v}"]
    + [f"a{i}: &a{i} {{x1: *a{i - 1}, x2: *a{i - 1}, x3: *a{i - 1}, x4: *a{i - 1}}}" for i in range(1, 40)]
    + ["strategy: sma", "symbol: AAPL", "params: *a39"]
)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"strategy: sma\nsymbol: AAPL\nstart: 2024-02-30\n", "line 3: field 'start'"),
        (b"strategy: sma\nsymbol: AAPL\nstart: 2024-13-01\n", "line 3: field 'start'"),
        (b"strategy: sma\nsymbol: \xff\xfeAAPL\n", "line 2: not UTF-8 text"),
        (b"strategy: sma\nsymbol: AAPL\nparams: &a [*a]\n", "line 3: YAML aliases (*a) are not supported"),
        (BOMB.encode(), "line 2: YAML aliases (*a0) are not supported"),
    ],
    ids=["feb-30", "month-13", "not-utf8", "recursive-alias", "alias-bomb"],
)
@pytest.mark.parametrize("command", ["strategy validate", "backtest run-config"])
def test_bad_yaml_is_one_line_at_once(isolated_home: Path, tmp_path: Path, content, expected, command):
    config = tmp_path / "run.yaml"
    config.write_bytes(content)
    # A subprocess with a memory cap and a timeout: the alias bomb used to run past 60 s and 1.7 GB.
    script = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_DATA, (2 << 30, 2 << 30));"
        "from ntrader.cli import main; sys.argv = ['ntrader', *sys.argv[1:]]; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *command.split(), str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "run.yaml" in lines[0], done.stderr
    no_database(isolated_home)


# --- ids, URLs, folders, schema -------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [("report", "summary"), ("report", "show"), ("backtest", "delete", "--yes"), ("backtest", "compare", "1"),
     ("report", "sweep")],
)  # fmt: skip
def test_an_id_beyond_the_integer_range_is_a_usage_error(database_url, command):
    result = invoke(*command, "99999999999999999999")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "99999999999999999999 is not in the range 1<=x<=9223372036854775807" in result.output


def test_an_unsupported_database_url_scheme_is_one_line(monkeypatch: pytest.MonkeyPatch, isolated_home: Path):
    set_env(monkeypatch, DATABASE_URL="mysql://me:secret@db.example/ntrader")
    line = one_line(invoke("backtest", "list-results"), "DATABASE_URL", "unsupported database 'mysql'")
    assert "secret" not in line
    no_database(isolated_home)


def test_ntrader_home_that_is_a_file_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    set_env(monkeypatch, NTRADER_HOME=str(home))
    one_line(invoke("backtest", "list-results"), "NTRADER_HOME", f"{home} is a file, not a folder")
    one_line(
        invoke("backtest", "run", "--strategy", "sma", "--symbol", "AAPL", *PERIOD),
        "NTRADER_HOME",
        "is a file",
    )
    assert home.read_text() == "not a folder"


# /sys refuses new entries even to root (tests here may run as root, where chmod protects nothing).
@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NTRADER_HOME", "/sys/ntrader-test-home", "cannot create the folder /sys/ntrader-test-home"),
        ("NTRADER_HOME", "/sys", "cannot write the database /sys/ntrader.db"),
        ("DATABASE_URL", "sqlite:////sys/ntrader-test.db", "cannot write the database /sys/ntrader-test.db"),
        ("DATABASE_URL", "sqlite:////sys/ntrader-test/x.db", "cannot create the folder /sys/ntrader-test"),
    ],
)
def test_an_unwritable_database_location_is_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable, value, expected
):
    set_env(monkeypatch, **{variable: value})
    one_line(invoke("backtest", "list-results"), f"{variable}: {expected}")


def test_a_schema_newer_than_this_ntrader_is_refused_and_left_alone(database_url):
    assert invoke("backtest", "list-results").exit_code == 0  # creates and migrates the database
    engine = create_engine(database_url)
    with engine.begin() as conn:
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    dispose_engines()  # a new process: the engine migrates (or refuses) on first use
    try:
        one_line(invoke("backtest", "list-results"), "schema revision '9999_future'", "upgrade ntrader")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "9999_future"
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
        engine.dispose()
        dispose_engines()


# --- one rule for a symbol --------------------------------------------------------------------------

LONG = "A" * 40


def test_a_symbol_too_long_is_refused_everywhere_before_any_work(database_url, tmp_path: Path):
    message = f"invalid symbol {LONG!r}"
    one_line(invoke("backtest", "run", "--strategy", "sma", "--symbol", LONG, *PERIOD), message)
    one_line(invoke("data", "import-csv", str(EXAMPLE_CSV), "--symbol", LONG), message)
    config = tmp_path / "run.yaml"
    config.write_text(f"strategy: sma\nsymbol: {LONG}\n")
    one_line(invoke("backtest", "run-config", str(config)), "line 2: field 'symbol'", message)
    for table in ("backtest_runs", "market_data"):
        assert count_rows(database_url, table) == 0


def test_the_head_revision_read_from_the_files_is_alembics():
    from alembic.script import ScriptDirectory

    from ntrader.db.engine import _alembic_config, head_revision

    assert head_revision() == ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()
