"""Usage records: one per llm span read back from the telemetry files; there is no second usage log.

An llm span is one whose ``gen_ai.operation.name`` is an inference operation (chat, text_completion,
generate_content). Spans written by other instrumentations are read too: older attribute names are used
when the current one is absent, and a call without a recorded cost is priced from the pricing table.

What the figures count: each span once, however many files or sources hold it (the reader's ``unique``);
a span with a value no real call has (a time OTLP cannot carry, a token count above MAX_TOKENS or
infinite, a recorded cost above MAX_COST_USD or infinite) is left out and counted in ReadSummary.bad_spans,
so one bad span never stops or skews a report.
"""

from __future__ import annotations

import datetime as dt
import linecache
import os
from dataclasses import dataclass, field, fields
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable, Collection, Iterator, NamedTuple, Sequence, Union

from .. import semconv as sc
from ..export.reader import ReadStats, SpanColumns, SpanRecord, columns_of, iter_span_columns, list_files
from .timeparse import Window

Source = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]
Progress = Callable[[int, int], None]
"""Called with (files started, files in total) as a read moves from file to file."""

_INFERENCE = sc.INFERENCE_OPERATIONS

MAX_TOKENS = 10**12
"""No call has used a trillion tokens of one kind (context windows are millions). Past this a count is a
fault, and summing it would swamp every figure (and a 400-digit one overflows the float conversions)."""
MAX_COST_USD = 1e9
"""No call has cost a billion dollars; past this a recorded cost is a fault."""


class BadSpan(ValueError):
    """An llm span with a value no real call has: left out of every figure, counted in bad_spans."""


@dataclass(slots=True)
class UsageRecord:
    """One LLM call. Token counts are 0 when not recorded; ``input_tokens`` includes cached tokens.

    Not frozen on purpose: a frozen dataclass's __init__ costs ten times more, paid once per call read.
    """

    start_ns: int
    duration_s: float
    trace_id: str
    span_id: str
    operation: str
    provider: str | None
    model: str | None  # the requested model (the response model when no request model was recorded)
    response_model: str | None
    workflow: str | None
    agent: str | None
    stage: str | None
    tier: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float | None
    cost_source: str | None  # "recorded" (on the span) | "table" (priced here) | "failed" (no usage) | None
    ok: bool
    error_type: str | None
    user: str | None  # enduser.pseudo.id: already a salted hash, never the raw id
    prompt_name: str | None
    prompt_format: str | None
    retries: int | None
    parse_success: bool | None
    validation_success: bool | None
    service: str | None
    sampling_ratio: float | None = None  # recorded under ratio sampling: this call stands for 1/ratio calls

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.start_ns / 1e9, dt.timezone.utc)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def as_dict(self, tz: dt.tzinfo = dt.timezone.utc) -> dict[str, Any]:
        """Plain values for CSV/JSON: the start as an ISO time in ``tz`` first."""
        out: dict[str, Any] = {"time": self.start.astimezone(tz).isoformat(timespec="milliseconds")}
        for f in RECORD_FIELDS:
            out[f] = getattr(self, f)
        return out


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(UsageRecord))


def _count(value: Any) -> int:
    """A token count from an attribute: ints as they are; anything that is not a number (a string, NaN, a
    list) counts as 0, a negative number as 0; a number above MAX_TOKENS (or infinite) is BadSpan."""
    if type(value) is int:
        if value > MAX_TOKENS:
            raise BadSpan(f"token count {value} above {MAX_TOKENS}")
        return value if value > 0 else 0
    if value is None or isinstance(value, bool):
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0
    if number != number:
        return 0
    if number > MAX_TOKENS:
        raise BadSpan(f"token count {value!r} above {MAX_TOKENS}")
    return int(number) if number > 0 else 0


def _opt_int(value: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    if isinstance(value, bool):
        return int(value)
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


_MAX_RETRIES = 10**9


def _retries(value: Any) -> int | None:
    """A retry count; None when unusable, out of any real range included (it is not worth a bad span)."""
    number = _opt_int(value)
    return number if number is not None and -_MAX_RETRIES <= number <= _MAX_RETRIES else None


def _opt_bool(value: Any) -> bool | None:
    if value is None or type(value) is bool:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        return None
    if isinstance(value, (int, float)):
        return bool(value)
    return None


def _text(value: Any) -> str | None:
    """An attribute as text: a string as it is (empty included), None as None, anything else as str()."""
    return value if value is None or type(value) is str else str(value)


def _cost(value: Any) -> float | None:
    """A recorded cost: None when absent or not a usable number (NaN, negative: the call is then priced
    from the table); BadSpan above MAX_COST_USD or infinite."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    except OverflowError:  # an int too large for a float
        raise BadSpan(f"cost {value} above {MAX_COST_USD:g} USD") from None
    if number > MAX_COST_USD:
        raise BadSpan(f"cost {value!r} above {MAX_COST_USD:g} USD")
    return number if number >= 0 else None  # NaN is not >= 0


def _ratio(value: Any) -> float | None:
    """A sampling ratio in (0, 1); anything else (1, NaN, another writer's junk) means not sampled."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0.0 < value < 1.0 else None


_FORMATS: dict[str, str] = {}  # the prompt formats seen, as written -> normalised (a handful per source)


def _format(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower() or None
    if text is not None and type(value) is str and len(_FORMATS) < 256:
        _FORMATS[value] = text
    return text


def _prompt_format(value: Any) -> str | None:
    """A prompt format, normalised (stripped, lower case); the usual ones from the cache of those seen."""
    return (_FORMATS.get(value) or _format(value)) if type(value) is str else _format(value)


def is_llm_span(span: SpanRecord) -> bool:
    operation = span.attributes.get(sc.GEN_AI_OPERATION_NAME)
    return type(operation) is str and operation in _INFERENCE


class Convert(NamedTuple):
    """How an attribute value becomes a field value: ``func`` takes any value another writer may have put
    there; ``inline`` does the same as one statement on ``{v}`` (never None) that leaves the usual values as
    they are without a call (from_columns runs once per call read, over files of any size)."""

    func: Callable[[Any], Any]
    inline: str


COUNT = Convert(_count, "if type({v}) is not int or not 0 <= {v} <= MAX_TOKENS: {v} = _count({v})")
TEXT = Convert(_text, "if type({v}) is not str: {v} = _text({v})")
COST = Convert(_cost, "if type({v}) is not float or not 0 <= {v} <= MAX_COST_USD: {v} = _cost({v})")
RETRIES = Convert(_retries, "if type({v}) is not int or not -_MAX_RETRIES <= {v} <= _MAX_RETRIES: {v} = _retries({v})")
FLAG = Convert(_opt_bool, "if type({v}) is not bool: {v} = _opt_bool({v})")
FORMAT = Convert(_prompt_format, "{v} = (_FORMATS.get({v}) or _format({v})) if type({v}) is str else _format({v})")
RATIO = Convert(_ratio, "{v} = _ratio({v})")


class Column(NamedTuple):
    """A UsageRecord field read from span attributes: the first of ``keys`` the span has (the current name,
    then the older names files may hold), through ``convert`` (``convert.func(None)`` when it has none)."""

    field: str
    keys: tuple[str, ...]
    convert: Convert


COLUMNS: tuple[Column, ...] = (
    Column("operation", (sc.GEN_AI_OPERATION_NAME,), TEXT),
    Column("provider", (sc.GEN_AI_PROVIDER_NAME, sc.LEGACY_GEN_AI_SYSTEM), TEXT),
    Column("model", (sc.GEN_AI_REQUEST_MODEL,), TEXT),  # the response model when empty: see from_columns
    Column("response_model", (sc.GEN_AI_RESPONSE_MODEL,), TEXT),
    Column("workflow", (sc.AGENTKIT_WORKFLOW_NAME, sc.GEN_AI_WORKFLOW_NAME), TEXT),
    Column("agent", (sc.GEN_AI_AGENT_NAME, sc.AGENTKIT_AGENT_NAME), TEXT),
    Column("stage", (sc.AGENTKIT_STAGE,), TEXT),
    Column("tier", (sc.AGENTKIT_TIER,), TEXT),
    Column("input_tokens", (sc.GEN_AI_USAGE_INPUT_TOKENS, sc.LEGACY_USAGE_PROMPT_TOKENS), COUNT),
    Column("output_tokens", (sc.GEN_AI_USAGE_OUTPUT_TOKENS, sc.LEGACY_USAGE_COMPLETION_TOKENS), COUNT),
    Column("cache_read_tokens", (sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,), COUNT),
    Column("cache_write_tokens", (sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
                                  sc.LEGACY_USAGE_CACHE_CREATION_INPUT_TOKENS), COUNT),
    Column("reasoning_tokens", (sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,), COUNT),
    Column("cost_usd", (sc.AGENTKIT_COST_USD,), COST),
    Column("error_type", (sc.ERROR_TYPE,), TEXT),
    Column("user", (sc.ENDUSER_PSEUDO_ID,), TEXT),
    Column("prompt_name", (sc.GEN_AI_PROMPT_NAME, sc.AGENTKIT_PROMPT_NAME), TEXT),
    Column("prompt_format", (sc.AGENTKIT_PROMPT_FORMAT,), FORMAT),
    Column("retries", (sc.AGENTKIT_RETRIES,), RETRIES),
    Column("parse_success", (sc.AGENTKIT_PARSE_SUCCESS,), FLAG),
    Column("validation_success", (sc.AGENTKIT_VALIDATION_SUCCESS,), FLAG),
    Column("sampling_ratio", (sc.AGENTKIT_SAMPLING_RATIO,), RATIO),
)
"""The usage record's attribute fields: the one place that says which attribute feeds which field.

Files written with either name set are read: the workflow is ``agentkit.workflow.name`` (v0.1.0 has no
workflow attribute on child spans; the SDK carries it there) else ``gen_ai.workflow.name`` (pre-release
files); the agent ``gen_ai.agent.name`` else ``agentkit.agent.name``; the prompt ``gen_ai.prompt.name`` else
``agentkit.prompt.name`` (pre-release files)."""

USAGE_KEYS: tuple[str, ...] = tuple(key for column in COLUMNS for key in column.keys)
"""The span attributes a usage record is made of (what UsageReader reads), in COLUMNS' order."""

SPAN_FIELDS = ("start_ns", "duration_s", "trace_id", "span_id", "service")
"""The fields taken from the span itself (times, ids, resource), not from its attributes."""
SETTLED_FIELDS: dict[str, Any] = {"cost_source": "recorded", "ok": True}
"""The fields settled once the columns are read (see _settle); their value when nothing changes them."""

_SERVICE = sc.RESOURCE_SERVICE_NAME
_USAGE = itemgetter(*(USAGE_KEYS.index(key) for column in COLUMNS if column.field in ("input_tokens", "output_tokens")
                      for key in column.keys))
_NO_USAGE = (None,) * len(_USAGE(USAGE_KEYS))

_FROM_COLUMNS = '''\
def from_columns(span: SpanColumns, pricing: Any = None) -> UsageRecord | None:
    {slots}, = span.values
    if type(operation) is not str or operation not in _INFERENCE:  # not hashable, even, from another writer
        return None
{columns}
    start_ns, end_ns, service = span.start_ns, span.end_ns, span.resource.get(_SERVICE)
    duration_s = (end_ns - start_ns) / 1e9 if end_ns > start_ns else 0.0
    trace_id, span_id = span.trace_id, span.span_id
    if service is not None and type(service) is not str:
        service = _text(service)
    record = UsageRecord({fields})
    if cost_usd is None or error_type is not None or span.status == "ERROR":
        _settle(record, span, pricing)
    if not model:
        record.model = response_model
    return record
'''
"""from_columns, less its column reading, which _compile fills in from COLUMNS."""


def _compile(columns: Sequence[Column]) -> Callable[[SpanColumns, Any], UsageRecord | None]:
    """from_columns: _FROM_COLUMNS with every field of COLUMNS read and passed to UsageRecord by name."""
    fields = [c.field for c in columns] + list(SPAN_FIELDS) + list(SETTLED_FIELDS)
    if sorted(fields) != sorted(RECORD_FIELDS) or len(set(USAGE_KEYS)) != len(USAGE_KEYS):
        raise TypeError(f"COLUMNS, SPAN_FIELDS and SETTLED_FIELDS must name each UsageRecord field once, and "
                        f"COLUMNS each attribute key once: {sorted(fields)} against {sorted(RECORD_FIELDS)}")
    args = (name if name not in SETTLED_FIELDS else repr(SETTLED_FIELDS[name]) for name in RECORD_FIELDS)
    return compile_columns(_FROM_COLUMNS.replace("{fields}", ", ".join(args)), "from_columns", columns)


def compile_columns(template: str, name: str, columns: Sequence[Column] = COLUMNS,
                    fields: Collection[str] | None = None, names: dict[str, Any] | None = None) -> Callable[..., Any]:
    """The function ``name`` defined by ``template``, whose ``{slots}`` becomes the names of the span's
    value slots (each column's field, then ``field_1``... for its older keys) and ``{columns}`` the reading
    of ``fields`` (all columns when None): the current key, then the older ones, through the converter's
    inline statement. ``names``: globals the template uses besides this module's.

    Generated, not a loop over the table: a loop costs more than the whole conversion (4.4 against 1.9 us a
    call read, over the seed of bench/analytics.py), and this hot path is what a hand-written reader would
    be. A reader that needs only some fields (analytics.summary) converts only those, with the very
    statements from_columns runs. The source shows in tracebacks (linecache);
    tests/analytics/test_records_columns.py holds each converter's inline statement to its function."""
    slots, lines = [], []
    for column in columns:
        field_, empty = column.field, column.convert.func(None)
        slots += [field_] + [f"{field_}_{i}" for i in range(1, len(column.keys))]
        if field_ == "operation" or (fields is not None and field_ not in fields):
            continue  # the operation is checked by the template: an inference operation, a str
        for i in range(1, len(column.keys)):  # the older names, when the current one is absent
            lines += [f"    if {field_} is None:", f"        {field_} = {field_}_{i}"]
        inline = column.convert.inline.format(v=field_)
        if empty is None:
            lines += [f"    if {field_} is not None:", f"        {inline}"]
        else:
            lines += [f"    if {field_} is None:", f"        {field_} = {empty!r}", "    else:", f"        {inline}"]
    source = template.replace("{slots}", ", ".join(slots)).replace("{columns}", "\n".join(lines))
    filename = f"<otel_agentkit.analytics.records.{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {}
    # this module's globals, so that what reads them (tests that patch them included) reads the live ones; a
    # copy of them only when the template needs names of its own
    scope = {**globals(), **names} if names else globals()
    exec(compile(source, filename, "exec"), scope, namespace)  # our own table's code, never input
    return namespace[name]


def _settle(record: UsageRecord, span: SpanColumns, pricing: Any) -> None:
    """Cost and outcome of a call that failed or recorded no cost: priced from the table when it reported
    token counts; a failed call that reported none was not billed."""
    reported = _USAGE(span.values) != _NO_USAGE
    if record.cost_usd is None:
        record.cost_source = None
        if pricing is not None and reported:
            price = pricing.lookup(record.response_model) or pricing.lookup(record.model)
            if price is not None:
                record.cost_usd = price.cost(record.input_tokens, record.output_tokens, record.cache_read_tokens,
                                             record.cache_write_tokens)
                record.cost_source = "table"
    if record.error_type is not None:
        record.ok = False
    elif span.status == "ERROR":
        record.ok, record.error_type = False, span.status_message or "error"
    if record.cost_usd is None and not record.ok and not reported:
        record.cost_usd, record.cost_source = 0.0, "failed"


def from_span(span: SpanRecord, pricing: Any = None) -> UsageRecord | None:
    """The usage record of an llm span, None for any other span and for an llm span with a value no real
    call has (see BadSpan). ``pricing`` (a Pricing) prices calls that carry tokens but no cost."""
    try:
        return from_columns(columns_of(span, USAGE_KEYS), pricing)
    except BadSpan:
        return None


from_columns = _compile(COLUMNS)
from_columns.__doc__ = """As :func:`from_span`, from a span read as the columns of USAGE_KEYS (what UsageReader
reads); raises BadSpan for an llm span with a value no real call has. Generated from COLUMNS (see _compile):
the hot path of ``agentkit usage``, once per span read."""


# --- reading ---------------------------------------------------------------------------------------------

@dataclass
class ReadSummary:
    """What a read saw. Corrupt or torn lines are skipped and counted here, never fatal."""

    files: int = 0
    lines: int = 0
    spans: int = 0
    llm_calls: int = 0
    corrupt_lines: int = 0
    duplicate_spans: int = 0  # copies of a span already read (another file or source, or written twice)
    bad_spans: int = 0  # an impossible time, token count or cost: left out of every figure
    sampled_calls: int = 0  # calls recorded under ratio sampling: the totals they enter are estimates
    sampling_ratios: list[float] = field(default_factory=list)
    skipped_files: int = 0
    unreadable_files: int = 0
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        def n(count: int, what: str) -> str:
            return f"{count} {what}{'s' if count != 1 else ''}"

        text = f"read {n(self.files, 'file')}, {self.llm_calls} llm calls"
        if self.corrupt_lines:
            text += f", {n(self.corrupt_lines, 'corrupt line')} skipped"
        if self.duplicate_spans:
            text += f", {n(self.duplicate_spans, 'duplicate span')} counted once"
        if self.bad_spans:
            text += f", {n(self.bad_spans, 'bad span')} (impossible time, tokens or cost) skipped"
        if self.unreadable_files:
            text += f", {n(self.unreadable_files, 'unreadable file')}"
        if self.sampled_calls:
            text += "\n" + self.estimate_note()
        return text

    @property
    def estimated(self) -> bool:
        return self.sampled_calls > 0

    def estimate_note(self) -> str:
        """The label every total carries when spans were sampled: what was scaled, by how much."""
        ratios = ", ".join(f"{r:g}" for r in self.sampling_ratios)
        return (f"ESTIMATES: {self.sampled_calls} of {self.llm_calls} calls were recorded under ratio sampling "
                f"(ratio {ratios}); each counts as 1/ratio calls, so totals are estimates, not exact "
                "(the agentkit.cost metric, which is not sampled, has the exact cost)")


class NoTelemetry(FileNotFoundError):
    """The telemetry directory or file to read does not exist."""


def default_source(home: str | os.PathLike[str] | None = None) -> Path:
    """``<home>/telemetry``, where the SDK's jsonl exporter writes; NoTelemetry when it is missing."""
    from ..config import default_home

    directory = Path(home).expanduser() / "telemetry" if home else default_home() / "telemetry"
    if not directory.is_dir():
        raise NoTelemetry(f"no telemetry directory at {directory}: run the app with agentkit.init() "
                          "(jsonl exporter) first, or read other files with --path")
    return directory


def load_pricing(override: Any = None) -> Any:
    """The SDK's pricing table (bundled, plus $AGENTKIT_PRICING_FILE or ``override``)."""
    from ..config import ENV_PRICING_FILE
    from ..instrument.pricing import Pricing

    return Pricing(override if override is not None else (os.environ.get(ENV_PRICING_FILE) or None))


class UsageReader:
    """Iterate the usage records of ``source`` within ``window``, counting what was read in ``summary``.

    Streams: memory grows only by the set that makes each span count once (about 70 bytes per distinct
    span in the window), not with the files' size. ``progress`` hears of each file as it is started.
    """

    def __init__(self, source: Source, window: Window | None = None, *, pricing: Any = None,
                 progress: Progress | None = None) -> None:
        self.source = source
        self.window = window or Window(None, None)
        self.pricing = pricing if pricing is not None else load_pricing()
        self.progress = progress
        self.summary = ReadSummary()
        self._stats = ReadStats()
        try:
            self.files = list_files(source, "traces", self.window.since, self.window.until, self._stats)
        except FileNotFoundError as exc:
            raise NoTelemetry(str(exc)) from None

    def __iter__(self) -> Iterator[UsageRecord]:
        stats = self._stats
        total = len(self.files)
        progress = self.progress
        pricing = self.pricing
        seen_files = -1
        spans = calls = bad = sampled = 0
        ratios: set[float] = set()
        convert = from_columns
        try:
            with iter_span_columns(self.files, USAGE_KEYS, self.window.since, self.window.until, stats,
                                   unique=True) as stream:
                for span in stream:
                    spans += 1
                    if progress is not None and stats.files != seen_files:
                        seen_files = stats.files
                        progress(seen_files, total)
                    try:
                        record = convert(span, pricing)  # None for anything but an llm span
                    except BadSpan:
                        bad += 1
                        continue
                    if record is not None:
                        calls += 1
                        if record.sampling_ratio is not None:
                            sampled += 1
                            ratios.add(record.sampling_ratio)
                        yield record
        finally:
            if progress is not None:
                progress(stats.files, total)
            s = self.summary
            s.files, s.lines, s.corrupt_lines = stats.files, stats.lines, stats.corrupt
            s.skipped_files, s.unreadable_files, s.errors = stats.skipped_files, stats.unreadable_files, stats.errors
            s.duplicate_spans, s.bad_spans = stats.duplicates, stats.bad_spans + bad
            s.spans, s.llm_calls = spans, calls
            s.sampled_calls, s.sampling_ratios = sampled, sorted(ratios)
