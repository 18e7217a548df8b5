"""``agentkit usage stats`` over 1M llm spans in JSONL, against the floor: just reading and JSON-parsing the
same files.

    python bench/analytics.py [--spans 1000000] [--quick] [--rounds 5] [--keep] [--repeated-only]

1. The real SDK (``agentkit.init`` with the jsonl exporter, ``attributes`` and ``record_llm_call``) writes a
   seed of 20,000 llm spans over 14 days; its lines are copied into rotated files of the same day until
   the files hold ``--spans`` spans, each copy with span ids of its own (the command counts a span held
   twice once, so copies with the same ids would read as one span).
2. In fresh processes: every floor once, then ``--rounds`` rounds of the fastest plain floor, the reader and
   the command run back to back (the ratio of each round compares runs made moments apart):
     floor:P    every line read (with the reader's 4 MiB buffer) and parsed into Python objects by the generic
                parser P (json, and orjson and msgspec where installed), with the interpreter's default
                settings; the floor is the fastest
     floor:P/nogc  the same with the cyclic garbage collector off: parsing alone, nothing else (the floor
                no real reader gets, since every program that builds objects pays the collector)
     reader     what the command reads (iter_span_columns of the usage attributes), nothing else, with the
                command's GC policy: where the time between floor and stats goes, the reading or the
                analytics on top
     reader:spans  iter_spans, every span read whole (SpanRecord), for comparison
     stats      the command itself: ``agentkit usage stats --by model --json --path FILE ...``, cold (every
                span read; the incremental summary, analytics.summary, left out)
     stats/10   the same over a tenth of the files, for memory
   Each child reports its own CPU time, wall time and peak RSS (VmHWM); imports and start-up count for
   the command (a user waits for them) and not for the floors.
3. With ``--instructions N``, the floor, the reader, the command cold and its first run (writing the summary)
   over N spans under valgrind's callgrind:
   instruction counts do not drift with the machine's speed (they do undercount what waits on memory,
   which weighs more in the floor's dict building than in the typed decoding).
4. Prints stats / floor as the median of the rounds' ratios (target: at most 1.5), best against best, stats
   against the collector-off floor, and peak RSS at full size against a tenth of it (memory must not grow
   with the files).
5. Repeated runs (the incremental summary kept in ``<dir>/.usage-summary``, analytics.summary): the command
   with no summary (``cached:first``, a user's first run: it reads every span and writes the summary; target
   at most 1.5x the floor), ``--rounds`` times, the summary removed and the fastest plain floor and
   ``build-floor`` (the orjson parse plus a hand-written summary of the same cells: the least an exact summary
   adds to a parse, with no validation, fallback or pricing) run before each; then ``--rounds`` times: 1%
   more spans appended to the newest file, the fastest plain floor over all the files, and the command again
   (``cached:warm``: target under a second at 1M spans). Then once more after an append with the span keys
   merged in read order as a read of several directories does (``cached:tracked``: the cost and memory of
   exact de-duplication), and a cold run over the final files, whose output every cached run must equal
   (the JSON output's digest).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

SEED_SPANS = 20_000

PARSERS = {"json": "from json import loads", "orjson": "from orjson import loads",
           "msgspec": "from msgspec.json import decode as loads"}

CHILD = r"""
import io, json, os, sys, time, contextlib
mode, files = sys.argv[1], sys.argv[2:]
t0, c0 = time.perf_counter(), time.process_time()
if mode.startswith("floor:"):
    parser, _, nogc = mode[len("floor:"):].partition("/")
    exec(PARSERS[parser])
    if nogc:
        import gc
        gc.disable()
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    for name in files:
        with open(name, "rb", buffering=4 << 20) as f:  # the reader's buffer: a line is one copy
            for line in f:
                loads(line)
                n += 1
    result = n
elif mode == "build-floor":
    # The plain parse (orjson) plus the least an exact per-file summary adds to it, hand-written: per span its
    # key (kept per hour, for windows and de-duplication), its latency, and its tokens and cost summed into
    # a cell per (hour, model, provider, workflow, tier, agent, stage). No validation, fallback or pricing.
    # With the command's collector policy (cli.usage.bulk_read): with the default one, collections of the
    # cells it keeps cost more than the parse.
    import gc
    from array import array
    from orjson import loads
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    t0, c0 = time.perf_counter(), time.process_time()
    hour_ns, mask = 3600 * 10**9, (1 << 60) - 1
    n, seen, hour_keys, cells = 0, set(), {}, {}
    for name in files:
        with open(name, "rb", buffering=4 << 20) as f:
            for line in f:
                for rs in loads(line)["resourceSpans"]:
                    for ss in rs["scopeSpans"]:
                        for sp in ss["spans"]:
                            key = hash((sp["traceId"], sp["spanId"])) & mask
                            if key in seen:
                                continue
                            seen.add(key)
                            start, end = int(sp["startTimeUnixNano"]), int(sp["endTimeUnixNano"])
                            hour = start // hour_ns
                            keys = hour_keys.get(hour)
                            if keys is None:
                                keys = hour_keys[hour] = array("Q")
                            keys.append(key)
                            a = {kv["key"]: kv["value"] for kv in sp["attributes"]}
                            g = (hour, a["gen_ai.request.model"]["stringValue"] if "gen_ai.request.model" in a else None,
                                 a["gen_ai.provider.name"]["stringValue"] if "gen_ai.provider.name" in a else None,
                                 a["agentkit.workflow.name"]["stringValue"] if "agentkit.workflow.name" in a else None,
                                 a["agentkit.tier"]["stringValue"] if "agentkit.tier" in a else None,
                                 a["gen_ai.agent.name"]["stringValue"] if "gen_ai.agent.name" in a else None,
                                 a["agentkit.stage"]["stringValue"] if "agentkit.stage" in a else None)
                            cell = cells.get(g)
                            if cell is None:
                                cell = cells[g] = [0, 0, 0, 0, 0, 0, 0, array("d")]
                            cell[0] += 1
                            if "gen_ai.usage.input_tokens" in a:
                                cell[1] += int(a["gen_ai.usage.input_tokens"]["intValue"])
                            if "gen_ai.usage.output_tokens" in a:
                                cell[2] += int(a["gen_ai.usage.output_tokens"]["intValue"])
                            if "gen_ai.usage.cache_read.input_tokens" in a:
                                cell[3] += int(a["gen_ai.usage.cache_read.input_tokens"]["intValue"])
                            if "gen_ai.usage.cache_write.input_tokens" in a:
                                cell[4] += int(a["gen_ai.usage.cache_write.input_tokens"]["intValue"])
                            if "gen_ai.usage.reasoning.output_tokens" in a:
                                cell[5] += int(a["gen_ai.usage.reasoning.output_tokens"]["intValue"])
                            if "agentkit.cost.usd" in a:
                                cell[6] += int(a["agentkit.cost.usd"]["doubleValue"] * 2.0 ** 64)
                            cell[7].append((end - start) / 1e9)
                            n += 1
    result = n
elif mode.startswith("reader"):
    from otel_agentkit.analytics.records import USAGE_KEYS
    from otel_agentkit.cli.usage import bulk_read  # the command's collector policy, for a fair split
    from otel_agentkit.export.reader import iter_span_columns, iter_spans
    with bulk_read():
        if mode == "reader:spans":
            result = sum(1 for _ in iter_spans(files))
        else:
            result = sum(1 for _ in iter_span_columns(files, USAGE_KEYS))
else:
    from otel_agentkit.cli.main import main
    from otel_agentkit.analytics import summary
    if mode == "stats":
        summary.MIN_BYTES = 1 << 62  # cold: every span read, no summary used or written
    else:
        summary.MIN_BYTES = 0  # the instruction count's sample is smaller than a summary is built for
    if mode == "cached:tracked":  # as a read of several directories: keys merged in read order
        run = summary._Query.run
        summary._Query.run = lambda self, track: run(self, True)
    out = io.StringIO()
    args = ["usage", "stats", "--by", "model", "--json"]
    for name in files:
        args += ["--path", name]
    with contextlib.redirect_stdout(out):
        assert main(args) == 0
    result = json.loads(out.getvalue())["total"]["calls"]
    import hashlib
    digest = hashlib.sha256(out.getvalue().encode()).hexdigest()[:16]
    if mode.startswith("cached:"):
        assert summary.LAST.error is None and summary.LAST.mode, summary.LAST
        info = {"summary_mode": summary.LAST.mode, "built": summary.LAST.built, "reused": summary.LAST.reused}
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
rss = 0
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1])
got = {"mode": mode, "wall": wall, "cpu": cpu, "rss_kb": rss, "result": result}
if mode.startswith(("stats", "cached:")):
    got["digest"] = digest
if mode.startswith("cached:"):
    got.update(info)
print(json.dumps(got))
"""


def available_parsers() -> list[str]:
    found = []
    for name, statement in PARSERS.items():
        try:
            exec(statement, {})
        except ImportError:
            continue
        found.append(name)
    return found


def make_seed(home: Path) -> Path:
    """SEED_SPANS llm spans written by the real SDK; returns the traces file."""
    import datetime as dt

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    import otel_agentkit as agentkit

    rng = random.Random(3)
    shapes = [("openai", "gpt-4o", "premium", "xml"), ("openai", "gpt-4o-mini", "cheap", "plain"),
              ("anthropic", "claude-sonnet-4-5", "premium", "xml"), ("anthropic", "claude-haiku-4-5", "cheap", "plain")]
    now = dt.datetime.now(dt.timezone.utc)
    tp = TracerProvider(resource=Resource.create({"service.name": "bench-analytics"}))
    agentkit.init(exporters=["jsonl"], metric_exporters="none", home=home, tracer_provider=tp,
                  meter_provider=MeterProvider())
    try:
        for i in range(SEED_SPANS):
            provider, model, tier, fmt = rng.choice(shapes)
            start = now - dt.timedelta(seconds=rng.uniform(0, 14 * 86400))
            with agentkit.attributes(workflow=rng.choice(("support", "billing", "search")), agent="resolver",
                                     stage="answer", tier=tier, prompt_format=fmt, user_id=f"u{i % 300}"):
                agentkit.record_llm_call(
                    provider=provider, model=model, start_time=start,
                    end_time=start + dt.timedelta(seconds=rng.lognormvariate(0, 0.5)),
                    input_tokens=rng.randint(100, 6000), output_tokens=rng.randint(10, 900),
                    cache_read_tokens=rng.choice((None, None, 1024)), response_model=model,
                    response_id=f"resp-{i}", finish_reasons=["stop"], retries=rng.choice((0, 0, 1)),
                    parse_success=rng.random() > 0.05, error="RateLimitError" if rng.random() < 0.03 else None)
    finally:
        agentkit.shutdown()
    tp.shutdown()
    [seed] = sorted((home / "telemetry").glob("traces-*.jsonl"))
    return seed


_SPAN_ID = re.compile(rb'"spanId":"([0-9a-f]{16})"')


def _renumbered(line: bytes, copy: int) -> bytes:
    """The line with every span id xor'ed with a mask of the copy's own: distinct spans, same bytes count."""
    if not copy:
        return line
    mask = (copy * 0x9E3779B97F4A7C15) & ((1 << 64) - 1)
    return _SPAN_ID.sub(lambda m: b'"spanId":"%016x"' % (int(m.group(1), 16) ^ mask), line)


def replicate(seed: Path, directory: Path, spans: int, per_file: int) -> list[Path]:
    """Copies of the seed's lines in rotated files (``traces-DATE.N.jsonl``) until ``spans`` are written."""
    lines = [(line, line.count(b'"spanId"')) for line in seed.read_bytes().splitlines(keepends=True)]
    copy = 0
    date = seed.name[len("traces-"):len("traces-") + 10]
    files: list[Path] = []
    written = 0
    out = None
    in_file = 0
    try:
        while written < spans:
            for line, n in lines:
                if written >= spans:
                    break
                line = _renumbered(line, copy)
                if out is None or in_file >= per_file:
                    if out is not None:
                        out.close()
                    files.append(directory / f"traces-{date}.{len(files) + 1}.jsonl")
                    out = open(files[-1], "wb")
                    in_file = 0
                if written + n > spans:  # the last line: keep only the spans still needed
                    request = json.loads(line)
                    ss = request["resourceSpans"][0]["scopeSpans"][0]
                    ss["spans"] = ss["spans"][: spans - written]
                    line, n = json.dumps(request, separators=(",", ":")).encode() + b"\n", spans - written
                out.write(line)
                written += n
                in_file += n
            copy += 1
    finally:
        if out is not None:
            out.close()
    return files


def append_spans(seed: Path, target: Path, spans: int, copy: int) -> None:
    """``spans`` more spans (the seed's lines, with span ids of copy ``copy``) at the end of ``target``."""
    written = 0
    with open(target, "ab") as out:
        for line in seed.read_bytes().splitlines(keepends=True):
            if written >= spans:
                break
            n = line.count(b'"spanId"')
            line = _renumbered(line, copy)
            if written + n > spans:
                request = json.loads(line)
                ss = request["resourceSpans"][0]["scopeSpans"][0]
                ss["spans"] = ss["spans"][: spans - written]
                line, n = json.dumps(request, separators=(",", ":")).encode() + b"\n", spans - written
            out.write(line)
            written += n


def repeated_runs(seed: Path, files: list[Path], spans: int, rounds: int, fast: list[str],
                  run: Callable[[str, list[Path], int], dict], cold_digest: str) -> dict:
    """Section 5 of the docstring: the summary written once, then warm runs after 1% appends, each
    answer held to a cold run's over the same files (its JSON output's digest)."""
    step = max(spans // 100, 1)
    total = spans
    # A user's first run: no summary yet, so it reads every span and writes the summary. Paired with the floor
    # in each round (the summary removed before each), as the cold command is.
    # Also against build-floor: the fastest parser plus a hand-written summary of the same cells.
    firsts: list[dict] = []
    first_ratios: list[float] = []
    build_ratios: list[float] = []
    for r in range(rounds):
        shutil.rmtree(files[0].parent / ".usage-summary", ignore_errors=True)
        floors = [run(m, files, r) for m in fast]
        build = run("build-floor", files, r)
        firsts.append(run("cached:first", files, r))
        assert firsts[-1]["digest"] == cold_digest, (firsts[-1], cold_digest)
        first_ratios.append(firsts[-1]["cpu"] / min(f["cpu"] for f in floors))
        build_ratios.append(firsts[-1]["cpu"] / build["cpu"])
    first = min(firsts, key=lambda g: g["cpu"])
    warm: list[dict] = []
    ratios: list[float] = []
    for r in range(rounds):
        append_spans(seed, files[-1], step, 1000 + r)
        total += step
        floors = [run(m, files, r) for m in fast]
        got = run("cached:warm", files, r)
        assert got["result"] == total and got["built"] == 1 and got["summary_mode"] == "clean", got
        warm.append(got)
        ratios.append(got["cpu"] / min(f["cpu"] for f in floors))
    tracked = run("cached:tracked", files, rounds - 1)  # nothing appended since: the merging of keys alone
    cold = run("stats", files, rounds - 1)
    assert cold["result"] == total and warm[-1]["digest"] == cold["digest"] == tracked["digest"], (warm, cold)
    best = min(warm, key=lambda g: g["cpu"])
    return {"appended_per_round": step, "spans_at_end": total, "first_cpu_s": round(first["cpu"], 3),
            "first_cpu_s_rounds": [round(g["cpu"], 3) for g in firsts],
            "first_over_floor_rounds": [round(x, 3) for x in first_ratios],
            "first_over_floor_median_of_rounds": round(statistics.median(first_ratios), 3),
            "first_over_build_floor_rounds": [round(x, 3) for x in build_ratios],
            "first_wall_s": round(first["wall"], 3), "first_peak_rss_mb": round(first["rss_kb"] / 1024, 1),
            "warm_cpu_s_rounds": [round(g["cpu"], 3) for g in warm],
            "warm_wall_s_rounds": [round(g["wall"], 3) for g in warm], "warm_cpu_s_best": round(best["cpu"], 3),
            "warm_over_floor_median_of_rounds": round(statistics.median(ratios), 4),
            "warm_peak_rss_mb": round(max(g["rss_kb"] for g in warm) / 1024, 1),
            "tracked_cpu_s": round(tracked["cpu"], 3), "tracked_wall_s": round(tracked["wall"], 3),
            "tracked_peak_rss_mb": round(tracked["rss_kb"] / 1024, 1), "cold_cpu_s_at_end": round(cold["cpu"], 3),
            "summary_bytes": (files[0].parent / ".usage-summary" / "summary.msgpack").stat().st_size}


def print_repeated(r: dict) -> None:
    print(f"\nrepeated runs (incremental summary): first run (no summary yet: it reads every span and writes the "
          f"summary) {r['first_over_floor_median_of_rounds']} x the floor, median of rounds "
          f"{r['first_over_floor_rounds']} (target <= 1.5), against the parse plus a hand-written summary "
          f"(build-floor) {r['first_over_build_floor_rounds']}, best {r['first_cpu_s']} s CPU ({r['first_wall_s']} s wall, "
          f"{r['summary_bytes'] / 1e6:.1f} MB written); after +{r['appended_per_round']:,} spans (1%) "
          f"each round: warm {r['warm_cpu_s_rounds']} s CPU ({r['warm_wall_s_rounds']} s wall), "
          f"{r['warm_over_floor_median_of_rounds']} x the floor (median), peak RSS {r['warm_peak_rss_mb']} MB; "
          f"keys merged in read order (as for several directories): {r['tracked_cpu_s']} s CPU, peak RSS "
          f"{r['tracked_peak_rss_mb']} MB; every answer equal to a cold run's")


def run_child(mode: str, files: list[Path]) -> dict:
    code = f"PARSERS = {PARSERS!r}\n" + CHILD
    proc = subprocess.run([sys.executable, "-c", code, mode, *map(str, files)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def instructions(mode: str, files: list[Path], out: Path) -> int:
    """Instructions a child runs, counted by callgrind: the same for the same work whatever else the
    machine is doing (its speed here drifts by more than the ratio measured)."""
    code = f"PARSERS = {PARSERS!r}\n" + CHILD
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c", code,
                    mode, *map(str, files)], capture_output=True, check=True)
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"no instruction count in {out}")


def count_instructions(seed_lines: list[bytes], work: Path, spans: int) -> dict[str, float]:
    """floor, reader, stats, the first run and build-floor over ``spans`` spans under callgrind, less the
    start-up of the floor's child (the command's own start-up, its imports, stays in)."""
    sample = work / "callgrind" / "traces-sample.jsonl"
    sample.parent.mkdir()
    written = 0
    with open(sample, "wb") as f:
        for line in seed_lines:
            if written >= spans:
                break
            f.write(line)
            written += line.count(b'"spanId"')
    floor_mode = "floor:orjson" if "orjson" in available_parsers() else "floor:json"
    base = instructions(floor_mode, [], work / "callgrind" / "base.out")
    got = {m: instructions(m, [sample], work / "callgrind" / f"{m.replace(':', '_')}.out") - base
           for m in (floor_mode, "reader", "stats", "cached:first", "build-floor")}
    return {"spans": written, "floor": floor_mode, "floor_instructions": got[floor_mode],
            "reader_over_floor": round(got["reader"] / got[floor_mode], 3),
            "stats_over_floor": round(got["stats"] / got[floor_mode], 3),
            "first_over_floor": round(got["cached:first"] / got[floor_mode], 3),
            "first_over_build_floor": round(got["cached:first"] / got["build-floor"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k spans")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--instructions", type=int, metavar="SPANS", default=0,
                        help="also count instructions with valgrind's callgrind over this many spans")
    parser.add_argument("--repeated-only", action="store_true",
                        help="only the floors, one cold run and the repeated runs of section 5")
    args = parser.parse_args()
    spans = 100_000 if args.quick else args.spans
    import compileall

    import otel_agentkit

    # As pip installs a package: byte-compiled, so the command does not compile its modules on every run.
    compileall.compile_dir(str(Path(otel_agentkit.__file__).parent), quiet=1)
    work = Path(tempfile.mkdtemp(prefix="agentkit-bench-analytics-"))
    try:
        t = time.perf_counter()
        seed = make_seed(work / "seed")
        print(f"seed: {SEED_SPANS} llm spans written by the SDK in {time.perf_counter() - t:.1f}s")
        data = work / "telemetry"
        data.mkdir()
        files = replicate(seed, data, spans, per_file=max(spans // 10, 1))
        size = sum(f.stat().st_size for f in files)
        print(f"data: {spans:,} llm spans in {len(files)} files, {size / 1e6:,.0f} MB")
        tenth = files[: max(len(files) // 10, 1)]
        parsers = available_parsers()
        floors = [f"floor:{p}" for p in parsers] + [f"floor:{p}/nogc" for p in parsers]
        runs: dict[str, list[dict]] = {}

        def run(mode: str, fs: list[Path], r: int) -> dict:
            got = run_child("stats" if mode == "stats/10" else mode, fs)
            runs.setdefault(mode, []).append(got)
            print(f"  round {r + 1} {mode:<20} wall {got['wall']:7.2f}s  cpu {got['cpu']:7.2f}s  "
                  f"peak RSS {got['rss_kb'] / 1024:6.1f} MB", flush=True)
            return got

        # Round 1 runs every floor. Every round then runs the fast plain floors (all but the standard
        # library's json when orjson or msgspec is there), the reader and the command back to back, in
        # alternating order: each round's ratio is the command over the fastest floor of that round, runs
        # made moments apart, because this machine's speed drifts by more than the figures measured.
        plain = [m for m in floors if not m.endswith("/nogc")]
        fast = [m for m in plain if m != "floor:json"] or plain
        if args.repeated_only:
            floor_runs = [run(m, files, 0) for m in fast]
            cold = run("stats", files, 0)
            assert cold["result"] == spans, cold
            repeated = repeated_runs(seed, files, spans, args.rounds, fast, run, cold["digest"])
            repeated.update(spans=spans, files=len(files), bytes=size, cold_cpu_s=round(cold["cpu"], 3),
                            floor_cpu_s=round(min(g["cpu"] for g in floor_runs), 3),
                            cold_over_floor=round(cold["cpu"] / min(g["cpu"] for g in floor_runs), 2))
            print_repeated(repeated)
            print(json.dumps(repeated))
            return
        for mode in floors:
            run(mode, files, 0)
        nogc_mode = min((m for m in floors if m.endswith("/nogc")), key=lambda m: runs[m][0]["cpu"])
        ratios: list[float] = []
        for r in range(args.rounds):
            order = [*fast, "reader", "stats", nogc_mode]
            got = {m: run(m, files, r) for m in (order if r % 2 == 0 else order[::-1])}
            ratios.append(got["stats"]["cpu"] / min(got[m]["cpu"] for m in fast))
        floor_mode = min(plain, key=lambda m: min(g["cpu"] for g in runs[m]))
        run("reader:spans", files, args.rounds - 1)
        run("stats/10", tenth, args.rounds - 1)
        best = {m: min(v, key=lambda g: g["cpu"]) for m, v in runs.items()}
        peak = {m: max(g["rss_kb"] for g in v) for m, v in runs.items()}
        assert best["stats"]["result"] == spans, best["stats"]
        floor, nogc, stats = best[floor_mode], best[nogc_mode], best["stats"]
        print(f"\nusage stats over {spans:,} llm spans; the floor is {floor_mode}, the fastest plain read and "
              f"parse (in each round: the fastest of {', '.join(fast)}); best of each mode (CPU s) and x floor:")
        print(f"  {'':<20} {'wall s':>8} {'cpu s':>8} {'x floor (cpu)':>14} {'peak RSS MB':>12}")
        for mode in [*floors, "reader", "reader:spans", "stats", "stats/10"]:
            b = best[mode]
            ratio = "" if mode == "stats/10" else f"{b['cpu'] / floor['cpu']:.2f}"
            print(f"  {mode:<20} {b['wall']:8.2f} {b['cpu']:8.2f} {ratio:>14} {peak[mode] / 1024:12.1f}")
        mem = peak["stats"] / peak["stats/10"]
        median = statistics.median(ratios)
        summary = {"spans": spans, "files": len(files), "bytes": size, "floor": floor_mode,
                   "stats_over_floor_median_of_rounds": round(median, 2),
                   "stats_over_floor_rounds": [round(x, 2) for x in ratios],
                   "stats_over_floor_best": round(stats["cpu"] / floor["cpu"], 2),
                   "floor_nogc": nogc_mode, "stats_over_floor_nogc_best": round(stats["cpu"] / nogc["cpu"], 2),
                   "reader_over_floor_best": round(best["reader"]["cpu"] / floor["cpu"], 2),
                   "stats_over_reader_best": round(stats["cpu"] / best["reader"]["cpu"], 2),
                   "peak_rss_mb": round(peak["stats"] / 1024, 1), "peak_rss_mb_tenth": round(peak["stats/10"] / 1024, 1),
                   "rss_full_over_tenth": round(mem, 2), "target_ratio": 1.5,
                   "best_cpu_s": {m: round(b["cpu"], 3) for m, b in best.items()}}
        print(f"\nstats / floor = {median:.2f}, median of {len(ratios)} rounds {summary['stats_over_floor_rounds']} "
              f"(target <= 1.5); best against best {summary['stats_over_floor_best']}, against {nogc_mode} "
              f"{summary['stats_over_floor_nogc_best']}; the reader alone is {summary['reader_over_floor_best']} x "
              f"floor; peak RSS {summary['peak_rss_mb']} MB at full size against {summary['peak_rss_mb_tenth']} MB "
              f"on a tenth ({mem:.2f}x)")
        repeated = repeated_runs(seed, files, spans, args.rounds, fast, run, best["stats"]["digest"])
        summary["repeated"] = repeated
        print_repeated(repeated)
        if args.instructions:
            counted = count_instructions(seed.read_bytes().splitlines(keepends=True), work, args.instructions)
            summary["instructions"] = counted
            print(f"instructions (callgrind, {counted['spans']:,} spans): reader {counted['reader_over_floor']} x "
                  f"{counted['floor']}, stats {counted['stats_over_floor']} x, first run (writes the summary) "
                  f"{counted['first_over_floor']} x (the command's imports included), first run against build-floor "
                  f"{counted['first_over_build_floor']} x")
        print(json.dumps(summary))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
