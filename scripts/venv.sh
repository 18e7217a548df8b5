# Sourced by run-example.sh and test.sh: the project's virtual environment ($AGENTKIT_VENV, default .venv),
# created when missing, with the package installed editable plus the extras named in $1 (may be empty).
VENV="${AGENTKIT_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install -q -e ".${1:+[$1]}"
VENV="$(cd "$VENV" && pwd)"
