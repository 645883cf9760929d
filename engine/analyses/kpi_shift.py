"""The process-health KPIs of the contacts before and after a change point.

The KPIs are ``engine.analyses.kpis.compute_kpis`` on each stretch of contacts
(from the previous change to this one, and from this one to the next), so
they carry the same definitions, numerators and denominators as ``cxmine
kpi``. Repeat contacts are counted within a stretch: a repeat whose first
contact lies before the change does not count after it.
"""

from __future__ import annotations

import numpy as np

from engine.log.encode import EncodedLog


def kpis_around(log: EncodedLog, first: int, case: int, end: int) -> dict[str, dict]:
    """KPI name -> {"before", "after", "unit", "numerator_before", "denominator_before", "numerator_after",
    "denominator_after"} for the contacts [first, case) and [case, end)."""
    from engine.analyses.kpis import compute_kpis
    from engine.log.select import select_cases
    index = np.arange(log.n_cases)
    before = compute_kpis(select_cases(log, (index >= first) & (index < case))).overall
    after = compute_kpis(select_cases(log, (index >= case) & (index < end))).overall
    return kpi_change(before, after)


def kpi_change(before, after) -> dict[str, dict]:
    """``kpis_around`` from the KPI sums (``engine.analyses.kpis.KpiSummary``) of the contacts before and after."""
    before, after = before.kpis(False), after.kpis(False)
    return {name: {"before": before[name].value, "after": after[name].value, "unit": before[name].unit,
                   "numerator_before": before[name].numerator, "denominator_before": before[name].denominator,
                   "numerator_after": after[name].numerator, "denominator_after": after[name].denominator}
            for name in before}
