"""Settings read from the environment and `.env`; nothing is built until `get_settings()` asks."""

from __future__ import annotations

import logging
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ntrader.errors import InputError

__all__ = ["IBKRSettings", "Settings", "SettingsError", "get_settings", "mask_url"]


class SettingsError(InputError):
    """An environment (or `.env`) value that does not fit its setting; names the variable."""


def _load(model: type[BaseSettings], prefix: str) -> BaseSettings:
    """Build a settings model; a bad value becomes one line naming the variable, its value and why."""
    try:
        return model()
    except ValidationError as exc:
        error = exc.errors()[0]
        field_name = str(error["loc"][0]) if error["loc"] else "?"
        aliases = {info.alias for info in model.model_fields.values() if info.alias}
        info = model.model_fields.get(field_name)
        if field_name in aliases:  # pydantic reports aliased fields by their alias: the variable
            variable = field_name
        elif info is not None and info.alias:
            variable = info.alias
        else:
            variable = prefix + field_name
        variable = variable.upper()
        reason = str(error["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"environment variable {variable}={error.get('input')!r}: {reason}") from None


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _default_home() -> Path:
    return Path.home() / ".local" / "share" / "ntrader"


class IBKRSettings(BaseSettings):
    """Where IB Gateway/TWS listens and how hard ntrader may talk to it (the seed plan's names)."""

    # An empty value (`IBKR_HOST=` as .env.example leaves it) means "not set": the default applies.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    host: str = Field("127.0.0.1", alias="IBKR_HOST")
    port: int = Field(7497, alias="IBKR_PORT")
    client_id: int = Field(1, alias="IBKR_CLIENT_ID")
    trading_mode: str = Field("paper", alias="IBKR_TRADING_MODE")
    read_only: bool = Field(True, alias="IBKR_READ_ONLY")
    rate_limit: int = Field(45, alias="IBKR_RATE_LIMIT")
    market_data_type: str = Field("REALTIME", alias="IBKR_MARKET_DATA_TYPE")
    connect_timeout: float = Field(10.0, alias="IBKR_CONNECT_TIMEOUT")
    request_timeout: float = Field(60.0, alias="IBKR_REQUEST_TIMEOUT")
    max_historical_requests_per_10min: int = Field(60, alias="IBKR_MAX_HISTORICAL_REQUESTS_PER_10MIN")
    username: str | None = Field(None, alias="TWS_USERNAME")
    password: SecretStr | None = Field(None, alias="TWS_PASSWORD")
    account: str | None = Field(None, alias="TWS_ACCOUNT")

    @field_validator("trading_mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        value = value.lower()
        if value not in {"paper", "live"}:
            raise ValueError("IBKR_TRADING_MODE must be 'paper' or 'live'")
        return value

    @field_validator("market_data_type")
    @classmethod
    def _mdt(cls, value: str) -> str:
        value = value.upper()
        if value not in {"REALTIME", "DELAYED", "DELAYED_FROZEN"}:
            raise ValueError("IBKR_MARKET_DATA_TYPE must be REALTIME, DELAYED or DELAYED_FROZEN")
        return value


class Settings(BaseSettings):
    """ntrader's own settings: `NTRADER_*` variables, plus `DATABASE_URL` under its usual name."""

    model_config = SettingsConfigDict(
        env_prefix="NTRADER_", env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    home: Path = Field(default_factory=_default_home)
    database_url: str | None = Field(None, alias="DATABASE_URL")
    catalog: Path | None = None
    default_capital: float = 100_000.0
    #: Level of ntrader's own log (the `ntrader.*` loggers, e.g. the IB client's), applied when the
    #: settings are read. The Nautilus engine's log is `--verbose`.
    log_level: str = "WARNING"
    risk_free_rate: float = 0.0

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in LOG_LEVELS:
            raise ValueError(f"use one of {', '.join(LOG_LEVELS)}")
        return value

    @property
    def resolved_database_url(self) -> str:
        """The URL in use: `DATABASE_URL`, else a SQLite file in `NTRADER_HOME`."""
        if self.database_url:
            url = self.database_url
            # Users copy URLs from docker-compose or Heroku; psycopg 3 is the driver we ship.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{self.home / 'ntrader.db'}"

    @property
    def catalog_path(self) -> Path:
        return self.catalog or self.home / "catalog"

    @cached_property
    def ibkr(self) -> IBKRSettings:
        return _load(IBKRSettings, "IBKR_")  # type: ignore[return-value]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; `get_settings.cache_clear()` rereads them."""
    settings: Settings = _load(Settings, "NTRADER_")  # type: ignore[assignment]
    logging.getLogger("ntrader").setLevel(settings.log_level)
    return settings


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, safe to print."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"
