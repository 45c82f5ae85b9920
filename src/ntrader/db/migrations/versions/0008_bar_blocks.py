"""Bars in blocks: ``bar_blocks`` (one row per series and time window, the window's bars one after another
in one binary value) replaces the one-row-per-bar table ``bars``, which becomes a view (issue 17's rates).

Measured on 1 000 000 one-minute bars, one row per bar: imports of 0.83-0.89 M rows/s into SQLite (whose
own C-level insert into that table tops out at 0.75-1.46 M rows/s here) and 0.73-0.83 M rows/s by
binary COPY into PostgreSQL, reads of ~1 M rows/s; issue 17 asks for 1 M written and 5 M read a second.
The layout of ``data`` is in ``ntrader.db.models.BarBlock``; it is written out again below so that this
migration keeps meaning what it meant when later code changes.

``bars`` (series_id, ts, open, high, low, close, volume) and ``market_data`` (the seed plan's columns)
stay, as views that decode the blocks in plain SQL (SQLite: ``hex``/``instr``/``pow``; PostgreSQL:
``get_byte``/``power``), exact to the bit, so ad-hoc SQL and other tools still see one row per bar.
They are for reading: ntrader itself reads and writes the blocks. ``bar_blocks`` keeps the foreign key
to ``bar_series`` that 0007 took off ``bars``: its check is per block now, a few hundred per million
bars. With TimescaleDB, the ``bars`` hypertable is dropped like the plain table; the blocks are a plain
table (they are already compact and few).

Every stored bar moves across, series by series; the downgrade writes them back into 0007's table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FIELDS = ("ts", "open", "high", "low", "close", "volume")
BLOCK_BARS = 2048
_MARKET_DATA = {
    "sqlite": "datetime(b.ts / 1000000000, 'unixepoch')",
    "postgresql": "to_timestamp(b.ts / 1e9)",
}


#: Two hex digits and a comma for every byte value: instr() of "XY," in it is 3 × the byte + 1.
_BYTES = "'" + "".join(f"{value:02X}," for value in range(256)) + "'"


def _sqlite_byte(field: int, j: int) -> str:
    """Byte j (0 = least significant) of a bar's field, from the bar's 48 bytes as hex digits (h)."""
    return f"((instr({_BYTES}, substr(h, {2 * (8 * field + j) + 1}, 2) || ',') - 1) / 3)"


def _pg_byte(field: int, j: int) -> str:
    """Byte j (0 = least significant) of a bar's field, from the bar's 48 bytes (d)."""
    return f"get_byte(d, {8 * field + j})::bigint"


_BYTE = {"sqlite": _sqlite_byte, "postgresql": _pg_byte}
#: A float64 literal and the power function of each dialect (PostgreSQL reads 2.0 as a numeric).
_FLOAT = {"sqlite": "{}.0", "postgresql": "{}::float8"}
_POWER = {"sqlite": "pow", "postgresql": "power"}


def _int64(byte) -> str:  # type: ignore[no-untyped-def]
    return "(" + " | ".join(f"({byte(j)} << {8 * j})" for j in range(8)) + ")"


def _float64(byte, dialect: str) -> str:  # type: ignore[no-untyped-def]
    """IEEE 754 binary64 from its bytes: sign, 11-bit exponent, 52-bit fraction (zero and subnormals
    included); every step is exact in float64, so the view shows the stored double to the bit."""
    exponent = f"((({byte(7)} & 127) << 4) | ({byte(6)} >> 4))"
    fraction = (
        "(" + " | ".join([f"(({byte(6)} & 15) << 48)", *(f"({byte(j)} << {8 * j})" for j in range(6))]) + ")"
    )
    power, two, one = _POWER[dialect], _FLOAT[dialect].format(2), _FLOAT[dialect].format(1)
    magnitude = (
        f"CASE WHEN {exponent} = 0 THEN {fraction} * {power}({two}, -1074) "
        f"ELSE ({fraction} | 4503599627370496) * {power}({two}, {exponent} - 1075) END"
    )
    return f"(CASE WHEN {byte(7)} >= 128 THEN -{one} ELSE {one} END) * ({magnitude})"


def _bars_view(dialect: str) -> str:
    """CREATE VIEW bars: one row per stored bar, decoded from the blocks."""
    columns = [f"{_int64(lambda j: _BYTE[dialect](0, j))} AS ts"]
    columns += [
        f"{_float64(lambda j, f=f: _BYTE[dialect](f, j), dialect)} AS {name}"
        for f, name in enumerate(FIELDS)
        if f
    ]
    if dialect == "postgresql":
        # The inner query takes each bar's 48 bytes once (a slice of the uncompressed value, read
        # without fetching the rest); OFFSET 0 keeps PostgreSQL from folding it into the outer one.
        return (
            f"CREATE VIEW bars AS SELECT series_id, {', '.join(columns)} FROM "
            "(SELECT b.series_id, substring(b.data FROM n.i * 48 + 1 FOR 48) AS d FROM bar_blocks b "
            "CROSS JOIN LATERAL generate_series(0, b.rows - 1) AS n(i) OFFSET 0) AS bar"
        )
    # The inner query reads a block's value once per bar (its 48 bytes as hex digits, h); LIMIT/OFFSET
    # keep SQLite from folding it into the outer one, which would read the value once per byte
    # (measured on 17 160 bars: 24 s for every column, against 2 s). The outer query computes only the
    # columns a query uses: a count or a filter on ts stays cheap.
    return (
        "CREATE VIEW bars AS WITH RECURSIVE n(i) AS "
        f"(SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {BLOCK_BARS - 1}) "
        f"SELECT series_id, {', '.join(columns)} FROM "
        f"(SELECT b.series_id AS series_id, hex(substr(b.data, n.i * 48 + 1, 48)) AS h "
        "FROM bar_blocks b JOIN n ON n.i < b.rows LIMIT -1 OFFSET 0)"
    )


def _market_data_view(dialect: str) -> str:
    return (
        f"CREATE VIEW market_data AS SELECT s.symbol, s.bar_type, {_MARKET_DATA[dialect]} AS timestamp, "
        "b.open, b.high, b.low, b.close, b.volume, s.data_source, s.adjustment "
        "FROM bars b JOIN bar_series s ON s.id = b.series_id"
    )


def _blocks(series_id: int, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """A series' bars (sorted (ts, open, …) tuples) as bar_blocks rows of BLOCK_BARS bars each (any cut
    is valid: a block's bars must be sorted and a series' blocks must not overlap; writes re-cut them)."""
    bars = np.empty((len(rows), len(FIELDS)), dtype="<f8")  # bar after bar, 48 bytes each
    stamps = bars[:, 0].view("<i8")
    stamps[:] = [row[0] for row in rows]
    for f in range(1, len(FIELDS)):
        bars[:, f] = [row[f] for row in rows]
    return [
        {"series_id": series_id, "start_ts": int(stamps[lo]), "end_ts": int(stamps[hi - 1]), "rows": hi - lo,
         "data": bars[lo:hi].tobytes()}
        for lo, hi in pairwise([*range(0, len(rows), BLOCK_BARS), len(rows)])
    ]  # fmt: skip


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.create_table(
        "bar_blocks",
        sa.Column(
            "series_id", sa.Integer, sa.ForeignKey("bar_series.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("start_ts", sa.BigInteger, nullable=False),
        sa.Column("end_ts", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("series_id", "start_ts", name="pk_bar_blocks"),
    )
    if dialect == "postgresql":
        # Stored out of line uncompressed: binary doubles hardly compress, and pglz's attempt cost time.
        op.execute("ALTER TABLE bar_blocks ALTER COLUMN data SET STORAGE EXTERNAL")
    blocks = sa.table(
        "bar_blocks", *(sa.column(c) for c in ("series_id", "start_ts", "end_ts", "rows", "data"))
    )
    columns = ", ".join(FIELDS)
    for (series_id,) in bind.execute(sa.text("SELECT DISTINCT series_id FROM bars ORDER BY 1")).all():
        rows = bind.execute(
            sa.text(f"SELECT {columns} FROM bars WHERE series_id = :s ORDER BY ts"), {"s": series_id}
        ).all()
        # Bars of a series deleted by hand (possible since 0007 dropped the key) are unreadable: left out.
        known = bind.execute(sa.text("SELECT 1 FROM bar_series WHERE id = :s"), {"s": series_id}).first()
        if rows and known:
            op.bulk_insert(blocks, _blocks(int(series_id), rows))
    op.execute("DROP VIEW market_data")
    op.drop_table("bars")
    op.execute(_bars_view(dialect))
    op.execute(_market_data_view(dialect))


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.create_table(
        "_bars_restored",
        sa.Column("series_id", sa.Integer, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        *(sa.Column(name, sa.Float, nullable=False) for name in FIELDS[1:]),
        sa.PrimaryKeyConstraint("series_id", "ts", name="pk_bars"),
        sqlite_with_rowid=False,
    )
    columns = ", ".join(("series_id", *FIELDS))
    op.execute(f"INSERT INTO _bars_restored ({columns}) SELECT {columns} FROM bars ORDER BY series_id, ts")
    op.execute("DROP VIEW market_data")
    op.execute("DROP VIEW bars")
    op.drop_table("bar_blocks")
    op.rename_table("_bars_restored", "bars")
    op.execute(_market_data_view(dialect))
