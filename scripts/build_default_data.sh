#!/usr/bin/env bash
# Rebuild the embedded default dataset (evidence/default_data/sipri_us/) from SIPRI's ORIGINAL export
# (latin-1, with its preamble), so the bundled data is reproducible from the raw file as SIPRI ships it;
# then add domestic plans and line capacities from the DoD P-1 line items (skipped if that file is absent).
#
# Usage: scripts/build_default_data.sh [REGISTER] [OUT] [BUDGET]
#   REGISTER  default: ../shared/data/raw/sipri_trade_register/trade-register_generated-2026-05-18.original_cut2021.csv
#   OUT       default: evidence/default_data/sipri_us
#   BUDGET    default: ../shared/data/raw/dod_procurement_lineitems_pb2013_2017/dod_procurement_lineitems_resource_summary_pb2013_2017.csv
# Environment: PYTHON (interpreter to use; default: python3).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

register="${1:-../shared/data/raw/sipri_trade_register/trade-register_generated-2026-05-18.original_cut2021.csv}"
out="${2:-evidence/default_data/sipri_us}"
budget="${3:-../shared/data/raw/dod_procurement_lineitems_pb2013_2017/dod_procurement_lineitems_resource_summary_pb2013_2017.csv}"
python="${PYTHON:-python3}"

if [[ ! -f "$register" ]]; then
    echo "register not found: $register (run from a checkout next to ../shared, or pass a path)" >&2
    exit 1
fi

PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m evidence.sipri \
    --register "$register" --out "$out" --supplier "United States"

# The SIPRI build rewrites SOURCE.md whole; this step adds its own section back.
if [[ -f "$budget" ]]; then
    PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m evidence.dod_budget \
        --budget "$budget" --lors "$out/lors.csv" --out "$out"
else
    echo "DoD P-1 line items not found: $budget; domestic_plans.csv and line_capacities.csv left as they are, without their SOURCE.md section" >&2
fi
