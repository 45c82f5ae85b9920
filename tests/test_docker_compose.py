"""docker-compose.yml is valid (docker-compose itself checks it); .env.example documents every variable."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

DOCUMENTED = (
    "TWS_USERNAME",
    "TWS_PASSWORD",
    "TWS_ACCOUNT",
    "VNC_SERVER_PASSWORD",
    "TWOFA_TIMEOUT_ACTION",
    "RELOGIN_AFTER_TWOFA_TIMEOUT",
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "IBKR_HOST",
    "IBKR_PORT",
    "IBKR_CLIENT_ID",
    "IBKR_TRADING_MODE",
    "IBKR_READ_ONLY",
    "IBKR_RATE_LIMIT",
    "IBKR_MARKET_DATA_TYPE",
    "IBKR_CONNECT_TIMEOUT",
    "IBKR_REQUEST_TIMEOUT",
    "IBKR_MAX_HISTORICAL_REQUESTS_PER_10MIN",
    "DATABASE_URL",
    "NTRADER_HOME",
    "NTRADER_CATALOG",
    "NTRADER_DEFAULT_CAPITAL",
    "NTRADER_RISK_FREE_RATE",
    "NTRADER_LOG_LEVEL",
    "NTRADER_RAY_ADDRESS",
)


def _docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        # In CI a missing docker-compose means the file goes unchecked: fail, don't skip.
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("docker-compose is required under CI=true (apt-get install docker-compose)")
        pytest.skip("docker-compose is not installed")
    return found


def _compose_config(tmp_path: Path, **values: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), **values}
    return subprocess.run(
        [_docker_compose(), "-f", str(COMPOSE), "--project-directory", str(tmp_path), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


CREDENTIALS = {"TWS_USERNAME": "someone", "TWS_PASSWORD": "pw-from-env", "POSTGRES_PASSWORD": "pg-secret"}


def test_compose_file_is_valid_and_wires_the_services(tmp_path: Path) -> None:
    proc = _compose_config(tmp_path, **CREDENTIALS)
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load(proc.stdout)
    services = config["services"]
    # No Redis: nothing in ntrader used it (the file says why).
    assert set(services) == {"ib-gateway", "postgres"}

    gateway = services["ib-gateway"]
    assert gateway["image"].startswith("gnzsnz/ib-gateway")
    # The image reads TWS_USERID; ntrader's variable is TWS_USERNAME.
    environment = gateway["environment"]
    assert environment["TWS_USERID"] == "someone"
    assert environment["TWS_PASSWORD"] == "pw-from-env"
    assert environment["TRADING_MODE"] == "paper"
    assert environment["READ_ONLY_API"] == "yes"
    assert environment["TWOFA_TIMEOUT_ACTION"] == "restart"
    assert environment["RELOGIN_AFTER_TWOFA_TIMEOUT"] == "yes"
    assert "VNC_SERVER_PASSWORD" in environment
    ports = {str(p) for p in gateway["ports"]}
    assert any("127.0.0.1:4002:4004" in p for p in ports), ports
    assert any("127.0.0.1:4001:4003" in p for p in ports), ports
    assert any("127.0.0.1:5900:5900" in p for p in ports), ports

    postgres = services["postgres"]
    assert postgres["image"].startswith("timescale/timescaledb") and "pg16" in postgres["image"]
    assert "healthcheck" in postgres and postgres["volumes"]
    assert postgres["environment"]["POSTGRES_PASSWORD"] == "pg-secret"


def test_trading_mode_and_read_only_have_one_source_ntraders_own(tmp_path: Path) -> None:
    proc = _compose_config(
        tmp_path, **CREDENTIALS, IBKR_TRADING_MODE="live", IBKR_READ_ONLY="no", VNC_SERVER_PASSWORD="vnc-pw"
    )
    assert proc.returncode == 0, proc.stderr
    environment = yaml.safe_load(proc.stdout)["services"]["ib-gateway"]["environment"]
    assert environment["TRADING_MODE"] == "live"
    assert environment["READ_ONLY_API"] == "no"
    assert environment["VNC_SERVER_PASSWORD"] == "vnc-pw"
    assert "TRADING_MODE=" not in ENV_EXAMPLE.read_text().replace("IBKR_TRADING_MODE=", "")
    assert "READ_ONLY_API=" not in ENV_EXAMPLE.read_text()


def test_ntrader_reads_the_read_only_value_the_container_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    from ntrader.config import get_settings

    for value, expected in (("yes", True), ("no", False)):
        monkeypatch.setenv("IBKR_READ_ONLY", value)
        get_settings.cache_clear()
        assert get_settings().ibkr.read_only is expected


@pytest.mark.parametrize("missing", sorted(CREDENTIALS))
def test_empty_credentials_fail_fast_naming_the_variable(tmp_path: Path, missing: str) -> None:
    proc = _compose_config(tmp_path, **{**CREDENTIALS, missing: ""})
    assert proc.returncode != 0
    assert f"set {missing} in .env" in proc.stderr


def test_env_example_documents_every_variable() -> None:
    text = ENV_EXAMPLE.read_text()
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    missing = [name for name in DOCUMENTED if name not in names]
    assert not missing, missing
    # Placeholders only: a real password must never be committed.
    assert re.search(r"^TWS_PASSWORD=change-me$", text, flags=re.MULTILINE)
    compose_vars = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE.read_text()))
    undocumented = sorted(v for v in compose_vars - names if v not in {"TWS_ACCEPT_INCOMING", "TIME_ZONE"})
    assert not undocumented, undocumented
