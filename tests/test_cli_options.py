"""--by and --where behave the same on every analysis command (variants, dfg, kpi, conform)."""

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "eventlogs" / "small"
SOP = ROOT / "models" / "lost_card.bpmn"
COMMANDS = {"variants": [], "dfg": [], "kpi": [], "conform": ["--sop", str(SOP)]}


@pytest.fixture(scope="module")
def truth():
    with open(SMALL / "ground_truth" / "contacts.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def run_json(command, log, *args):
    res = run(command, log, *COMMANDS[command], *args, "--json", "-q")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def segment_blocks(command, data) -> dict[str, set[str]]:
    """attribute -> segment labels, read from each command's JSON."""
    if command == "conform":
        out: dict[str, set[str]] = {}
        for row in data["segment_fitness"]:
            out.setdefault(row["attribute"], set()).add(row["value"])
        return out
    return {attr: set(labels) for attr, labels in data["segments"].items()}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_by_takes_case_attributes_on_every_command(small_log, truth, command):
    data = run_json(command, small_log, "--by", "intent")
    intents = {r["sop"] for r in truth}
    assert segment_blocks(command, data)["intent"] == intents


@pytest.mark.parametrize("command", ["variants", "dfg", "kpi"])
def test_by_takes_week_on_every_command(small_log, truth, command):
    import datetime as dt
    weeks = {"{}-W{:02d}".format(*dt.datetime.fromisoformat(r["arrival"]).isocalendar()[:2]) for r in truth}
    data = run_json(command, small_log, "--by", "week")
    assert segment_blocks(command, data) == {"week": weeks}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_by_repeated_equals_comma_separated(small_log, command):
    repeated = run_json(command, small_log, "--by", "queue", "--by", "intent")
    commas = run_json(command, small_log, "--by", "queue,intent")
    assert repeated == commas
    blocks = segment_blocks(command, commas)
    assert {"queue", "intent"} <= set(blocks)
    if command != "conform":
        assert list(commas["segments"]) == ["queue", "intent"]  # one block per attribute, in the order given


@pytest.mark.parametrize("command", ["variants", "dfg", "kpi"])
def test_text_has_one_block_per_attribute(small_log, command):
    res = run(command, small_log, "--by", "site,intent", "-q")
    assert res.exit_code == 0, res.output
    assert "site = S1" in res.stdout or "\nsite " in res.stdout
    assert "intent = lost_card" in res.stdout or "\nintent " in res.stdout


@pytest.mark.parametrize("command", list(COMMANDS))
def test_where_selects_the_same_contacts_on_every_command(small_log, truth, command):
    expected = sum(1 for r in truth if r["sop"] == "lost_card")
    data = run_json(command, small_log, "--where", "intent=lost_card")
    counted = {"variants": lambda d: d["n_cases"], "dfg": lambda d: d["n_cases"],
               "kpi": lambda d: d["overall"]["events_per_contact"]["denominator"],
               "conform": lambda d: d["contacts"]}[command](data)
    assert counted == expected > 0


def test_kpi_where_keeps_repeat_links_of_the_whole_log(small_log):
    everything = run_json("kpi", small_log, "--by", "intent")
    selected = run_json("kpi", small_log, "--where", "intent=lost_card")
    assert selected["overall"] == everything["segments"]["intent"]["lost_card"]


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("option, value, role, close", [("--by", "tema", "segment", "team"),
                                                         ("--where", "intnt=lost_card", "select", "intent")])
def test_misspelt_attribute_names_closest_match_then_all(small_log, command, option, value, role, close):
    res = run(command, small_log, *COMMANDS[command], option, value)
    assert res.exit_code == 1 and "Traceback" not in res.output
    name = value.split("=")[0]
    assert f"Cannot {role} by '{name}': the log has no such attribute" in res.output
    suggestion = res.output.index(f"Did you mean '{close}'?")
    listing = res.output.index("Attributes of this log: ")
    assert suggestion < listing
    assert "intent, outcome, week" in res.output[listing:]
    # checked against the schema before the log is encoded
    assert f"encoding {small_log}" not in res.output


@pytest.mark.parametrize("command", list(COMMANDS))
def test_malformed_where_is_a_usage_error(small_log, command):
    res = run(command, small_log, *COMMANDS[command], "--where", "intent")
    assert res.exit_code == 2 and "Invalid value for '--where'" in res.output
    assert "is not ATTR=VALUE" in res.output


@pytest.mark.parametrize("command", ["variants", "kpi"])
def test_where_takes_week(small_log, truth, command):
    import datetime as dt
    week = "{}-W{:02d}".format(*dt.datetime.fromisoformat(truth[0]["arrival"]).isocalendar()[:2])
    expected = sum(1 for r in truth
                   if "{}-W{:02d}".format(*dt.datetime.fromisoformat(r["arrival"]).isocalendar()[:2]) == week)
    data = run_json(command, small_log, "--where", f"week={week}")
    counted = data["n_cases"] if command == "variants" else data["overall"]["events_per_contact"]["denominator"]
    assert counted == expected > 0
