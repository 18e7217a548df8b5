"""Where telemetry goes: fan-out to OTLP, console and local OTLP/JSON-lines files, with a disk spool."""
