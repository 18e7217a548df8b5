"""``agentkit prompts summary`` and ``agentkit prompts compare-format``: how prompts do, and whether
XML-structured prompts pay against plain ones."""

from __future__ import annotations

import argparse
from typing import Any

from .main import needs_subcommand
from .usage import add_common, footer, print_json, run_read, say


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("prompts", help="prompt tokens, latency, retries and success, by workflow and model")
    sub = group.add_subparsers(dest="prompts_command", metavar="SUBCOMMAND")

    summary = sub.add_parser("summary", help="prompts, tokens, latency, retry rate, parse/validation success, errors")
    summary.add_argument("--workflow", metavar="W", help="only calls in this workflow")
    summary.add_argument("--model", metavar="M", help="only calls to this model")
    add_common(summary)
    summary.set_defaults(func=_summary)

    cmp_ = sub.add_parser("compare-format", help="XML-structured prompts against plain ones, with sample sizes")
    cmp_.add_argument("--candidate", default="xml", metavar="FORMAT", help="format to judge (default xml)")
    cmp_.add_argument("--reference", default="plain", metavar="FORMAT", help="format to judge against (default plain)")
    cmp_.add_argument("--workflow", metavar="W", help="only calls in this workflow")
    cmp_.add_argument("--model", metavar="M", help="only calls to this model")
    add_common(cmp_)
    cmp_.set_defaults(func=_compare_format)

    group.set_defaults(func=needs_subcommand(group))


def _rows(stats: list[Any]) -> list[list[str]]:
    from ..analytics import formatting as fmt

    return [[s.key, fmt.integer(s.prompts), fmt.decimal(s.avg_input_tokens), fmt.decimal(s.avg_output_tokens),
             fmt.seconds(s.latency_p50_s), fmt.seconds(s.latency_p95_s), fmt.percent(s.retry_rate),
             fmt.percent(s.parse_success_rate), fmt.percent(s.validation_success_rate), fmt.integer(s.errors)]
            for s in stats]


_HEADERS = ["prompts", "avg in", "avg out", "p50", "p95", "retry rate", "parse ok", "valid ok", "errors"]


def _summary(args: argparse.Namespace) -> int:
    from ..analytics import formatting as fmt
    from ..analytics.prompts import prompt_summary

    result = run_read(args, prompt_summary, args.workflow, args.model)
    if args.json:
        print_json(result)
        return 0
    filters = "".join(f", {k} {v}" for k, v in result.filters.items())
    say(f"Prompts, {result.period.description}{filters}")
    print(fmt.table(["workflow", *_HEADERS], _rows([*result.by_workflow, result.total])))
    print()
    print(fmt.table(["model", *_HEADERS], _rows([*result.by_model, result.total])))
    print("parse ok / valid ok: over the calls that recorded agentkit.parse.success / agentkit.validation.success")
    print(footer(result.read))
    return 0


def _compare_format(args: argparse.Namespace) -> int:
    from ..analytics import formatting as fmt
    from ..analytics.prompts import compare_formats

    result = run_read(args, compare_formats, args.candidate, args.reference, workflow=args.workflow,
                      model=args.model)
    if args.json:
        print_json(result)
        return 0
    say(f"Prompt formats, {result.period.description}")
    rows = [[s.key, fmt.integer(s.prompts), fmt.decimal(s.avg_input_tokens), fmt.decimal(s.avg_output_tokens),
             fmt.seconds(s.latency_p50_s), fmt.seconds(s.latency_p95_s), fmt.percent(s.success_rate),
             f"{fmt.percent(s.success_rate_low)}-{fmt.percent(s.success_rate_high)}", fmt.percent(s.retry_rate)]
            for s in result.formats]
    print(fmt.table(["format", "n", "avg in", "avg out", "p50", "p95", "success", "95% interval", "retry rate"],
                    rows))
    d = result.difference
    if d is None:
        say(f"no comparison: need calls with both prompt formats {args.candidate!r} and {args.reference!r} "
            "(set with agentkit.attributes(prompt_format=...))")
    else:
        say(f"{d.candidate} against {d.reference}: input tokens {fmt.change(d.avg_input_tokens_change)}, "
            f"output tokens {fmt.change(d.avg_output_tokens_change)}, p50 latency {fmt.change(d.latency_p50_change)}, "
            f"success {fmt.points(d.success_rate_points)}, retries {fmt.points(d.retry_rate_points)}")
        say(d.note)
    print("success: the call did not fail and neither its parse nor its validation was recorded as failed")
    print(footer(result.read))
    return 0
