#!/usr/bin/env bash
# Installs what TipLedger needs, once: a .venv at the repo root (Python packages pinned by
# constraints.txt) and the npm toolchain (Anvil, solc, OpenZeppelin, pinned by package-lock.json).
# Rerun freely: it only reinstalls when pyproject.toml, constraints.txt or package-lock.json change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '\033[1mtipledger setup:\033[0m %s\n' "$*" >&2; }
die() { printf 'tipledger setup: error: %s\n' "$*" >&2; exit 1; }

python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      python="$candidate"; break
    fi
  done
fi
[ -n "$python" ] || die "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)"
command -v npm >/dev/null 2>&1 || die "Node.js with npm is needed for the chain toolchain (Anvil, solc)"

stamp=.venv/.tipledger-installed
if [ ! -x .venv/bin/python ] || [ ! -f "$stamp" ] ||
   [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  say "creating .venv with $("$python" --version) and installing Python packages"
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  log=.venv/pip-install.log
  if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
         .venv/bin/python -m pip install --disable-pip-version-check \
           -c constraints.txt -e '.[dev]'; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "pip install failed (full log: $log)"
  fi
  touch "$stamp"
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing the chain toolchain from package-lock.json (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- browser tests (tests/e2e): Debian's Chromium and Thai fonts ------------------------------
# Playwright drives the system Chromium at /usr/bin/chromium; it never downloads a browser. When
# run as root on a Debian-like machine without it (or without the Thai fonts the screenshots
# need), install both from Debian's packages; otherwise the browser tests skip, saying how.
# Only for the test command (scripts/test passes --with-browser): running needs no browser.
if [ "${1:-}" = "--with-browser" ] &&
   { [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-thai-tlwg >/dev/null 2>&1; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Chromium and Thai fonts for the browser tests (apt-get install -y chromium fonts-thai-tlwg)"
    mkdir -p .venv
    log=.venv/apt-chromium.log
    if ! { apt-get update &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-thai-tlwg; } >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      say "could not install Chromium (full log: $log): the browser tests will skip"
    fi
  else
    say "no /usr/bin/chromium: the browser tests will skip (as root: apt-get install chromium fonts-thai-tlwg)"
  fi
fi
# --- end of the browser tests block -----------------------------------------------------------
