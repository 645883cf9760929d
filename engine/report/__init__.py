"""Output layer: text tables, CSV and JSON writers, drawings and the HTML report."""
