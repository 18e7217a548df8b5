"""What fraction of calls the tracer provider's sampler keeps, so span-based totals can say they are estimates.

The usage report totals spans. Under a ratio sampler (``OTEL_TRACES_SAMPLER=traceidratio``) only a fraction
of traces is recorded, and a plain sum would silently report that fraction of the real cost. The recorder
stamps each span it makes with the ratio (``agentkit.sampling.ratio``) when it is below 1; the reader then
scales by its inverse and labels every total as an estimate. Only the samplers whose ratio is known from
their description are recognised (the SDK's own, alone or as the root of ParentBased); any other sampler is
reported once at init, since its totals cannot be corrected.
"""

from __future__ import annotations

import re
from typing import Any

from .. import diagnostics

_RATIO = re.compile(r"^(?:ParentBased\{root:)?TraceIdRatioBased\{([^}]*)\}")
_KEEPS_ALL = re.compile(r"^(?:ParentBased\{root:)?AlwaysOnSampler")


def sampling_ratio(tracer: Any) -> float | None:
    """The ratio of root traces the tracer keeps, or None when it keeps them all or cannot be known.

    For a ParentBased sampler the root's ratio is used: a trace continued from a remote parent follows the
    parent's decision, which no local setting can tell (the estimate assumes the same ratio upstream).
    """
    sampler = getattr(tracer, "sampler", None)  # an SDK Tracer or TracerProvider
    if sampler is None:
        return None
    try:
        description = str(sampler.get_description())
    except Exception as exc:  # a user's sampler may raise anywhere; it must not stop init
        diagnostics.report("sampling.describe", exc)
        return None
    if _KEEPS_ALL.match(description):
        return None
    match = _RATIO.match(description)
    if match is None:
        diagnostics.warn_once(
            ("sampler", description),
            "otel_agentkit: the sampler %s keeps an unknown share of calls; usage and cost totals read from "
            "spans count only the sampled ones (the agentkit.cost metric is not sampled)", description)
        return None
    try:
        ratio = float(match.group(1))
    except ValueError:
        return None
    return ratio if 0.0 < ratio < 1.0 else None
