"""Output layer: results become text for people and CSV/JSON for machines.

``numbers`` formats values for text (percentages, human durations, thousands
separators) and rounds CSV floats; ``tables`` renders and writes tables;
``outputs`` writes JSON and checks output paths early; ``variants``, ``dfg``,
``kpis`` and ``summaries`` turn each result into rows, text and documents;
``sop_render`` draws SOPs; ``sop_execution`` draws an SOP with its contacts' execution laid on it.
"""
