"""The pairs example (examples/strategies/my_pairs.py:Pairs) through the real CLI, against a pandas
computation of its z-score states."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ntrader.backtest import run_backtest
from ntrader.cli import cli
from ntrader.data import generate_bars
from ntrader.data.bars import parse_bar_size
from ntrader.db.runs import get_run

PAIRS = Path(__file__).resolve().parents[2] / "examples" / "strategies" / "my_pairs.py"
DAY = parse_bar_size("1-DAY")


def _states(lookback: int, entry: float, exit_: float) -> pd.Series:
    """The state after each bar: +1 long KO / short PEP, −1 the opposite, 0 flat (a loop over a
    rolling z-score computed with pandas)."""
    start, end = pd.Timestamp("2022-01-01", tz="UTC"), pd.Timestamp("2023-12-31", tz="UTC")
    closes = pd.DataFrame({s: generate_bars(s, start, end, DAY)["close"] for s in ("KO", "PEP")})
    spread = np.log(closes["KO"]) - np.log(closes["PEP"])
    z = (spread - spread.rolling(lookback).mean()) / spread.rolling(lookback).std(ddof=0)
    state, out = 0, []
    for value in z.to_numpy():
        if not np.isnan(value):
            if value > entry:
                state = -1
            elif value < -entry:
                state = 1
            elif abs(value) < exit_:
                state = 0
        out.append(state)
    return pd.Series(out, index=DAY.close_times(pd.DatetimeIndex(closes.index)))


@pytest.mark.parametrize("allow_short", [False, True])
def test_pairs_holds_the_z_score_states(allow_short: bool, database_url: str) -> None:
    args = ["backtest", "run", "-s", f"{PAIRS}:Pairs", "--symbol", "KO,PEP", "--start", "2022-01-01",
            "--end", "2023-12-31", "--param", "lookback=40", "--param", "entry_z=1.5",
            "--param", f"allow_short={str(allow_short).lower()}", "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    record = get_run(json.loads(result.output)["id"])
    assert record.status == "completed"
    assert record.settings["portfolio"]["mode"] == "portfolio strategy"
    states = _states(40, 1.5, 0.5)
    assert (states != 0).sum() > 20 and set(states.iloc[40:]) >= {-1, 1}
    # The same run in memory gives the positions after each bar.
    outcome = run_backtest(
        f"{PAIRS}:Pairs", "KO,PEP", "2022-01-01", "2023-12-31", save=False,
        params={"lookback": 40, "entry_z": 1.5, "allow_short": allow_short},
    )  # fmt: skip
    positions = outcome.result.positions
    assert positions is not None
    np.testing.assert_allclose(outcome.result.equity.to_numpy(), record.equity().to_numpy(), atol=1e-6)
    ko, pep = np.sign(positions["KO"]), np.sign(positions["PEP"])
    last = states.index[-1]
    live = states.index != last  # a change decided on the last bar is not traded
    if allow_short:
        assert (ko[live] == states[live]).all()
        assert (pep[live] == -states[live]).all()
    else:
        assert (ko[live] == (states[live] == 1)).all()
        assert (pep[live] == (states[live] == -1)).all()
        assert (positions >= 0).all().all()


def test_pairs_needs_two_symbols(database_url: str) -> None:
    result = CliRunner().invoke(cli, ["backtest", "run", "-s", f"{PAIRS}:Pairs", "--symbol", "KO,PEP,SPY"])
    assert result.exit_code != 0 and "exactly two symbols" in result.output
