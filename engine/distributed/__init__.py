"""The analyses on dask.distributed, over a partitioned log, with the single-machine results.

``cluster``: opening a client (a scheduler's address, or a LocalCluster) and
``run_partitions``, which maps a per-partition function over the partition
files and merges the summaries with ``+`` on the workers. ``partials``: the
per-partition functions and mergeable partials of variants, DFG, KPIs,
conformance, the SOP library and the report's sections. ``windows``:
per-window summaries merged by window (for time-ordered analyses such as
drift). ``analyses``: ``distributed_variants``, ``distributed_dfg``,
``distributed_kpis``, ``distributed_conformance``, ``distributed_library``,
``distributed_models``, and for ``cxmine report``
``distributed_overview_kpis`` and ``distributed_flow``.

Adding an analysis (docs/scale.md): write ``summarise_x(path, **params)``
that encodes one partition (``partials.encode_partition``), runs the
single-machine analysis on it and returns a summary whose ``+`` is exact and
whose order-dependent values carry global case positions; then
``run_partitions(log, summarise_x, **params)`` and a ``finish`` step.
dask is imported only when a run starts.
"""
