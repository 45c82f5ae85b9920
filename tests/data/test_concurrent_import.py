"""Two overlapping imports of one symbol at once, in two real processes: both succeed, no duplicates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from ntrader.data.mock import generate_bars
from ntrader.data.store import read_bars
from ntrader.db import get_engine
from tests.conftest import count_rows

# Each process imports its file once the test says go, so both transactions overlap for sure.
DRIVER = """
import sys, time
from pathlib import Path
from ntrader.cli import main
import ntrader.data.store  # the heavy imports happen before the start line
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.005)
sys.argv = ["ntrader", *sys.argv[3:]]
main()
"""


def test_two_overlapping_imports_at_once_both_succeed_without_duplicates(database_url, tmp_path):
    get_engine(database_url)  # migrated up front: this test is about the import, not the first run
    first = generate_bars("OVLP", "2024-01-01", "2024-06-30", "1-MINUTE")
    second = generate_bars("OVLP", "2024-04-01", "2024-09-30", "1-MINUTE")
    files = []
    for name, bars in (("a", first), ("b", second)):
        path = tmp_path / f"{name}.csv"
        bars.to_csv(path, index_label="timestamp", date_format="%Y-%m-%dT%H:%M:%SZ")
        files.append(path)
    go = tmp_path / "go"
    readies = [tmp_path / f"ready-{i}" for i in range(2)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                DRIVER,
                str(ready),
                str(go),
                "data",
                "import-csv",
                str(path),
                "--symbol",
                "OVLP",
                "--bar-size",
                "1-MINUTE",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ,
        )
        for ready, path in zip(readies, files, strict=True)
    ]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in readies):
        assert time.monotonic() < deadline, "the import processes did not start"
        assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
        time.sleep(0.01)
    go.touch()
    outcomes = [p.communicate(timeout=300) for p in processes]
    for process, (_, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, err
    inserted = sorted(json.loads(out)["inserted"] for out, _ in outcomes)
    union = first.index.union(second.index)
    overlap = first.index.intersection(second.index)
    # One process stored its whole file, the other only the bars the first did not hold.
    assert len(overlap) > 20_000
    assert sum(inserted) == len(union) == count_rows(database_url, "market_data")
    assert inserted[1] in (len(first), len(second))
    assert inserted[0] == len(union) - inserted[1]
    back = read_bars("OVLP", "1-MINUTE", "csv")
    expected = pd.concat([first, second.loc[second.index.difference(first.index)]]).sort_index()
    pd.testing.assert_frame_equal(back, expected, check_freq=False)
    assert Path(files[0]).exists()
