"""``cxmine conform`` with an SOP library, --worst, variants.csv, the warning on a mixed log, and the
bundled sample's contact that ended early."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.errors import ModelError
from engine.model import load_sop_library

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
SAMPLE = ROOT / "eventlogs" / "sample"


@pytest.fixture(scope="module")
def sample_log(tmp_path_factory) -> str:
    """The bundled sample (20,000 contacts over the five SOPs) as a stored log."""
    log = tmp_path_factory.mktemp("sample") / "log.parquet"
    res = CliRunner().invoke(main, ["ingest", str(SAMPLE / "contacts.csv.gz"), "--mapping",
                                    str(SAMPLE / "mapping.toml"), "-o", str(log), "-q"],
                             env={"CXMINE_PSEUDONYM_KEY": "k"})
    assert res.exit_code == 0, res.output
    return str(log)


def _json(args):
    res = CliRunner().invoke(main, ["conform", *args, "--json", "-q"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_library_equals_single_sop_runs_and_contacts_add_up(sample_log):
    lib = _json([sample_log, "--sop", str(MODELS)])
    assert len(lib["sops"]) == 5
    total = sum(s["contacts"] for s in lib["sops"]) + lib["unmatched"]["contacts"] + lib["ambiguous"]["contacts"]
    assert total == lib["contacts"] == 20_000
    for s in lib["sops"]:
        name = Path(s["path"]).stem
        one = _json([sample_log, "--sop", str(MODELS / f"{name}.bpmn"), "--where", f"intent={name}"])
        for key in ("contacts", "events", "variants", "log_fitness", "audit_fitness", "tokens", "steps"):
            assert s[key] == one[key], (name, key)


def test_unmatched_and_ambiguous_contacts_are_counted_never_replayed(sample_log, tmp_path):
    for name, rule in (("lost_card", 'intent = ["lost_card", "billing_dispute"]'),
                       ("billing_dispute", 'intent = "billing_dispute"'), ("order_delivery", 'intent = "nobody"')):
        shutil.copy(MODELS / f"{name}.bpmn", tmp_path / f"{name}.bpmn")
        side = (MODELS / f"{name}.toml").read_text(encoding="utf-8")
        side = side[:side.index("[applies_to]")] + f"[applies_to]\n{rule}\n"
        (tmp_path / f"{name}.toml").write_text(side, encoding="utf-8")
    lib = _json([sample_log, "--sop", str(tmp_path), "--examples", "2"])
    by_path = {Path(s["path"]).stem: s for s in lib["sops"]}
    assert by_path["billing_dispute"]["contacts"] == 0        # all its contacts are ambiguous
    assert by_path["order_delivery"]["contacts"] == 0
    lost = _json([sample_log, "--sop", str(MODELS / "lost_card.bpmn"), "--where", "intent=lost_card"])
    billing = _json([sample_log, "--sop", str(MODELS / "billing_dispute.bpmn"), "--where", "intent=billing_dispute"])
    assert by_path["lost_card"]["contacts"] == lost["contacts"]
    assert lib["ambiguous"]["contacts"] == billing["contacts"] and len(lib["ambiguous"]["examples"]) == 2
    assert lib["unmatched"]["contacts"] == 20_000 - lost["contacts"] - billing["contacts"]
    assert sum(s["contacts"] for s in lib["sops"]) + lib["unmatched"]["contacts"] + lib["ambiguous"]["contacts"] \
        == 20_000


def test_library_text_and_csv(sample_log, tmp_path):
    res = CliRunner().invoke(main, ["conform", sample_log, "--sop", str(MODELS / "lost_card.bpmn"), "--sop",
                                    str(MODELS / "order_delivery.bpmn"), "--csv", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].startswith("SOP library: 20,000 contacts")
    assert any(line.startswith("Lost or stolen card") and "3,805" in line for line in lines[:6])
    assert any(line.startswith("(no SOP applies)") and "12,191" in line for line in lines[:9])
    assert (tmp_path / "out" / "sops.csv").exists()
    for name in ("lost_card", "order_delivery"):
        assert (tmp_path / "out" / name / "deviations.csv").exists()
        assert (tmp_path / "out" / name / "variants.csv").exists()


def test_library_sidecar_without_applies_to_is_an_error(tmp_path):
    for name in ("lost_card", "billing_dispute"):
        shutil.copy(MODELS / f"{name}.bpmn", tmp_path / f"{name}.bpmn")
    shutil.copy(MODELS / "lost_card.toml", tmp_path / "lost_card.toml")
    with pytest.raises(ModelError, match="every SOP must say which contacts it applies to"):
        load_sop_library([tmp_path])
    res = CliRunner().invoke(main, ["conform", "x.parquet", "--sop", str(tmp_path)])
    assert res.exit_code == 1


def test_applies_to_must_be_values(tmp_path):
    shutil.copy(MODELS / "lost_card.bpmn", tmp_path / "lost_card.bpmn")
    side = (MODELS / "lost_card.toml").read_text(encoding="utf-8")
    (tmp_path / "lost_card.toml").write_text(side.replace('intent = "lost_card"', "intent = 3"), encoding="utf-8")
    with pytest.raises(ModelError, match="applies_to.intent must be a string or a non-empty list of strings"):
        load_sop_library([tmp_path])


def test_mixed_log_warns_and_suggests_where(sample_log):
    res = CliRunner().invoke(main, ["conform", sample_log, "--sop", str(MODELS / "lost_card.bpmn"), "-q"])
    assert res.exit_code == 0
    assert "Warning: 81% of the contacts run steps that Lost or stolen card does not know and do not fit it" in res.stderr
    assert "--where intent=lost_card" in res.stderr and "--sop" in res.stderr
    out = _json([sample_log, "--sop", str(MODELS / "lost_card.bpmn")])
    assert out["mixed_log"] is True and out["warning"].startswith("81% of the contacts")
    assert out["contacts_with_unknown"] == 16_207
    selected = CliRunner().invoke(main, ["conform", sample_log, "--sop", str(MODELS / "lost_card.bpmn"),
                                         "--where", "intent=lost_card", "-q"])
    assert "Warning" not in selected.stderr
    assert _json([sample_log, "--sop", str(MODELS / "lost_card.bpmn"), "--where", "intent=lost_card"])["warning"] \
        is None


def test_contact_that_stopped_early_is_explained_on_the_sample(sample_log, tmp_path):
    args = [sample_log, "--sop", str(MODELS / "order_delivery.bpmn"), "--where", "intent=order_delivery"]
    out = _json(args + ["--worst", "40"])
    row = [w for w in out["worst_variants"] if w["activities"] == ["Bot intent", "Bot answer", "Bot handoff"]]
    assert len(row) == 1 and row[0]["fitness"] == 0.75 and row[0]["deviations"] == ["ended_early: Queue"]
    assert len(_json(args + ["--worst", "3"])["worst_variants"]) == 3
    res = CliRunner().invoke(main, ["conform", *args, "--worst", "2", "--csv", str(tmp_path), "-q"])
    assert res.exit_code == 0
    text = res.stdout
    assert "Worst variants (the 2 lowest audit fitness)" in text
    with open(tmp_path / "variants.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == out["variants"]
    assert sum(int(r["contacts"]) for r in rows) == out["contacts"]
    assert all(r["deviations"] for r in rows if float(r["audit_fitness"]) < 1.0)


def test_text_numbers_are_readable(sample_log):
    res = CliRunner().invoke(main, ["conform", sample_log, "--sop", str(MODELS / "lost_card.bpmn"),
                                    "--where", "intent=lost_card", "-q"])
    dev = res.stdout[res.stdout.index("Deviations by step"):].splitlines()
    header = dev[1].split()
    assert header[:6] == ["step", "kind", "owner", "critical", "contacts", "share"]
    assert any(line.rstrip().split()[-2].endswith("%") for line in dev[3:6])   # share as a percentage
    assert "contacts           3,805" in res.stdout


def test_worst_must_not_be_negative(sample_log):
    res = CliRunner().invoke(main, ["conform", sample_log, "--sop", str(MODELS / "lost_card.bpmn"),
                                    "--worst", "-1"])
    assert res.exit_code == 2 and "--worst must be 0 or more" in res.output


def _kpi(args):
    res = CliRunner().invoke(main, ["kpi", *args, "--json", "-q"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_kpi_library_compliance_equals_single_sop_runs_and_contacts_add_up(sample_log):
    lib = _kpi([sample_log, "--sop", str(MODELS), "--by", "team"])
    assert len(lib["sops"]) == 5
    assert sum(s["contacts"] for s in lib["sops"]) + lib["unmatched"]["contacts"] + lib["ambiguous"]["contacts"] \
        == lib["contacts"] == 20_000
    assert lib["overall"]["overall"]["events_per_contact"]["denominator"] == 20_000
    assert "compliance_rate" not in lib["overall"]["overall"]     # no one SOP for all the contacts
    compliant = in_scope = 0
    for s in lib["sops"]:
        name = Path(s["path"]).stem
        one = _kpi([sample_log, "--sop", str(MODELS / f"{name}.bpmn"), "--where", f"intent={name}", "--by", "team"])
        assert s["overall"]["compliance_rate"] == one["overall"]["compliance_rate"], name
        assert s["segments"] == one["segments"], name        # every KPI of every team: the same contacts
        assert s["critical_steps"] == one["critical_steps"] and s["critical_steps"]
        assert s["contacts"] == one["overall"]["events_per_contact"]["denominator"] > 0
        compliant += s["overall"]["compliance_rate"]["numerator"]
        in_scope += s["overall"]["compliance_rate"]["denominator"]
    assert (lib["compliance_rate"]["numerator"], lib["compliance_rate"]["denominator"]) == (compliant, in_scope)
    assert 0 < compliant < in_scope


def test_kpi_library_never_measures_unmatched_or_ambiguous_contacts(sample_log, tmp_path):
    for name, rule in (("lost_card", 'intent = ["lost_card", "billing_dispute"]'),
                       ("billing_dispute", 'intent = "billing_dispute"')):
        shutil.copy(MODELS / f"{name}.bpmn", tmp_path / f"{name}.bpmn")
        side = (MODELS / f"{name}.toml").read_text(encoding="utf-8")
        (tmp_path / f"{name}.toml").write_text(side[:side.index("[applies_to]")] + f"[applies_to]\n{rule}\n",
                                               encoding="utf-8")
    lib = _kpi([sample_log, "--sop", str(tmp_path)])
    by_path = {Path(s["path"]).stem: s for s in lib["sops"]}
    lost = _kpi([sample_log, "--sop", str(MODELS / "lost_card.bpmn"), "--where", "intent=lost_card"])
    billing = _kpi([sample_log, "--where", "intent=billing_dispute"])["overall"]["events_per_contact"]["denominator"]
    assert by_path["billing_dispute"]["contacts"] == 0 and by_path["billing_dispute"]["overall"][
        "compliance_rate"]["denominator"] == 0
    assert by_path["lost_card"]["overall"]["compliance_rate"] == lost["overall"]["compliance_rate"]
    assert lib["ambiguous"]["contacts"] == billing and len(lib["ambiguous"]["examples"]) == 5
    assert lib["unmatched"]["contacts"] == 20_000 - by_path["lost_card"]["contacts"] - billing
    assert lib["compliance_rate"] == lost["overall"]["compliance_rate"]
    # --where counts only the selected contacts, and the counts still add up
    sel = _kpi([sample_log, "--sop", str(tmp_path), "--where", "intent=lost_card,order_delivery"])
    assert sel["unmatched"]["contacts"] + sum(s["contacts"] for s in sel["sops"]) == sel["contacts"] \
        == by_path["lost_card"]["contacts"] + _kpi([sample_log, "--where", "intent=order_delivery"])[
            "overall"]["events_per_contact"]["denominator"]
    assert sel["ambiguous"]["contacts"] == 0


def test_kpi_library_text_csv_and_errors(sample_log, tmp_path):
    res = CliRunner().invoke(main, ["kpi", sample_log, "--sop", str(MODELS / "lost_card.bpmn"), "--sop",
                                    str(MODELS / "order_delivery.bpmn"), "--csv", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].startswith("SOP library: 20,000 contacts")
    assert any(line.startswith("Lost or stolen card") and "3,805" in line and "97.1%" in line for line in lines[:6])
    assert any(line.startswith("(no SOP applies)") and "12,191" in line for line in lines[:9])
    with open(tmp_path / "out" / "sop_compliance.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    lost = next(r for r in rows if r["sop"] == "Lost or stolen card" and r["attribute"] == "all")
    assert (lost["contacts"], lost["compliant"], lost["in_scope"]) == ("3805", "3685", "3797")
    assert next(r for r in rows if r["sop"] == "(unmatched)")["contacts"] == "12191"
    assert (tmp_path / "out" / "kpis.csv").exists()
    res = CliRunner().invoke(main, ["kpi", sample_log, "--sop", str(MODELS), "--engine", "dask"])
    assert res.exit_code == 2 and "--engine dask measures one SOP file" in res.output


def test_extra_steps_alone_do_not_make_a_log_mixed(tmp_path):
    """A lost-card log with holds, CRM lookups and notes between the SOP's steps (the realistic
    variety): most contacts run a step the SOP does not know, yet the log is not mixed."""
    sim = tmp_path / "sim"
    res = CliRunner().invoke(main, ["simulate", "--sop", str(MODELS / "lost_card.bpmn"), "--contacts", "3000",
                                    "--seed", "7", "--deviation-rate", "0.05", "--variety", "realistic",
                                    "-o", str(sim), "-q"])
    assert res.exit_code == 0, res.output
    log = tmp_path / "log.parquet"
    res = CliRunner().invoke(main, ["ingest", str(sim / "contacts.csv"), "--mapping", str(sim / "mapping.toml"),
                                    "-o", str(log), "-q"])
    assert res.exit_code == 0, res.output
    out = _json([str(log), "--sop", str(MODELS / "lost_card.bpmn")])
    assert out["unknown_contact_share"] > 0.5
    assert out["foreign_contact_share"] < 0.25 and out["mixed_log"] is False and out["warning"] is None
