"""User strategies from files and modules: they run, and every mistake gets one clear line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ntrader.cli import cli
from ntrader.errors import InputError, NotFoundError
from ntrader.strategies import get_strategy
from tests.conftest import count_rows

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "strategies" / "breakout.py"

GOOD = """
from ntrader.strategies import SignalStrategy, SignalStrategyConfig

class HoldConfig(SignalStrategyConfig, frozen=True):
    wait: int = 3

class Hold(SignalStrategy):
    config_class = HoldConfig

    def setup(self):
        self.seen = 0

    def on_signal_bar(self, bar):
        self.seen += 1
        if self.seen == self.config.wait:
            self.go_long(bar)
"""


def write(tmp_path: Path, body: str, name: str = "user_strategy.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_example_strategy_runs_through_the_cli(database_url):
    result = CliRunner().invoke(
        cli,
        ["backtest", "run", "-s", f"{EXAMPLE}:Breakout", "--symbol", "AAPL", "--start", "2022-01-01",
         "--end", "2023-12-31", "-p", "window=30", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    assert run["strategy"].endswith("breakout.py:Breakout")
    assert run["params"]["window"] == 30
    assert run["metrics"]["trade_count"] >= 1
    assert count_rows(database_url, "backtest_runs") == 1


def test_config_from_attribute_and_from_init_annotation(tmp_path):
    spec = get_strategy(f"{write(tmp_path, GOOD)}:Hold")
    assert [p.name for p in spec.parameters] == ["position_pct", "wait"]
    assert get_strategy(f"{EXAMPLE}:Breakout").config_class.__name__ == "BreakoutConfig"


def test_module_reference(tmp_path, monkeypatch):
    package = tmp_path / "mystrats"
    package.mkdir()
    (package / "__init__.py").write_text("")
    write(package, GOOD, "hold.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_strategy("mystrats.hold:Hold").strategy_class.__name__ == "Hold"
    with pytest.raises(NotFoundError, match="strategy module not found: mystrats.nothere"):
        get_strategy("mystrats.nothere:Hold")


@pytest.mark.parametrize(
    ("body", "ref_class", "error", "message"),
    [
        ("x = (\n", "X", InputError, r"user_strategy.py: line 1: SyntaxError"),
        ("import os\n\nraise RuntimeError('boom')\n", "X", InputError, r"line 3: RuntimeError: boom"),
        ("class NotAStrategy:\n    pass\n", "NotAStrategy", InputError, "is not a subclass of"),
        (GOOD, "Missing", NotFoundError, "has no class 'Missing'"),
        (
            "from nautilus_trader.trading.strategy import Strategy\n\nclass Bare(Strategy):\n    pass\n",
            "Bare",
            InputError,
            "cannot find the config class of Bare",
        ),
        (
            "from nautilus_trader.config import StrategyConfig\n"
            "from nautilus_trader.trading.strategy import Strategy\n\n"
            "class C(StrategyConfig, frozen=True):\n    n: int = 1\n\n"
            "class S(Strategy):\n    config_class = C\n",
            "S",
            InputError,
            "C needs an 'instrument_id' field",
        ),
    ],
)
def test_loader_errors(tmp_path, body, ref_class, error, message):
    path = write(tmp_path, body)
    with pytest.raises(error, match=message):
        get_strategy(f"{path}:{ref_class}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "missing/file.py:X"], "strategy file not found: missing/file.py"),
        (["-p", "wait=soon"], "parameter wait must be an integer, got 'soon'"),
        (["-p", "speed=3"], "unknown parameter 'speed'"),
    ],
)
def test_cli_errors_for_user_strategies_write_nothing(tmp_path, database_url, args, message):
    path = write(tmp_path, GOOD)
    base = ["backtest", "run", "--symbol", "AAPL", "--start", "2023-01-01", "--end", "2023-03-31"]
    if "-s" not in args:
        base += ["-s", f"{path}:Hold"]
    result = CliRunner().invoke(cli, base + args)
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert count_rows(database_url, "backtest_runs") == 0
