"""Settings: defaults, environment overrides, and secrets that never show."""

from __future__ import annotations

from pathlib import Path

import pytest

from ntrader.config import get_settings, mask_url


def test_default_database_is_a_sqlite_file_in_ntrader_home(isolated_home: Path):
    settings = get_settings()
    assert settings.resolved_database_url == f"sqlite:///{isolated_home / 'ntrader.db'}"
    assert settings.default_capital == 100_000
    assert settings.catalog_path == isolated_home / "catalog"


def test_settings_are_read_once_and_cached(monkeypatch: pytest.MonkeyPatch):
    first = get_settings()
    monkeypatch.setenv("NTRADER_DEFAULT_CAPITAL", "5000")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().default_capital == 5000


def test_postgres_urls_get_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/ntrader")
    get_settings.cache_clear()
    assert get_settings().resolved_database_url == "postgresql+psycopg://u:p@db:5432/ntrader"


def test_dotenv_file_is_read(tmp_path: Path):
    (tmp_path / ".env").write_text("NTRADER_LOG_LEVEL=DEBUG\nIBKR_PORT=4002\n")
    get_settings.cache_clear()
    assert get_settings().log_level == "DEBUG"
    assert get_settings().ibkr.port == 4002


def test_password_is_masked(monkeypatch: pytest.MonkeyPatch):
    assert mask_url("postgresql+psycopg://u:secret@h:5/db") == "postgresql+psycopg://u:***@h:5/db"
    monkeypatch.setenv("TWS_PASSWORD", "tws-secret")
    get_settings.cache_clear()
    ibkr = get_settings().ibkr
    assert "tws-secret" not in repr(ibkr) and "tws-secret" not in str(ibkr)
    assert ibkr.password is not None and ibkr.password.get_secret_value() == "tws-secret"


def test_bad_trading_mode_is_rejected_naming_the_variable(monkeypatch: pytest.MonkeyPatch):
    from ntrader.config import SettingsError

    monkeypatch.setenv("IBKR_TRADING_MODE", "casino")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="IBKR_TRADING_MODE='casino': IBKR_TRADING_MODE must be 'paper'"):
        _ = get_settings().ibkr


def test_log_level_is_honoured_and_checked(monkeypatch: pytest.MonkeyPatch):
    import logging

    from ntrader.config import SettingsError

    monkeypatch.setenv("NTRADER_LOG_LEVEL", "debug")
    get_settings.cache_clear()
    assert get_settings().log_level == "DEBUG"
    assert logging.getLogger("ntrader.ibkr.client").getEffectiveLevel() == logging.DEBUG
    monkeypatch.setenv("NTRADER_LOG_LEVEL", "chatty")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="NTRADER_LOG_LEVEL='chatty': use one of DEBUG"):
        get_settings()
    logging.getLogger("ntrader").setLevel(logging.NOTSET)
