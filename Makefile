# gankit: `make demo` trains DCGAN on the embedded digits for about two minutes; `make test` runs the suite.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gankit train dcgan --data digits --out runs/demo-$$(date +%Y%m%d-%H%M%S)

test: $(STAMP)
	$(PY) -m pytest -q -ra -n 2 --durations=15

bench: $(STAMP)
	$(PY) benchmarks/throughput.py
	$(PY) benchmarks/translation_speed.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
