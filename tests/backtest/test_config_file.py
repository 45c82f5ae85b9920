"""YAML run configs: the bundled examples run, and each mistake names its field and line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ntrader.backtest.config_file import dump_run_config, load_run_config
from ntrader.cli import cli
from ntrader.errors import InputError, NotFoundError
from tests.conftest import count_rows

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_each_example_config_validates_and_runs(path, database_url):
    runner = CliRunner()
    validated = runner.invoke(cli, ["strategy", "validate", str(path)])
    assert validated.exit_code == 0 and "OK" in validated.output
    result = runner.invoke(cli, ["backtest", "run-config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    config = load_run_config(path)
    assert run["strategy"] == config.strategy
    assert run["settings"]["fill_at"] == config.fill_at
    assert {k: run["params"][k] for k in config.params} == pytest.approx(config.params)
    assert run["metrics"]["trade_count"] >= 1
    assert count_rows(database_url, "backtest_runs") == 1


def test_examples_cover_every_builtin():
    assert {load_run_config(p).strategy for p in EXAMPLES} == {"sma", "mean_reversion", "momentum"}


GOOD = """\
strategy: sma
params:
  fast_period: 5
symbol: aapl
start: 2023-01-01
end: 2023-06-30
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("symbol: aapl\n", ""), "field 'symbol': required field is missing"),
        (GOOD + "capital: -1\n", "line 7: field 'capital': Input should be greater than 0"),
        (GOOD + "colour: blue\n", "line 7: field 'colour': unknown field"),
        (GOOD.replace("2023-01-01", "someday"), "line 5: field 'start'"),
        (GOOD + "fill_at: later\n", "line 7: field 'fill_at'"),
        (GOOD + "data_source: bloomberg\n", "line 7: field 'data_source'"),
        (
            GOOD.replace("strategy: sma", "strategy: macd"),
            "line 1: field 'strategy': unknown strategy 'macd'",
        ),
        (GOOD.replace("fast_period: 5", "fast: 5"), "line 2: field 'params': unknown parameter 'fast'"),
        (GOOD.replace("fast_period: 5", "fast_period: 50"), "line 2: field 'params': invalid parameters"),
        (GOOD.replace("fast_period: 5", "fast_period: five"), "parameter fast_period must be an integer"),
        (GOOD + "commission: flat\n", "line 7: field 'commission'"),
        (GOOD + "bar_size: 2-WEEK\n", "line 7: field 'bar_size': unknown bar size"),
        (
            GOOD.replace("end: 2023-06-30", "end: 2022-06-30"),
            "line 5: field 'start': start date 2023-01-01 is after",
        ),
        ("strategy: [sma\n", "line 2: not valid YAML"),
        ("- just\n- a list\n", "expected a mapping of fields"),
    ],
)
def test_bad_configs_name_field_and_line(tmp_path, database_url, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_run_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    for command in (["strategy", "validate", str(path)], ["backtest", "run-config", str(path)]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1
        assert message in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert count_rows(database_url, "backtest_runs") == 0


def test_missing_config_file():
    with pytest.raises(NotFoundError, match="config file not found"):
        load_run_config("nowhere.yaml")


def test_config_round_trips_through_yaml(tmp_path):
    config = load_run_config(write(tmp_path, GOOD))
    assert config.symbol == "AAPL"
    again = load_run_config(write(tmp_path, dump_run_config(config)))
    assert again == config
