#!/usr/bin/env bash
# Rebuild the embedded default dataset (evidence/default_data/sipri_us/) from SIPRI's ORIGINAL export
# (latin-1, with its preamble), so the bundled data is reproducible from the raw file as SIPRI ships it.
#
# Usage: scripts/build_default_data.sh [REGISTER] [OUT]
#   REGISTER  default: ../shared/data/raw/sipri_trade_register/trade-register_generated-2026-05-18.original_cut2021.csv
#   OUT       default: evidence/default_data/sipri_us
# Environment: PYTHON (interpreter to use; default: python3).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

register="${1:-../shared/data/raw/sipri_trade_register/trade-register_generated-2026-05-18.original_cut2021.csv}"
out="${2:-evidence/default_data/sipri_us}"
python="${PYTHON:-python3}"

if [[ ! -f "$register" ]]; then
    echo "register not found: $register (run from a checkout next to ../shared, or pass a path)" >&2
    exit 1
fi

PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m evidence.sipri \
    --register "$register" --out "$out" --supplier "United States"
