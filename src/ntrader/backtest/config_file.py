"""Backtest configs in YAML: one validated model, errors that name the field and its line."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ntrader.errors import InputError, NotFoundError, NtraderError

if TYPE_CHECKING:
    from ntrader.backtest.request import BacktestRequest


class RunConfig(BaseModel):
    """Everything `backtest run` takes, as a file that can be versioned and rerun: the pydantic
    face of `BacktestRequest` (`to_request()`), field for field.

    A relative `csv_file` is read relative to the config file's folder.
    """

    model_config = ConfigDict(extra="forbid")

    strategy: str
    params: dict[str, Any] = Field(default_factory=dict)
    #: One symbol, or several (a portfolio run): "SPY,TLT" or a YAML list.
    symbol: str
    start: date | None = None
    end: date | None = None
    data_source: Literal["mock", "csv", "ibkr"] = "mock"
    bar_size: str = "1-DAY"
    capital: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    commission: str = "ibkr-fixed"
    fill_at: Literal["close", "next-open"] = "close"
    liquidity: Literal["bar-volume", "unlimited"] = "bar-volume"
    adjust: Literal["raw", "splits", "total-return"] = "splits"
    csv_file: Path | None = None
    no_fetch: bool = False
    allocation: Literal["equal", "inverse-vol"] = "equal"
    benchmark: str | None = None

    def request_options(self) -> dict[str, Any]:
        """The fields as `BacktestRequest.build` keywords (strategy, symbol, start, end apart)."""
        return self.model_dump(exclude={"strategy", "symbol", "start", "end"}, exclude_none=True)

    def to_request(self, database_url: str | None = None) -> BacktestRequest:
        from ntrader.backtest.request import BacktestRequest

        options = {**self.request_options(), "database_url": database_url}
        return BacktestRequest.build(self.strategy, self.symbol, self.start, self.end, **options)

    @field_validator("symbol", mode="before")
    @classmethod
    def _symbol(cls, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ",".join(value)
        if not isinstance(value, str):
            return value  # pydantic says what is wrong with it
        text = value
        if not text.strip():
            raise ValueError("must not be empty")
        return text.strip().upper()


def _key_lines(node: yaml.Node, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Line number (1-based) of every mapping key, by its path."""
    lines: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            lines[path] = key.start_mark.line + 1
            lines.update(_key_lines(value, path))
    return lines


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so pydantic checks them (2024-02-30 is then a field
    error with its line, not a ValueError from inside PyYAML)."""


_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

#: A run config is a few lines; anything this large is the wrong file.
MAX_CONFIG_BYTES = 1_000_000


def _read_text(file: Path) -> str:
    raw = file.read_bytes()
    if len(raw) > MAX_CONFIG_BYTES:
        raise InputError(f"too large for a run config ({len(raw):,} bytes)", file=str(file))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
            file=str(file),
        ) from None


def _refuse_aliases(text: str, file: Path) -> None:
    """Aliases (*name) are refused before anything is built: a recursive one never ends and nested
    ones ("billion laughs") grow exponentially; a run config has no use for them."""
    for event in yaml.parse(text, Loader=_ConfigLoader):
        if isinstance(event, yaml.AliasEvent):
            line = f"line {event.start_mark.line + 1}: " if event.start_mark is not None else ""
            raise InputError(
                f"{line}YAML aliases (*{event.anchor}) are not supported in run configs",
                file=str(file),
            )


def load_run_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run config, including the strategy and its parameters."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"config file not found: {file}")
    text = _read_text(file)
    try:
        _refuse_aliases(text, file)
        root = yaml.compose(text, Loader=_ConfigLoader)
        data = yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{line}not valid YAML: {problem}", file=str(file)) from None
    if not isinstance(data, dict) or root is None:
        raise InputError("expected a mapping of fields (strategy, symbol, …)", file=str(file))
    lines = _key_lines(root)
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(str(part) for part in error["loc"])
        line_no = next((lines[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in lines), None)
        field = ".".join(loc) or "config"
        where = f"line {line_no}: " if line_no is not None else ""
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        if error["type"] == "missing":
            message = "required field is missing"
        raise InputError(f"{where}field {field!r}: {message}", file=str(file)) from None
    if config.csv_file is not None and not config.csv_file.is_absolute():
        config = config.model_copy(update={"csv_file": file.parent / config.csv_file})
    _check_semantics(config, lines, file)
    return config


def _check_semantics(config: RunConfig, lines: dict[tuple[str, ...], int], file: Path) -> None:
    """What pydantic cannot know: the strategy exists, its params fit, the dates make sense."""
    try:
        config.to_request()
    except NtraderError as exc:
        field = exc.field
        line = lines.get((field,)) if field else None
        where = f"line {line}: " if line is not None else ""
        raise InputError(f"{where}field {field!r}: {exc}" if field else str(exc), file=str(file)) from None


def dump_run_config(config: RunConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json", exclude_none=True), sort_keys=False)
