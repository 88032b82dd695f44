# The README's commands. Each sets itself up: a venv and the package with the extras it needs.
# Another Python in its own venv: make test PYTHON=/path/to/python3.12 VENV=.venv-3.12
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
# pytest-xdist workers; PYTEST_WORKERS=0 runs the suite in one process.
PYTEST_WORKERS ?= auto
export NO_MKDOCS_2_WARNING := 1

.PHONY: test test-all demo lint typecheck pytest pytest-uvloop docs dist bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,docs,cli]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict voucherify_async
	# The tests, strict as well. Three runs: each test directory has its own conftest, and
	# the e2e helpers are reached through the tests' imports, under the names they use.
	$(BIN)/mypy tests/*.py tests/e2e/test_*.py examples benchmarks
	$(BIN)/mypy tests/emulator
	$(BIN)/mypy tests/dlt

# Warnings are errors, markers and xfails strict: see [tool.pytest.ini_options].
pytest: $(STAMP)
	sh scripts/ensure-redis.sh
	sh scripts/ensure-proxy.sh
	sh scripts/ensure-postgres.sh
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS)

# The end-to-end tests of the API, streaming, fan-out and pacing once more, on a uvloop
# event loop (see tests/e2e/conftest.py); all of tests/e2e: VOUCHERIFY_TEST_LOOP=uvloop pytest tests/e2e
UVLOOP_TESTS := $(addprefix tests/e2e/,test_event_loop_e2e.py test_api_e2e.py \
	test_streaming_e2e.py test_fanout_e2e.py test_pacing_concurrency_e2e.py)
pytest-uvloop: $(STAMP)
	VOUCHERIFY_TEST_LOOP=uvloop $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) $(UVLOOP_TESTS)

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir build/site

test: lint typecheck pytest pytest-uvloop docs

# The sdist and the wheel, alone in a fresh dist/, built with the venv's build and setuptools
# (no download); install the wheel into any project: pip install dist/voucherify_async-*.whl
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .

# `make test` on every Python from 3.10 to 3.13 the machine has, each in .venv-3.X.
test-all:
	bash .ci/test-all

# The demo installs only what it uses (the package, rich and dlt), not the test toolchain.
DEMO_STAMP := $(VENV)/.installed-demo
$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m voucherify_async.tools.demo

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,docs,cli,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	sh scripts/ensure-wrk.sh
	$(BIN)/python -m benchmarks

# Spec-driven property tests of the emulator, long: FUZZ_EXAMPLES requests per operation,
# mode and id choice (the suite runs 5); FUZZ_SEED picks the hypothesis seed.
FUZZ_EXAMPLES ?= 200
FUZZ_SEED ?= 0
fuzz: $(STAMP)
	$(BIN)/python tests/emulator/spec_fuzz.py --examples $(FUZZ_EXAMPLES) --seed $(FUZZ_SEED)

clean:
	rm -rf $(VENV) .venv-3.* build dist *.egg-info
