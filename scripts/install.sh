#!/usr/bin/env bash
# make install: a fresh virtualenv with every pinned package, then this project and the services
# as editable installs. Settings from the Makefile: PYTHON, VENV, STAMP (touched when done) and
# PACKAGES (the folders installed editable).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
STAMP=${STAMP:-$VENV/.installed}
read -r -a packages <<< "${PACKAGES:?the folders to install editable, as the Makefile sets them}"

# gevent has wheels for macOS only from Python 3.12 on; pymdown-extensions needs 3.11.5.
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < ((3, 12) if sys.platform == "darwin" else (3, 11, 5)))'
then
  echo "make install: the pinned packages need Python 3.11.5 or newer (3.12 on macOS: gevent's wheels)," \
    "$PYTHON is $("$PYTHON" -V 2>&1); choose another with PYTHON=python3.12" >&2
  exit 1
fi
# A fresh venv each time the pins change: a package dropped from the pins must not linger.
echo "rm -rf $VENV && $PYTHON -m venv $VENV"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
echo "pip install -r requirements-dev.txt -c constraints.txt"
"${pip[@]}" -r requirements-dev.txt -c constraints.txt
editable=()
for package in "${packages[@]}"; do editable+=(-e "$package"); done
echo "pip install --no-deps ${editable[*]}"
"${pip[@]}" --no-deps "${editable[@]}"
touch "$STAMP"
