"""Scoring extractions against the hand labels.

**Fields.** ``country``, ``date``, ``estimated_cost_usd``, ``primary_category`` and ``kind`` are scored by
exact equality (costs as integers; a null prediction is wrong).

**Items.** A predicted item matches a gold item when

1. the quantities are equal,
2. the SIPRI categories are equal, and
3. the designations are compatible: after normalisation (lower case; codes such as ``AIM-120C-7`` reduced
   to ``aim120c7`` and to their stem ``aim120``; generic words such as *missile*, *system*, *block*
   dropped) they share at least one token, or one is an acronym of a run of words of the other
   (``M-TADS/PNVS`` ↔ *Modernized Target Acquisition Designation Sight / Pilot Night Vision Sensor*).

Matching is one-to-one: pairs are taken greedily by decreasing token overlap. Precision, recall and F1
are micro-averaged over all items of the releases scored; a release with no gold and no predicted items
adds nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nlp._classify import words
from nlp._items import informative_tokens

FIELDS: tuple[str, ...] = ("country", "date", "estimated_cost_usd", "primary_category", "kind")
_ACRONYM_SKIP = frozenset({"and", "of", "the", "for", "with", "a", "an"})


@dataclass(frozen=True)
class ReleaseErrors:
    pk: object
    fields: dict[str, tuple[object, object]]  # field → (predicted, gold)
    missing: list[dict]  # gold items not matched
    extra: list[dict]  # predicted items not matched


@dataclass(frozen=True)
class Evaluation:
    releases: int
    accuracy: dict[str, float]
    items_gold: int
    items_predicted: int
    items_matched: int
    errors: list[ReleaseErrors] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.items_matched / self.items_predicted if self.items_predicted else 1.0

    @property
    def recall(self) -> float:
        return self.items_matched / self.items_gold if self.items_gold else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def read_labels(path: Path | str) -> dict[object, dict]:
    """Gold labels keyed by pk (as string), items parsed from JSON, costs as int."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    labels: dict[object, dict] = {}
    for row in frame.to_dict("records"):
        row["items"] = json.loads(row["items"]) if row.get("items") else []
        cost = row.get("estimated_cost_usd", "")
        row["estimated_cost_usd"] = int(float(cost)) if cost else None
        row["year"] = int(row["year"]) if row.get("year") else int(str(row["date"])[:4])
        labels[str(row["pk"])] = row
    return labels


def _acronym(short: str, long: str) -> bool:
    letters = [w[0] for w in re.split(r"[\s/\-()]+", long.lower()) if w and w not in _ACRONYM_SKIP]
    initials = "".join(letters)
    for token in re.split(r"[\s/\-()]+", short):
        if not token.isupper():
            continue  # only capitalised abbreviations can be acronyms
        token = re.sub(r"[^a-z]", "", token.lower())
        if len(token) >= 3 and token in initials:
            return True
    return False


def designations_compatible(a: str, b: str) -> bool:
    if informative_tokens(a) & informative_tokens(b):
        return True
    return _acronym(a, b) or _acronym(b, a)


def _overlap(a: str, b: str) -> int:
    return len(informative_tokens(a) & informative_tokens(b)) + len(set(words(a)) & set(words(b)))


def match_items(predicted: list[dict], gold: list[dict]) -> list[tuple[int, int]]:
    """One-to-one matches (index into predicted, index into gold) under the rule in the module doc."""
    pairs = []
    for i, p in enumerate(predicted):
        for j, g in enumerate(gold):
            if (
                int(p["quantity"]) == int(g["quantity"])
                and p["sipri_category"] == g["sipri_category"]
                and designations_compatible(str(p["designation"]), str(g["designation"]))
            ):
                pairs.append((_overlap(str(p["designation"]), str(g["designation"])), i, j))
    pairs.sort(key=lambda t: -t[0])
    used_p: set[int] = set()
    used_g: set[int] = set()
    matches = []
    for _, i, j in pairs:
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
        matches.append((i, j))
    return matches


def evaluate(
    predictions: Iterable[dict], labels_path: Path | str, pks: Iterable[object] | None = None
) -> Evaluation:
    labels = read_labels(labels_path)
    wanted = {str(pk) for pk in pks} if pks is not None else None
    by_pk = {str(p["pk"]): p for p in predictions}
    scored = [pk for pk in labels if (wanted is None or pk in wanted)]
    correct = dict.fromkeys(FIELDS, 0)
    gold_n = pred_n = matched_n = 0
    errors: list[ReleaseErrors] = []
    for pk in scored:
        gold = labels[pk]
        pred = by_pk.get(pk, {})
        wrong: dict[str, tuple[object, object]] = {}
        for f in FIELDS:
            got, want = pred.get(f), gold.get(f)
            if f == "estimated_cost_usd":
                ok = got is not None and want is not None and int(got) == int(want)
            else:
                ok = got is not None and str(got) == str(want)
            correct[f] += ok
            if not ok:
                wrong[f] = (got, want)
        p_items = list(pred.get("items") or [])
        g_items = list(gold["items"])
        matches = match_items(p_items, g_items)
        gold_n += len(g_items)
        pred_n += len(p_items)
        matched_n += len(matches)
        mp = {i for i, _ in matches}
        mg = {j for _, j in matches}
        missing = [g for j, g in enumerate(g_items) if j not in mg]
        extra = [p for i, p in enumerate(p_items) if i not in mp]
        if wrong or missing or extra:
            errors.append(ReleaseErrors(pk, wrong, missing, extra))
    n = len(scored)
    accuracy = {f: (correct[f] / n if n else 0.0) for f in FIELDS}
    return Evaluation(n, accuracy, gold_n, pred_n, matched_n, errors)


def format_evaluation(ev: Evaluation) -> str:
    lines = [f"{'measure':<22}{'value':>8}", "-" * 30]
    lines.append(f"{'releases':<22}{ev.releases:>8d}")
    for f in FIELDS:
        lines.append(f"{f + ' accuracy':<22}{ev.accuracy[f]:>8.3f}")
    lines.append(f"{'items gold':<22}{ev.items_gold:>8d}")
    lines.append(f"{'items predicted':<22}{ev.items_predicted:>8d}")
    lines.append(f"{'items matched':<22}{ev.items_matched:>8d}")
    lines.append(f"{'item precision':<22}{ev.precision:>8.3f}")
    lines.append(f"{'item recall':<22}{ev.recall:>8.3f}")
    lines.append(f"{'item F1':<22}{ev.f1:>8.3f}")
    return "\n".join(lines)


def format_errors(ev: Evaluation) -> str:
    """Per-release listing of wrong fields and unmatched items, for debugging."""
    out: list[str] = []
    for e in ev.errors:
        out.append(f"pk {e.pk}:")
        for f, (got, want) in e.fields.items():
            out.append(f"  {f}: predicted {got!r}, gold {want!r}")
        for g in e.missing:
            out.append(f"  missing: {g['quantity']} {g['designation']} [{g['sipri_category']}]")
        for p in e.extra:
            out.append(f"  extra:   {p['quantity']} {p['designation']} [{p['sipri_category']}]")
    return "\n".join(out)
