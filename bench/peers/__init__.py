"""Benchmarks against the peer SDKs (traceloop-sdk, openlit, langfuse, logfire), run in their own venv.

    bash scripts/bench-peers.sh

One runner per peer (run_<peer>.py) measures, in one process, the bare function, hand-written OTel code,
the peer's decorator and ours; driver.py runs them, keeps the raw numbers in bench/results/peers-*.json and
writes docs/benchmarks.md.
"""
