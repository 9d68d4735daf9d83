from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import xarray as xr

from service.testing import free_port
from totaldemand.cli import app


def test_simulate_writes_loader_formats_and_truth(sim_world: Path, sim_truth: dict) -> None:
    for name in ("partners", "families", "lors", "evidence", "domestic_plans", "line_capacities"):
        assert (sim_world / f"{name}.csv").is_file()
    assert set(sim_truth["params"]) >= {"intercept", "sigma_partner", "dispersion"}


def test_forecast_json_from_a_posterior_file(fitted_path: Path, cli) -> None:
    result = cli.invoke(
        app,
        [
            "forecast",
            "--model",
            str(fitted_path),
            "--horizon",
            "2",
            "--level",
            "0.9",
            "--family",
            "f01",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {c["year"] for c in data["cells"]} == {2020, 2021}
    assert all(c["family"] == "f01" for c in data["cells"])


def test_forecast_table_and_bad_ids(fitted_path: Path, cli) -> None:
    ok = cli.invoke(app, ["forecast", "--model", str(fitted_path), "--horizon", "1"])
    assert ok.exit_code == 0 and "New LORs per family and year" in ok.stdout
    bad = cli.invoke(app, ["forecast", "--model", str(fitted_path), "--partner", "atlantis"])
    assert bad.exit_code == 2 and "atlantis" in bad.output


def test_missing_model_file_exits_2(tmp_path: Path, cli) -> None:
    result = cli.invoke(app, ["forecast", "--model", str(tmp_path / "none.nc")])
    assert result.exit_code == 2 and "totaldemand fit" in result.output


def test_default_dataset_describes(cli) -> None:
    result = cli.invoke(app, ["data", "describe"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["partners"] > 100 and info["families"] >= 20 and info["zero_share"] > 0.9


def test_serve_refuses_a_failed_fit(failed_path: Path, cli) -> None:
    result = cli.invoke(app, ["serve", "--model", str(failed_path), "--port", "1"])
    assert result.exit_code == 2 and "never served" in result.output


def test_serve_ends_bad_start_up_arguments_with_a_message_and_exit_2(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOTALDEMAND_HOME", str(tmp_path / "home"))
    text = tmp_path / "model.nc"
    text.write_text("not a posterior")
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("i", [1.0, 2.0])}).to_netcdf(foreign, engine="h5netcdf")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy, free = str(taken.getsockname()[1]), str(free_port())
        cases = [
            (["--model", str(text)], {}, "not a NetCDF posterior file"),
            (["--model", str(foreign)], {}, "not a nb_hierarchical posterior file"),
            (["--model", str(tmp_path / "missing.nc")], {}, "no such posterior file"),
            (["--model", str(tmp_path)], {}, "no such posterior file"),
            (["--port", "70000"], {}, "--port"),
            (["--port", busy], {}, "cannot listen"),
            (["--port", free], {"TOTALDEMAND_DATABASE_URL": "nonsense://x"}, "database nonsense://x"),
            (
                ["--port", free],
                {"TOTALDEMAND_CONFIG": str(tmp_path / "none.toml")},
                "cannot read config file",
            ),
            (["--port", free], {"TOTALDEMAND_LOG_FORMAT": "xml"}, "log_format"),
        ]
        for args, env, message in cases:
            result = cli.invoke(app, ["serve", *args], env=env)
            assert result.exit_code == 2, (args, env, result.output)
            assert message in result.output and "Traceback" not in result.output, (args, result.output)


def test_priors_check_reports_every_family(sim_world: Path, cli) -> None:
    result = cli.invoke(
        app,
        [
            "priors",
            "check",
            "--data",
            str(sim_world),
            "--first-year",
            "2000",
            "--draws",
            "100",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["family"] for r in rows] == [f"f{i:02d}" for i in range(8)]
    for r in rows:
        for m in ("lors", "units"):
            assert r[f"{m}_observed_min"] <= r[f"{m}_observed_median"] <= r[f"{m}_observed_max"]
            assert r[f"{m}_prior_q05"] <= r[f"{m}_prior_q50"] <= r[f"{m}_prior_q95"]
            # the shipped priors neither miss nor pin the data
            assert 0 < r[f"{m}_prior_share_in_observed_range"] < 1


def test_priors_check_refuses_a_bad_prior_file(cli) -> None:
    bad = Path(__file__).parent / "fixtures" / "priors" / "negative_sigma.toml"
    result = cli.invoke(app, ["priors", "check", str(bad)])
    assert result.exit_code == 2 and "sigma = -1.0 must be > 0" in result.output


def test_forecast_table_shows_total_demand_and_block_buy(fitted_path: Path, sim_world: Path, cli) -> None:
    result = cli.invoke(
        app, ["forecast", "--model", str(fitted_path), "--data", str(sim_world), "--horizon", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "Total demand" in result.stdout and "P(<min)" in result.stdout
    block = cli.invoke(
        app,
        [
            "block-buy",
            "--model",
            str(fitted_path),
            "--partner",
            "p01",
            "--partner",
            "p02",
            "--from",
            "2020",
            "--to",
            "2021",
            "--data",
            str(sim_world),
            "--at-least",
            "30",
        ],
    )
    assert block.exit_code == 0 and "Block buy 2020-2021, 2 partner(s)" in block.stdout
    assert "P(>= 30)" in block.stdout and "plan / firm / pending / new" in block.stdout
    bad = cli.invoke(app, ["block-buy", "--model", str(fitted_path), "--from", "1990"])
    assert bad.exit_code == 2 and "window" in bad.output


def test_ask_answers_the_planners_question(fitted_path: Path, sim_world: Path, cli) -> None:
    base = [
        "ask",
        "--model",
        str(fitted_path),
        "--data",
        str(sim_world),
        "--family",
        "f02",
        "--at-least",
        "2",
    ]
    result = cli.invoke(app, [*base, "--within-months", "18", "--from", "2020-07-01", "--partner", "p01"])
    assert result.exit_code == 0, result.output
    assert "P(p01 request at least 2 units of f02 from 2020-07-01 to 2022-01-01) = " in result.stdout
    assert "rests on: data through 2019" in result.stdout
    bad = cli.invoke(app, [*base, "--within-months", "18", "--from", "2020-13-01"])
    assert bad.exit_code == 2 and "--from" in bad.output
    late = cli.invoke(app, [*base, "--within-months", "60", "--from", "2022-01-01"])
    assert late.exit_code == 2 and "forecast years" in late.output


def test_fit_refuses_an_unknown_component(cli) -> None:
    result = cli.invoke(app, ["fit", "--without", "astrology"])
    assert result.exit_code == 2 and "astrology" in result.output and "dynamics" in result.output


def test_backtest_of_baselines_and_its_bad_input(sim_world: Path, tmp_path: Path, cli) -> None:
    args = ["backtest", "--panel", str(sim_world), "--first-year", "2000", "--samples", "200", "--out"]
    result = cli.invoke(
        app,
        [*args, str(tmp_path), "--origins", "2015..2016", "--horizon", "2", "--models", "climatology,pooled"],
    )
    assert result.exit_code == 0, result.output
    assert "family_year" in result.output and (tmp_path / "scores.json").is_file()
    bad = cli.invoke(app, [*args, str(tmp_path), "--models", "oracle"])
    assert bad.exit_code == 2 and "oracle" in bad.output
    assert cli.invoke(app, [*args, str(tmp_path), "--origins", "soon"]).exit_code == 2
    assert cli.invoke(app, [*args, str(tmp_path), "--parallel-chains", "0"]).exit_code == 2


def _release(title: str, summary: str, request: str, date: str) -> str:
    return (
        f"{title}\n\nTransmittal No: 11-01 WASHINGTON, {date} – The Defense Security Cooperation Agency "
        f"notified Congress today of a possible Foreign Military Sale {summary}\n{request}\n"
        "The prime contractor will be Lockheed Martin.\n"
    )


def test_extract_writes_one_record_per_text_and_refuses_bad_input(tmp_path: Path, cli) -> None:
    import csv

    texts = tmp_path / "texts.csv"
    with texts.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["pk", "text", "title"])
        writer.writerow(
            [
                "a1",
                _release(
                    "Norway – AIM-120C-7 AMRAAM Missiles",
                    "to Norway of AIM-120C-7 missiles for an estimated cost of $85 million.",
                    "The Government of Norway has requested a possible sale of "
                    "48 AIM-120C-7 AMRAAM missiles.",
                    "May 2, 2013",
                ),
                "ignored",
            ]
        )
    out_file = tmp_path / "out.jsonl"
    result = cli.invoke(app, ["extract", "--texts", str(texts), "--out", str(out_file)])
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert record["country"] == "Norway" and record["date"] == "2013-05-02"
    assert record["estimated_cost_usd"] == 85_000_000
    assert [(i["quantity"], i["sipri_category"]) for i in record["items"]] == [(48, "Missiles")]

    # Labels of years the rules never saw are scored as such, with no empty tuning or untouched part.
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "pk,year,date,country,estimated_cost_usd,items,primary_category,kind\n"
        'a1,2013,2013-05-02,Norway,85000000,"[{""designation"": ""AIM-120C-7"", ""quantity"": 48, '
        '""sipri_category"": ""Missiles""}]",Missiles,ammunition_or_munitions\n'
    )
    scored = cli.invoke(app, ["extract", "--texts", str(texts), "--evaluate", str(labels)])
    assert scored.exit_code == 0, scored.output
    assert "unseen years 2013" in scored.output and "tuning part" not in scored.output
    assert "item F1                  1.000" in scored.output

    no_text = tmp_path / "bad.csv"
    no_text.write_text("pk,body\n1,hello\n")
    bad = cli.invoke(app, ["extract", "--texts", str(no_text), "--out", str(out_file)])
    assert bad.exit_code == 2 and "text" in bad.output


def test_data_add_readiness_and_texts(sim_world: Path, tmp_path: Path, cli) -> None:
    reports = tmp_path / "reports.csv"
    reports.write_text("partner,family,date,fleet_size,mission_capable_rate\np00,f00,2012-01-01,12,0.5\n")
    out_dir = tmp_path / "ds"
    ok = cli.invoke(
        app,
        ["data", "add-readiness", "--data", str(sim_world), "--reports", str(reports), "--out", str(out_dir)],
    )
    assert ok.exit_code == 0, ok.output
    assert (out_dir / "lors.csv").is_file()
    reports.write_text("partner,family,date,fleet_size\np00,nope,2012-01-01,12\n")
    bad = cli.invoke(
        app,
        ["data", "add-readiness", "--data", str(sim_world), "--reports", str(reports), "--out", str(out_dir)],
    )
    assert bad.exit_code == 2 and "nope" in bad.output and "unknown family" in bad.output

    docs = tmp_path / "docs.csv"
    docs.write_text(
        "doc_id,partner,date,text\n"
        'd1,Norway,2013-04-01,"The air force urgently lacks modern fighter aircraft '
        'and must replace its aging fleet."\n'
    )
    real = tmp_path / "real"  # the embedded dataset: its partners and families are the gazetteer's
    texts = cli.invoke(app, ["data", "add-texts", "--documents", "--texts", str(docs), "--out", str(real)])
    assert texts.exit_code == 0, texts.output
    from evidence.loaders import load_dataset

    evidence = load_dataset(real).evidence
    mentions = evidence[(evidence["kind"] == "nlp_mention") & evidence["source"].str.startswith("d1:")]
    assert len(mentions) >= 1 and (mentions["value"] > 1).all()  # urgent: above the neutral 1


def test_backtest_refuses_an_unknown_ablation(sim_world: Path, tmp_path: Path, cli) -> None:
    bad = cli.invoke(
        app, ["backtest", "--panel", str(sim_world), "--out", str(tmp_path), "--models", "ours-without-luck"]
    )
    assert bad.exit_code == 2 and "luck" in bad.output


@pytest.mark.parametrize(
    ("variant", "named"),
    [
        ("ours[family_path=spline]", "spline"),
        ("ours[path=ar1]", "path=ar1"),
        ("ours[family_path]", "family_path"),
    ],
)
def test_backtest_refuses_an_unknown_model_choice(
    variant: str, named: str, sim_world: Path, tmp_path: Path, cli
) -> None:
    bad = cli.invoke(
        app, ["backtest", "--panel", str(sim_world), "--out", str(tmp_path), "--models", variant]
    )
    assert bad.exit_code == 2 and named in bad.output and not (tmp_path / "scores.json").exists()


def test_signals_and_topic_trends_from_documents(tmp_path: Path, cli) -> None:
    import pandas as pd

    docs = tmp_path / "docs.csv"
    docs.write_text(
        "doc_id,partner,date,text\n"
        'd1,Norway,2011-04-01,"The navy urgently needs new frigates."\n'
        'd2,Norway,2012-04-01,"Air defence systems are a priority."\n'
        'd3,Norway,2013-04-01,"The navy wants frigates and air defence systems."\n'
    )
    out_file = tmp_path / "signals.csv"
    ok = cli.invoke(app, ["signals", "--texts", str(docs), "--as-of", "2012-12-31", "--out", str(out_file)])
    assert ok.exit_code == 0, ok.output
    table = pd.read_csv(out_file)
    assert set(table["period"]) == {2011, 2012}  # d3 is after the as-of date
    assert table["provenance"].str.startswith(("d1:", "d2:")).all()
    topics = cli.invoke(app, ["signals", "--texts", str(docs), "--topics", "--out", str(out_file)])
    assert topics.exit_code == 0, topics.output
    trends = pd.read_csv(out_file)
    assert trends.groupby("topic")["trend"].first().to_dict() == pytest.approx(
        {"Ships": 0.0, "Air defence systems": 0.5}
    )
    bad = cli.invoke(app, ["signals", "--texts", str(docs), "--period", "week"])
    assert bad.exit_code == 2 and "--period" in bad.output
    late = cli.invoke(app, ["signals", "--texts", str(docs), "--as-of", "2012-13-01"])
    assert late.exit_code == 2 and "2012-13-01" in late.output


def test_data_add_evidence_takes_the_shipped_dsca_signal_and_names_bad_rows(tmp_path: Path, cli) -> None:
    from importlib.resources import files

    from evidence.loaders import load_dataset

    shipped = Path(str(files("evidence") / "default_data" / "dsca_notifications.csv"))
    out_dir = tmp_path / "ds"
    ok = cli.invoke(app, ["data", "add-evidence", "--evidence", str(shipped), "--out", str(out_dir)])
    assert ok.exit_code == 0, ok.output
    evidence = load_dataset(out_dir).evidence
    notified = evidence[evidence["kind"] == "nlp_mention"]
    assert len(notified) == len(shipped.read_text().splitlines()) - 1
    assert notified["source"].str.startswith("dsca:").all()

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "partner,family,date,kind,value\n"
        "norway,fighter_aircraft,2010-01-01,nlp_mention,1\n"
        "atlantis,,2010-01-01,nlp_mention,1\n"
    )
    before = (out_dir / "evidence.parquet").read_bytes()
    refused = cli.invoke(
        app, ["data", "add-evidence", "--data", str(out_dir), "--evidence", str(bad), "--out", str(out_dir)]
    )
    assert refused.exit_code == 2
    assert (
        "row 3" in refused.output and "atlantis" in refused.output and "unknown partner id" in refused.output
    )
    assert (out_dir / "evidence.parquet").read_bytes() == before  # nothing stored changed


def test_sbc_refuses_a_model_without_a_calibration(tmp_path: Path, cli) -> None:
    result = cli.invoke(app, ["sbc", "--out", str(tmp_path), "--model", "system_shares"])
    assert result.exit_code == 2
    assert "'system_shares' is not one of" in result.output and "us_share" in result.output
    assert not any(tmp_path.iterdir())  # nothing written before the refusal
