#!/usr/bin/env bash
# Rebuild the embedded default dataset (evidence/default_data/sipri_us/) from SIPRI's ORIGINAL export
# (latin-1, with its preamble), so the bundled data is reproducible from the raw file as SIPRI ships it,
# with every supplier's orders to the same partners beside the U.S. ones; then add domestic plans and line
# capacities from the DoD P-1 line items, partners' military expenditure (SIPRI milex → evidence-milex.csv)
# and U.S. sales channels (SAM → evidence-sam.csv); each of these three steps is skipped, with a message,
# if its source file is absent.
#
# Usage: scripts/build_default_data.sh [REGISTER] [OUT] [BUDGET] [MILEX] [SAM]
#   REGISTER  default: ../shared/data/raw/sipri_trade_register/trade-register_generated-2026-05-18.original_cut2021.csv
#   OUT       default: evidence/default_data/sipri_us
#   BUDGET    default: ../shared/data/raw/dod_procurement_lineitems_pb2013_2017/dod_procurement_lineitems_resource_summary_pb2013_2017.csv
#   MILEX     default: ../shared/data/raw/sipri_milex_1949_2021/sipri_milex_1949_2021.csv
#   SAM       default: ../shared/data/raw/sam_us_arms_sales_1996_2020/us_arms_sales_by_country_year.csv
# Environment: PYTHON (interpreter to use; default: python3).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

register="${1:-../shared/data/raw/sipri_trade_register/trade-register_generated-2026-05-18.original_cut2021.csv}"
out="${2:-evidence/default_data/sipri_us}"
budget="${3:-../shared/data/raw/dod_procurement_lineitems_pb2013_2017/dod_procurement_lineitems_resource_summary_pb2013_2017.csv}"
milex="${4:-../shared/data/raw/sipri_milex_1949_2021/sipri_milex_1949_2021.csv}"
sam="${5:-../shared/data/raw/sam_us_arms_sales_1996_2020/us_arms_sales_by_country_year.csv}"
python="${PYTHON:-python3}"

if [[ ! -f "$register" ]]; then
    echo "register not found: $register (run from a checkout next to ../shared, or pass a path)" >&2
    exit 1
fi

PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m sources.sipri \
    --register "$register" --out "$out" --supplier "United States"

# Every supplier's orders to the same partners (supplier_orders.csv). The SIPRI build rewrites SOURCE.md
# whole; this step and the ones below add their own sections back.
PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m sources.suppliers \
    --register "$register" --dataset "$out"

if [[ -f "$budget" ]]; then
    PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m sources.dod_budget \
        --budget "$budget" --lors "$out/lors.csv" --out "$out"
else
    echo "DoD P-1 line items not found: $budget; domestic_plans.csv and line_capacities.csv left as they are, without their SOURCE.md section" >&2
fi

# Partner-level yearly evidence, written beside the dataset's evidence table as evidence-<name>.csv (the
# loader reads them with it) with a section each in SOURCE.md; they need partners.csv and lors.csv above.
if [[ -f "$milex" ]]; then
    PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m sources.milex --milex "$milex" --dataset "$out"
else
    echo "SIPRI milex not found: $milex; evidence-milex.csv left as it is, without its SOURCE.md section" >&2
fi
if [[ -f "$sam" ]]; then
    PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}" "$python" -m sources.sam --sam "$sam" --dataset "$out"
else
    echo "SAM arms sales not found: $sam; evidence-sam.csv left as it is, without its SOURCE.md section" >&2
fi
