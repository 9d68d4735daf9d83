"""Topic trends: each partner's share of documents per SIPRI category, and its slope over time."""

from __future__ import annotations

from datetime import date

import pytest

from nlp.signals import Document, analyse
from nlp.topics import TOPIC_COLUMNS, period_start, topic_trends


def mentions(*docs: tuple[str, str, date, str]) -> list:
    return [m for d in docs for m in analyse(Document(d[1], d[3], d[2], d[0], "test"))]


def test_shares_and_trend_follow_what_the_documents_talk_about() -> None:
    found = mentions(
        ("The navy needs new frigates.", "a", date(2009, 3, 1), "india"),
        ("The air force needs fighter jets.", "b", date(2009, 6, 1), "india"),
        ("Air defence systems are a priority.", "c", date(2010, 2, 1), "india"),
        ("The navy wants frigates and air defence systems.", "d", date(2011, 2, 1), "india"),
        ("More air defence systems are needed.", "e", date(2011, 5, 1), "india"),
        ("The army needs tanks.", "f", date(2011, 1, 1), "brazil"),
    )
    table = topic_trends(found)
    assert list(table.columns) == TOPIC_COLUMNS
    india = table[table.partner == "india"]
    ships = india[india.topic == "Ships"].set_index("period")
    # 2010 has a document from India but none on ships: share 0, not a missing year
    assert ships["share"].to_dict() == pytest.approx({"2009": 0.5, "2010": 0.0, "2011": 0.5})
    assert ships["provenance"].to_dict()["2011"] == ["d"]
    air_defence = india[india.topic == "Air defence systems"].set_index("period")
    assert air_defence["share"].to_dict() == pytest.approx({"2009": 0.0, "2010": 1.0, "2011": 1.0})
    assert air_defence["trend"].iloc[0] == pytest.approx(0.5)  # least-squares slope per year
    assert ships["trend"].iloc[0] == pytest.approx(0.0)
    assert set(table[table.partner == "brazil"].topic) == {"Armoured vehicles"}


def test_as_of_hides_later_documents_and_periods_can_be_quarters() -> None:
    found = mentions(
        ("The navy needs new frigates.", "a", date(2009, 3, 1), "india"),
        ("The navy needs more frigates.", "b", date(2009, 8, 1), "india"),
    )
    assert topic_trends(found, as_of="2009-06-30")["documents"].sum() == 1
    quarters = topic_trends(found, period="quarter")
    assert list(quarters.period) == ["2009Q1", "2009Q3"]
    assert period_start("2009Q3") == 2009.5 and period_start("2009-04") == pytest.approx(2009.25)
    assert topic_trends([]).empty
    with pytest.raises(ValueError, match="period"):
        topic_trends(found, period="week")
