"""Phase-2 early signals: mentions, urgency with negation, relations, aggregation, notification signal."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from evidence import gazetteer, taxonomy
from evidence.loaders import LoadError
from nlp.signals import (
    AGGREGATE_COLUMNS,
    Document,
    aggregate,
    analyse,
    notification_signal,
    read_documents,
    sentence_relation,
)

TEXT = (
    "The Indian Air Force urgently needs new fighter jets to replace its aging MiG-21 fleet. "
    "The navy lacks the capability to counter the threat of enemy submarines, creating a requirement "
    "for P-8I maritime patrol aircraft. "
    "Officials said the army does not need more tanks."
)


def doc(
    text: str = TEXT, doc_id: str = "d1", day: date = date(2011, 5, 1), partner: str = "india"
) -> Document:
    return Document(doc_id, partner, day, text, "test")


def test_mention_spans_point_at_the_text() -> None:
    d = doc()
    mentions = analyse(d)
    assert [m.text for m in mentions] == ["fighter jets", "submarines", "P-8I", "tanks"]
    for m in mentions:
        assert d.text[m.start : m.end] == m.text
        assert m.text in m.sentence
        assert m.provenance == f"d1:{m.start}-{m.end}"
        assert m.family in taxonomy.FAMILY_BY_ID
        assert taxonomy.FAMILY_BY_ID[m.family].category == m.category
    by_text = {m.text: m for m in mentions}
    assert by_text["fighter jets"].family == "fighter_aircraft"
    assert by_text["submarines"].family == "combat_ship"
    assert by_text["P-8I"].designation == "P-8I"
    assert by_text["P-8I"].category == "Aircraft"
    assert by_text["tanks"].family == "tank"


def test_designation_absorbs_following_generic_term() -> None:
    mentions = analyse(doc("Kuwait asked for more PATRIOT air defence batteries and F-16 fighter jets."))
    assert [(m.text, m.family) for m in mentions] == [
        ("PATRIOT", "air_defence_system"),
        ("F-16", "fighter_aircraft"),
    ]


def test_negation_flips_urgency() -> None:
    urgent, negated = (
        analyse(doc(t))[0].urgency
        for t in ("The navy urgently needs new frigates.", "The navy does not urgently need new frigates.")
    )
    assert urgent > 0.5
    assert negated < -0.5
    assert math.isclose(urgent, -negated)
    # "no longer adequate" is a concern; "adequate" alone is not.
    assert analyse(doc("Its radars are no longer adequate."))[0].urgency > 0
    assert analyse(doc("Its radars are adequate."))[0].urgency < 0
    # A clause break ends the negation window.
    mixed = analyse(doc("There is no doubt, the shortfall in submarines is critical."))[0].urgency
    assert mixed > 0.9


def test_relations_from_example_sentences() -> None:
    r = sentence_relation(
        "The navy lacks the capability to counter the threat of enemy submarines, creating a requirement "
        "for P-8I maritime patrol aircraft."
    )
    assert r is not None
    assert r.threat == "enemy submarines"
    assert r.gap is not None and r.gap.startswith("capability to counter")
    assert r.system == "P-8I maritime patrol aircraft"
    r = sentence_relation("The air force plans to replace its aging F-5 fighters with new F-16 aircraft.")
    assert r is not None and r.gap == "aging F-5 fighters" and r.system == "new F-16 aircraft"
    r = sentence_relation("Air defences lack capability against cruise missiles.")
    assert r is not None and r.threat == "cruise missiles"
    assert sentence_relation("The frigates visited the port.") is None
    # A negated requirement is not a requirement.
    assert sentence_relation("The army does not need more tanks.") is None


def test_mentions_carry_the_relation_of_their_sentence() -> None:
    mentions = {m.text: m for m in analyse(doc())}
    relation = mentions["P-8I"].relation
    assert relation is not None and relation.threat == "enemy submarines"
    assert mentions["fighter jets"].relation is not None
    assert mentions["fighter jets"].relation.gap == "aging MiG-21 fleet"
    assert mentions["tanks"].relation is None


def test_aggregate_counts_documents_and_defines_signal() -> None:
    docs = [
        doc("The navy urgently needs frigates.", "a", date(2011, 2, 1)),
        doc("Frigates and more frigates are a priority.", "b", date(2011, 8, 1)),
        doc("New frigates were postponed.", "c", date(2012, 1, 5)),
    ]
    mentions = [m for d in docs for m in analyse(d)]
    table = aggregate(mentions)
    assert list(table.columns) == AGGREGATE_COLUMNS
    y2011 = table[(table.family == "combat_ship") & (table.period == "2011")].iloc[0]
    assert y2011.mentions == 3 and y2011.documents == 2
    assert y2011.signal == pytest.approx(math.log1p(2) * (1 + y2011.mean_urgency))
    assert sorted(p.split(":")[0] for p in y2011.provenance) == ["a", "b", "b"]
    y2012 = table[table.period == "2012"].iloc[0]
    assert y2012.mean_urgency < 0 and y2012.signal < math.log1p(1)
    quarters = aggregate(mentions, period="quarter")
    assert set(quarters.period) == {"2011Q1", "2011Q3", "2012Q1"}
    with pytest.raises(ValueError):
        aggregate(mentions, period="week")


def test_as_of_excludes_later_documents() -> None:
    early = analyse(doc("The army needs tanks.", "early", date(2010, 3, 1)))
    late = analyse(doc("The army needs tanks urgently.", "late", date(2010, 9, 1)))
    table = aggregate(early + late, as_of="2010-06-30")
    assert table.documents.sum() == 1
    assert all(p.startswith("early:") for ps in table.provenance for p in ps)
    assert aggregate(early + late, as_of=date(2009, 12, 31)).empty


def test_notification_signal_maps_to_partner_and_family_ids() -> None:
    extractions = [
        {
            "pk": 252,
            "country": "Turkiye",
            "date": "2010-10-20",
            "items": [
                {
                    "designation": "AH-64D Block III APACHE Longbow Helicopters",
                    "quantity": 10,
                    "sipri_category": "Aircraft",
                },
                {"designation": "T700-GE-701D Engines", "quantity": 28, "sipri_category": "Engines"},
                {
                    "designation": "AGM-114R HELLFIRE II Missiles",
                    "quantity": 640,
                    "sipri_category": "Missiles",
                },
            ],
            "primary_category": "Aircraft",
            "kind": "new_equipment",
        },
        {
            "pk": 7,
            "country": "Taiwan",
            "date": "2011-01-29",
            "items": [],
            "primary_category": "Air defence systems",
            "kind": "support_or_services",
        },
        {
            "pk": 8,
            "country": "Taiwan",
            "date": "2012-01-29",
            "items": [],
            "primary_category": "Ships",
            "kind": "upgrade",
        },
        {
            "pk": 9,
            "country": None,
            "date": "2012-01-29",
            "items": [],
            "primary_category": "Ships",
            "kind": "upgrade",
        },
    ]
    table = notification_signal(extractions)
    partners = {p.id for p in gazetteer.known_partners()}
    assert set(table.partner) <= partners
    assert set(table.family) <= set(taxonomy.FAMILY_BY_ID)
    turkey = table[table.partner == "turkiye"].set_index("family")
    assert set(turkey.index) == {"attack_helicopter", "aircraft_engine", "anti_tank_missile"}
    assert turkey.loc["anti_tank_missile", "quantity"] == 640
    assert turkey.loc["attack_helicopter", "provenance"] == ["252"]
    assert (turkey.period == "2010").all() and (turkey.signal == 1.0).all()
    taiwan = table[table.partner == "taiwan"]
    assert list(taiwan.family) == ["air_defence_system", "other_ships"]
    assert list(notification_signal(extractions, as_of="2011-12-31").partner).count("taiwan") == 1


def test_read_documents(tmp_path: Path) -> None:
    good = tmp_path / "docs.csv"
    good.write_text(
        "doc_id,partner,date,text,source\n"
        "1,Turkey,2011-02-03,The army needs tanks.,news\n"
        "2,india,2011-02-04,x,\n",
        encoding="utf-8",
    )
    docs = read_documents(good)
    assert [(d.doc_id, d.partner, d.date, d.source) for d in docs] == [
        ("1", "turkiye", date(2011, 2, 3), "news"),
        ("2", "india", date(2011, 2, 4), ""),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "doc_id,partner,date,text\n1,Atlantis,2011-02-03,x\n1,india,someday,y\n3,india,2011-01-01,\n",
        encoding="utf-8",
    )
    with pytest.raises(LoadError) as err:
        read_documents(bad)
    found = {(p.row, p.column) for p in err.value.problems}
    assert found == {(2, "partner"), (3, "doc_id"), (3, "date"), (4, "text")}
    missing = tmp_path / "missing.csv"
    missing.write_text("doc_id,date,text\n1,2011-01-01,x\n", encoding="utf-8")
    with pytest.raises(LoadError, match="partner"):
        read_documents(missing)
