#!/usr/bin/env bash
# The whole test suite on a fresh machine: provisions what the tests need (a virtual environment with the
# package and its test extras, and the real servers from scripts/provision/*.sh), then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh "test"
for p in scripts/provision/*.sh; do
  [ -e "$p" ] || continue
  echo "provision: $p"
  bash "$p" "$VENV"
done
export PATH="$VENV/bin:$PATH"
# Frameworks whose pins clash with this venv's clients have venvs of their own (.venvs/frameworks-<name>, built
# by provision/frameworks.sh; tests/frameworks/conftest.py leaves their test_<name>.py out of the main run):
# when the whole suite runs (no arguments), each such file runs in its venv after the main run. Either failing
# fails the script.
status=0
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@" || status=$?
if [ "$#" -eq 0 ]; then
  for dir in .venvs/frameworks-*; do
    test_file="tests/frameworks/test_${dir#.venvs/frameworks-}.py"
    [ -x "$dir/bin/python" ] && [ -f "$test_file" ] || continue
    echo "$test_file in $dir"
    PATH="$PWD/$dir/bin:$PATH" "$dir/bin/python" -m pytest -q -p no:cacheprovider "$test_file" || status=$?
  done
fi
exit "$status"
