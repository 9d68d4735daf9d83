"""Index an older backtest's prediction cache by contender name, so that another backtest can read its
predictions instead of refitting them (``totaldemand backtest --parts-from DIR``, e.g. to stack ours
fitted by another commit with baselines run here).

A cache key hashes the code that made the entry (the source of ``bayes/``, ``priors/``, ``evidence/``
and the backtest) and the training data as that code built it, so only that code can say which key is
which contender. Run this script with that code first on the path: from the root of the checkout or
worktree that ran the backtest (or name it with ``--code-root``), with the backtest's own settings::

    cd /tmp/bt-wt && /work/main/.venv/bin/python /work/main/scripts/index_backtest_cache.py \\
        --cache /tmp/bt_recency/cache --models 'ours,ours[recency=own]' --origins 2010..2018 \\
        --horizon 3 --out /tmp/bt_recency_index

For each (contender, origin) whose entry is in the cache it writes ``<key>.json`` into ``--out``
(default: the cache directory): contender, origin, horizon, samples, seed and the entry's absolute path
as ``file`` -- the records :class:`validation._cache.CacheIndex` reads. It lists the ones not (yet)
there; run it again when the backtest has gone further. A backtest run by code that writes these
records itself (beside each entry) needs no index.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _split(text: str) -> list[str]:
    """Comma-separated names, commas inside brackets kept (``ours[a=b;c=d]`` is one name)."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    return [item.strip() for item in [*items, current] if item.strip()]


def _origins(text: str) -> list[int]:
    if ".." in text:
        first, last = (int(x) for x in text.split(".."))
        return list(range(first, last + 1))
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, required=True, help="The backtest's cache directory.")
    parser.add_argument("--models", required=True, help="Its contenders, as given to --models.")
    parser.add_argument("--origins", required=True, help="Its origins, FIRST..LAST or a list.")
    parser.add_argument("--horizon", type=int, required=True)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first-year", type=int, default=1990)
    parser.add_argument("--panel", type=Path, default=None, help="Its dataset (default: the embedded one).")
    parser.add_argument("--code-root", type=Path, default=Path.cwd(), help="Its code [default: here].")
    parser.add_argument("--out", type=Path, default=None, help="Where the records go [default: --cache].")
    args = parser.parse_args()

    # that backtest's code, not this checkout's: the keys hash it
    sys.path.insert(0, str(args.code_root.resolve()))
    from evidence.loaders import default_dataset_path, load_dataset
    from validation._cache import cache_key, cache_record, code_fingerprint
    from validation.backtest import contender_for, training_panel

    print(f"code: {args.code_root.resolve()} (fingerprint {code_fingerprint()[:12]})")
    dataset = load_dataset(args.panel or default_dataset_path())
    names = _split(args.models)
    contenders = {name: contender_for(name, args.first_year) for name in names}
    out = args.out or args.cache
    out.mkdir(parents=True, exist_ok=True)
    found, missing = 0, []
    for origin in _origins(args.origins):
        data_hash = str(training_panel(dataset, origin, args.first_year).attrs["data_hash"])
        for name, contender in contenders.items():
            task = {"origin": origin, "horizon": args.horizon, "samples": args.samples}
            task["seed"] = args.seed + origin
            # the look-ahead check is part of the key; which entries had it depends on the run's
            # settings, so both are tried (a key names at most one entry)
            for checked in (False, True):
                token = {**contender.token(), **task, "lookahead_checked": checked}  # type: ignore[attr-defined]
                key = cache_key(token, data_hash)
                entry = (args.cache / f"{key}.npz").resolve()
                if entry.is_file():
                    record = {**cache_record(token, name), "file": str(entry)}
                    (out / f"{key}.json").write_text(json.dumps(record, sort_keys=True))
                    found += 1
                    break
            else:
                missing.append(f"{name}@{origin}")
    print(f"indexed {found} entries into {out}; not in the cache: {', '.join(missing) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
