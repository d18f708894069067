#!/usr/bin/env bash
# make lock: re-pin every transitive package of the venv into constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
pins="$("$VENV/bin/python" -m pip freeze --exclude-editable)"
{
  echo "# Every transitive package pinned, so a fresh machine gets what CI tested."
  echo "# Regenerate with 'make lock' after changing a requirements file."
  echo "$pins"
} >constraints.txt
