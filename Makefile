# The two entry points: `make synth` and `make test`. Each creates the virtual environment
# (Python 3.11+) on first use and reinstalls when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# The engine `make synth` builds on: cdktf, the library's default, unless named
# (`make synth SERVERLESS_PIPELINE_ENGINE=cdktn` for CDK Terrain; .venv has both).
SERVERLESS_PIPELINE_ENGINE ?= cdktf
export SERVERLESS_PIPELINE_ENGINE

.PHONY: synth test test-fast lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# The Amazon States Language validator the tests run (no lock file: it would name a registry).
node_modules/.installed: package.json
	npm install --no-package-lock --no-audit --no-fund --silent
	touch $@

# checkov in a virtual environment of its own: its pins must not move the library's.
CHECKOV := .tools/checkov/bin/checkov
$(CHECKOV):
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/python -m pip install --quiet --upgrade pip
	.tools/checkov/bin/python -m pip install --quiet checkov==3.3.30

synth: $(VENV)/.installed
	$(PY) main.py
	@echo "wrote cdktf.out/stacks/serverless-pipeline/cdk.tf.json"

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m mypy

# One test module per worker at a time, so module-scoped fixtures (a synthesized stack, a
# rehearsal, a wheel) are built once. Three workers on two cores: the rehearsal's wait for whole
# seconds (metric timestamps) and moto's polling leave a core idle otherwise.
PYTEST_WORKERS := -n 3 --dist loadfile
# One engine per process: the whole suite on cdktf, then again on CDK Terrain what builds on the
# engine (the constructs, checkov and the IAM walker, the lazy provider loading). The rehearsal,
# the handlers and the emulator use no engine; tests/test_engines.py runs both itself.
ON_BOTH_ENGINES := tests/constructs tests/security tests/test_provider_imports.py

test: lint node_modules/.installed $(CHECKOV)
	SERVERLESS_PIPELINE_ENGINE=cdktf $(PY) -m pytest $(PYTEST_WORKERS)
	SERVERLESS_PIPELINE_ENGINE=cdktn $(PY) -m pytest $(PYTEST_WORKERS) $(ON_BOTH_ENGINES)
	@echo "(the pytest lines above give each pass's wall time)"

# The edit loop: pure, handler and synth tests; no rehearsal, checkov, wheel or fresh processes.
test-fast: lint node_modules/.installed
	SERVERLESS_PIPELINE_ENGINE=cdktf $(PY) -m pytest $(PYTEST_WORKERS) -m "not slow"

clean:
	rm -rf $(VENV) .tools node_modules cdktf.out .pytest_cache .mypy_cache .ruff_cache
