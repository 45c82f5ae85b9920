"""Load a user's strategy from `path/to/file.py:ClassName` or `package.module:ClassName`."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import traceback
import typing
from pathlib import Path
from types import ModuleType

from nautilus_trader.config import StrategyConfig
from nautilus_trader.trading.strategy import Strategy

from ntrader.errors import InputError, NotFoundError
from ntrader.strategies.signals import vector_signals_of
from ntrader.strategies.spec import StrategySpec


def is_user_reference(name: str) -> bool:
    return ":" in name


def load_user_strategy(reference: str) -> StrategySpec:
    """The strategy class named by `reference`, with its config class, as a StrategySpec."""
    target, _, class_name = reference.rpartition(":")
    if not target or not class_name:
        raise InputError(f"user strategy must look like path/to/file.py:ClassName, got {reference!r}")
    module = _load_file(Path(target)) if target.endswith(".py") else _load_module(target)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise NotFoundError(f"{target} has no class {class_name!r}")
    if not (inspect.isclass(cls) and issubclass(cls, Strategy)):
        raise InputError(f"{reference} is not a subclass of nautilus_trader.trading.strategy.Strategy")
    config_class = find_config_class(cls)
    # A portfolio strategy sees every symbol: its config names no single instrument.
    portfolio = bool(getattr(cls, "is_portfolio", False))
    for required in () if portfolio else ("instrument_id", "bar_type"):
        if required not in config_class.__struct_fields__:
            raise InputError(
                f"{config_class.__name__} needs an {required!r} field: subclass "
                "ntrader.strategies.SignalStrategyConfig (or add instrument_id and bar_type)"
            )
    doc = inspect.getdoc(cls) or ""
    return StrategySpec(
        name=reference,
        strategy_class=cls,
        config_class=config_class,
        description=doc.splitlines()[0] if doc else f"User strategy {class_name}",
        rule=doc,
        signals=vector_signals_of(cls),
    )


def find_config_class(cls: type[Strategy]) -> type[StrategyConfig]:
    """The config class: a `config_class` attribute, else the annotation of `__init__`'s config (a
    portfolio strategy: first its class annotation `config: MyConfig`, as its docs show)."""
    explicit = getattr(cls, "config_class", None)
    if inspect.isclass(explicit) and issubclass(explicit, StrategyConfig):
        return explicit
    if getattr(cls, "is_portfolio", False):
        try:
            declared = typing.get_type_hints(cls).get("config")
        except Exception:
            declared = None
        if inspect.isclass(declared) and issubclass(declared, StrategyConfig):
            return declared
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable forward references: fall through to the error below
        hints = {}
    annotated = hints.get("config")
    if inspect.isclass(annotated) and issubclass(annotated, StrategyConfig):
        return annotated
    raise InputError(
        f"cannot find the config class of {cls.__name__}: annotate __init__(self, config: MyConfig) "
        "or set config_class = MyConfig on the class"
    )


def _load_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise NotFoundError(f"strategy file not found: {path}")
    resolved = path.resolve()
    # A stable module name per file, so worker processes can import the same file again.
    name = "ntrader_user_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise InputError(_describe_import_error(exc, resolved), file=str(path)) from exc
    return module


def _load_module(dotted: str) -> ModuleType:
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as exc:
        if exc.name and dotted.startswith(exc.name):
            raise NotFoundError(f"strategy module not found: {dotted}") from exc
        raise InputError(f"importing {dotted} failed: {exc}") from exc
    except Exception as exc:
        module_file = importlib.util.find_spec(dotted.split(".")[0])
        origin = Path(module_file.origin) if module_file and module_file.origin else None
        raise InputError(f"importing {dotted} failed: {_describe_import_error(exc, origin)}") from exc


def _describe_import_error(exc: BaseException, path: Path | None) -> str:
    """`line N: SyntaxError: …`, pointing at the user's own line rather than ours."""
    if isinstance(exc, SyntaxError):
        return f"line {exc.lineno}: SyntaxError: {exc.msg}"
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if path is not None and Path(frame.filename).resolve() == path:
            line = frame.lineno
    where = f"line {line}: " if line is not None else ""
    return f"{where}{type(exc).__name__}: {exc}"


def describe_raised(exc: BaseException, strategy_class: type) -> str:
    """`ZeroDivisionError: … (at my_strategy.py:12 in on_bar)`: the exception and where in the
    strategy's own file it was raised (the deepest such frame), so a user goes straight to the line."""
    try:
        source = Path(inspect.getsourcefile(strategy_class) or "").resolve()
    except (TypeError, OSError):
        source = None
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if source is not None and Path(f.filename).resolve() == source]
    where = f" (at {Path(own[-1].filename).name}:{own[-1].lineno} in {own[-1].name})" if own else ""
    return f"{type(exc).__name__}: {exc}{where}"
