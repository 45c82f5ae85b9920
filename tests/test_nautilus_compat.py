"""ntrader.nautilus_compat: bars built in bulk equal Nautilus's own per-bar `Bar(...)`, on pandas 2 and 3."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.objects import Price, Quantity

from ntrader.backtest.engine import make_equity
from ntrader.data.mock import generate_bars
from ntrader.nautilus_compat import at_least, nautilus_version, wrangle_bars


def one_by_one(frame: pd.DataFrame, bar_type: BarType, precision: int, delta: int) -> list[Bar]:
    """The independent construction: Nautilus's checked `Bar` constructor, one bar at a time."""
    stamps = [int(ts.value) for ts in pd.DatetimeIndex(frame.index).tz_convert("UTC")]
    return [
        Bar(
            bar_type,
            Price(row.open, precision),
            Price(row.high, precision),
            Price(row.low, precision),
            Price(row.close, precision),
            Quantity(row.volume, 0),
            ts,
            ts + delta,
        )
        for row, ts in zip(frame.itertuples(), stamps, strict=True)
    ]


@pytest.mark.parametrize("delta", [0, 60_000_000_000])
def test_bars_equal_nautilus_bar_by_bar_including_stamps(delta: int):
    instrument = make_equity("AAPL")
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
    frame = generate_bars("AAPL", "2024-03-04", "2024-03-06", "1-MINUTE")
    built = wrangle_bars(frame, bar_type, instrument, ts_init_delta=delta)
    expected = one_by_one(frame, bar_type, instrument.price_precision, delta)
    assert len(built) == len(frame) > 500
    assert [str(b) for b in built] == [str(b) for b in expected]
    assert [(b.ts_event, b.ts_init) for b in built] == [(b.ts_event, b.ts_init) for b in expected]


def test_read_only_arrow_backed_columns_are_accepted():
    instrument = make_equity("AAPL")
    bar_type = BarType.from_str(f"{instrument.id}-1-DAY-LAST-EXTERNAL")
    frame = generate_bars("AAPL", "2024-01-01", "2024-03-01")
    table = pa.Table.from_pandas(frame)
    arrow = table.to_pandas(types_mapper=pd.ArrowDtype)  # read-only buffers, as CSV reads hand out
    built = wrangle_bars(arrow, bar_type, instrument)
    assert [b.close.as_double() for b in built] == frame["close"].round(2).tolist()


def test_invalid_ohlc_is_refused_as_the_bar_constructor_does():
    instrument = make_equity("AAPL")
    bar_type = BarType.from_str(f"{instrument.id}-1-DAY-LAST-EXTERNAL")
    frame = generate_bars("AAPL", "2024-01-01", "2024-02-01")
    frame.iloc[3, frame.columns.get_loc("high")] = frame["low"].iloc[3] - 1.0
    with pytest.raises(ValueError, match=r"high was < .* \(bar 3\)"):
        wrangle_bars(frame, bar_type, instrument)


def test_version_is_the_installed_one():
    import nautilus_trader

    assert ".".join(map(str, nautilus_version())) == ".".join(nautilus_trader.__version__.split(".")[:2])
    assert at_least(1, 221) and not at_least(99, 0)


def test_skipping_the_analyzers_trade_records_changes_no_fill():
    from ntrader.backtest.engine import run_engine
    from ntrader.data import parse_bar_size
    from ntrader.strategies import get_strategy

    spec = get_strategy("sma")
    bars = generate_bars("AAPL", "2024-03-04", "2024-03-15", "1-MINUTE")
    recorded: list[object] = []

    def run(skip: bool):
        import ntrader.backtest.engine as engine_module

        original = engine_module.skip_trade_records
        engine_module.skip_trade_records = original if skip else (lambda engine: recorded.append(engine))
        try:
            return run_engine(
                bars,
                symbol="AAPL",
                bar_size=parse_bar_size("1-MINUTE"),
                strategy_class=spec.strategy_class,
                config_factory=lambda iid, bt: spec.build_config(
                    {**spec.defaults(), "fast_period": 5, "slow_period": 20}, instrument_id=iid, bar_type=bt
                ),
                capital=100_000.0,
            )
        finally:
            engine_module.skip_trade_records = original

    skipped, kept = run(True), run(False)
    assert recorded and len(kept.fills) >= 20
    assert skipped.fills == kept.fills
    assert skipped.equity.equals(kept.equity)
