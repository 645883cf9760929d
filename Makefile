# Two commands do the whole set-up on a fresh machine: `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
CXMINE := $(VENV)/bin/cxmine
SAMPLE := eventlogs/sample
OUT := reports/latest

.PHONY: setup demo test bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	@bash scripts/demo.sh

test: setup
	$(PY) -m pytest -q --timeout=900

bench: setup
	$(PY) -m pytest -q -m slow --timeout=3600
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) reports/demo reports/latest eventlogs/generated benchmarks/out
