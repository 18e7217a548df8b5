"""Cost of an LLM call from a pricing table (USD per million tokens).

The bundled table (pricing.json, dated) can be overridden per model by a user file (JSON, or YAML with
PyYAML) or a dict given to ``init(pricing=...)``. Models are matched by exact name, then by dated-snapshot
suffix (``gpt-4o-2024-08-06`` -> ``gpt-4o``). An unknown model gets no cost (never a guess) and is counted.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from .. import diagnostics
from ..config import ConfigError, MissingExtra

# Suffixes that mark a dated snapshot or alias of a base model, not a different model.
_SNAPSHOT = re.compile(
    r"(?:[-@](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|\d{3}|latest|v\d+(?::\d+)?|preview(?:-\d{2}-\d{2}|-\d{2}-\d{4})?|\d{2}-\d{2}))+$"
)


@dataclass(frozen=True)
class Price:
    """USD per million tokens; cache prices fall back to the input price when a provider has none."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    provider: str | None = None

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> float:
        """``input_tokens`` includes the cached ones (as gen_ai.usage.input_tokens does)."""
        uncached = max(input_tokens - cache_read - cache_write, 0)
        cr = self.input if self.cache_read is None else self.cache_read
        cw = self.input if self.cache_write is None else self.cache_write
        return (uncached * self.input + cache_read * cr + cache_write * cw + output_tokens * self.output) / 1e6


def _number(where: str, value: Any, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise ConfigError(where, value, "expected a finite non-negative number of USD per million tokens")
    return float(value)


def parse_table(models: Any, source: str) -> dict[str, Price]:
    """Validate ``{model: {input, output, cache_read?, cache_write?, provider?}}``."""
    if not isinstance(models, Mapping):
        raise ConfigError(source, type(models).__name__, "expected a mapping of model name to prices")
    table: dict[str, Price] = {}
    for name, entry in models.items():
        where = f"{source}[{name!r}]"
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(source, name, "model names must be non-empty strings")
        if not isinstance(entry, Mapping):
            raise ConfigError(where, entry, "expected a mapping with input and output prices")
        unknown = set(entry) - {"input", "output", "cache_read", "cache_write", "provider"}
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}", entry[sorted(unknown)[0]], "unknown price field")
        table[name.strip().lower()] = Price(
            input=_number(f"{where}.input", entry.get("input"), False),  # type: ignore[arg-type]
            output=_number(f"{where}.output", entry.get("output"), False),  # type: ignore[arg-type]
            cache_read=_number(f"{where}.cache_read", entry.get("cache_read"), True),
            cache_write=_number(f"{where}.cache_write", entry.get("cache_write"), True),
            provider=entry.get("provider"),
        )
    return table


def _read_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("pricing", str(path), f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError("pricing", str(path), "not a text file (expected UTF-8 JSON or YAML)") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml  # optional extra: otel-agentkit[yaml]

            return yaml.safe_load(text)
        return json.loads(text)
    except ImportError:
        raise MissingExtra("pricing", str(path), "yaml", "PyYAML to read a YAML file (or use a .json file)") \
            from None
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ConfigError("pricing", str(path), f"not valid {path.suffix.lstrip('.') or 'JSON'}: {first}") from None


def _models_of(data: Any, source: str) -> Any:
    """A file or dict may be the full document (with "models") or just the models mapping."""
    if isinstance(data, Mapping) and isinstance(data.get("models"), Mapping):
        return data["models"]
    return data


def bundled() -> tuple[dict[str, Price], str]:
    """The bundled table and its as-of date."""
    data = json.loads(resources.files(__package__).joinpath("pricing.json").read_text())
    return parse_table(data["models"], "bundled pricing"), str(data.get("as_of", "unknown"))


class Pricing:
    """Looks up prices with a cache of resolved names; unknown models are counted, logged once each."""

    def __init__(self, override: Any = None) -> None:
        self.table, self.as_of = bundled()
        if override is not None:
            if isinstance(override, (str, Path)):
                user = parse_table(_models_of(_read_file(Path(override).expanduser()), "pricing"), "pricing")
            else:
                user = parse_table(_models_of(override, "pricing"), "pricing")
            self.table.update(user)
        self._resolved: dict[str, Price | None] = {}
        self._lock = threading.Lock()
        self.unpriced: Counter[str] = Counter()

    def lookup(self, model: str | None) -> Price | None:
        if not model:
            return None
        try:
            return self._resolved[model]
        except KeyError:
            pass
        key = model.strip().lower()
        price = self.table.get(key)
        if price is None:
            base = _SNAPSHOT.sub("", key)
            price = self.table.get(base) if base != key else None
        if len(self._resolved) < 10000:
            self._resolved[model] = price
        return price

    def cost(self, model: str | None, input_tokens: int, output_tokens: int, cache_read: int = 0,
             cache_write: int = 0) -> float | None:
        """USD for the call, or None (counted) when the model is not in the table."""
        price = self.lookup(model)
        if price is None:
            with self._lock:
                self.unpriced[model or "<none>"] += 1
                first = self.unpriced[model or "<none>"] == 1
            if first:
                diagnostics.logger.info("otel_agentkit: no price for model %r; its cost is left out", model)
            return None
        return price.cost(input_tokens, output_tokens, cache_read, cache_write)
