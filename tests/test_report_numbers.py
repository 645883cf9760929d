"""Numbers for people in text output; full precision, named units in CSV and JSON."""

import csv
import json
import re

import pytest
from click.testing import CliRunner

from engine.cli import main



def max_digits(text: str) -> int:
    """The most significant digits of any decimal number written in a CSV text."""
    from decimal import Decimal
    numbers = re.findall(r"(?<![\w.])-?\d+\.\d+(?:e-?\d+)?(?![\w.])", text)
    return max((len(Decimal(n).normalize().as_tuple().digits) for n in numbers), default=0)


def test_formatters():
    from engine.report.numbers import csv_value, format_count, format_duration, format_share, format_value
    assert format_share(0.09545) == "9.5%" and format_share(1.0) == "100.0%" and format_share(0.0) == "0.0%"
    assert format_share(0.00012) == "0.012%" and format_share(None) == "-"
    assert format_duration(991) == "16m 31s" and format_duration(7500) == "2h 05m"
    assert format_duration(97200) == "1d 3h" and format_duration(45.2) == "45s"
    assert format_duration(7.0) == "7s" and format_duration(4.25) == "4.2s" and format_duration(0.35) == "0.35s"
    assert format_duration(59.6) == "1m 00s" and format_duration(3599.8) == "1h 00m"
    assert format_duration(-90) == "-1m 30s" and format_duration(None) == "-"
    assert format_count(1234567) == "1,234,567" and format_count(12.0) == "12"
    assert format_value(0.5, "share") == "50.0%" and format_value(990.7, "s") == "16m 31s"
    assert format_value(3, None) == "3" and format_value("T1", "share") == "T1"
    assert csv_value(0.09545454545454546) == 0.09545454545 and csv_value(990.7) == 990.7 and csv_value(3) == 3


def test_kpi_text_is_readable(small_log):
    res = CliRunner().invoke(main, ["kpi", small_log, "--by", "team", "-q"])
    assert res.exit_code == 0, res.output
    lines = {line.split()[0]: line for line in res.stdout.splitlines() if line.strip()}
    assert re.search(r"aht_s\s+\d+m \d\ds\s+\d+d \d+h\s+113\s+s$", lines["aht_s"]), lines["aht_s"]
    assert re.search(r"fcr\s+92\.9%\s+105\s+113\s+share$", lines["fcr"]), lines["fcr"]
    team_header = next(line for line in res.stdout.splitlines() if line.startswith("team"))
    assert "aht " in team_header + " " and "aht_s" not in team_header and "queue_wait " in team_header + " "
    row = next(line for line in res.stdout.splitlines() if line.startswith("A "))
    assert re.search(r"\d+m \d\ds", row) and re.search(r"\d+\.\d%", row)
    shares = [line.split() for line in lines.values() if line.endswith(" share")]
    assert len(shares) >= 8 and all(t[1].endswith("%") or t[1] == "-" for t in shares)  # no raw fractions
    times = [line.split() for line in lines.values() if line.endswith(" s")]
    assert len(times) >= 5 and all(re.fullmatch(r"\d+(\.\d)?[smhd]", t[1]) for t in times)


def test_variants_and_dfg_text_are_readable(small_log):
    res = CliRunner().invoke(main, ["variants", small_log, "--top", "3", "-q"])
    assert res.exit_code == 0, res.output
    assert re.search(r"^\s+1\s+32\s+16\.0%\s+16\.0%\s+2\s+Bot intent > Bot answer$", res.stdout, re.M), res.stdout
    assert re.search(r"case duration: median \d+m \d\ds, p90 \d+m \d\ds", res.stdout)
    res = CliRunner().invoke(main, ["dfg", small_log, "--top", "3", "-q"])
    assert res.exit_code == 0, res.output
    assert re.search(r"^Queue\s+Agent answer\s+113\s+2m 34s\s", res.stdout, re.M), res.stdout
    assert "mean_s" not in res.stdout and "   mean  median" in res.stdout


def test_csv_and_json_keep_canonical_units(small_log, tmp_path):
    out = tmp_path / "kpi"
    res = CliRunner().invoke(main, ["kpi", small_log, "--json", "-q", "--csv", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    aht = data["overall"]["aht_s"]
    assert aht["value"] == aht["numerator"] / aht["denominator"]  # JSON: every digit
    fcr = data["overall"]["fcr"]
    assert fcr["value"] == 105 / 113 and fcr["unit"] == "share"
    text = (out / "kpis.csv").read_text()
    assert max_digits(text) <= 10  # CSV: no 17-digit binary noise
    rows = {r["kpi"]: r for r in csv.DictReader(text.splitlines()) if r["attribute"] == "all"}
    assert float(rows["fcr"]["value"]) == pytest.approx(105 / 113, rel=1e-9) and rows["fcr"]["unit"] == "share"
    assert float(rows["aht_s"]["value"]) == pytest.approx(aht["value"], rel=1e-9) and rows["aht_s"]["unit"] == "s"
    res = CliRunner().invoke(main, ["variants", small_log, "-q", "--csv", str(tmp_path / "v")])
    text = (tmp_path / "v" / "variants.csv").read_text()
    assert text.splitlines()[0] == "rank,cases,share,cumulative,steps,activities"
    assert text.splitlines()[1].startswith("1,32,0.16,0.16,2,") and max_digits(text) <= 10
