# The README's commands. Each sets itself up: .venv and the package with the extras it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
export NO_MKDOCS_2_WARNING := 1

.PHONY: test demo lint typecheck pytest pytest-uvloop docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,docs,cli]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict voucherify_async

pytest: $(STAMP)
	$(BIN)/python -m pytest -W error -q

# The end-to-end tests of the API, streaming, fan-out and pacing once more, on a uvloop
# event loop (see tests/e2e/conftest.py); all of tests/e2e: VOUCHERIFY_TEST_LOOP=uvloop pytest tests/e2e
UVLOOP_TESTS := $(addprefix tests/e2e/,test_event_loop_e2e.py test_api_e2e.py \
	test_streaming_e2e.py test_fanout_e2e.py test_pacing_concurrency_e2e.py)
pytest-uvloop: $(STAMP)
	VOUCHERIFY_TEST_LOOP=uvloop $(BIN)/python -m pytest -W error -q $(UVLOOP_TESTS)

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet --site-dir build/site

test: lint typecheck pytest pytest-uvloop docs

demo: $(STAMP)
	$(BIN)/python -m voucherify_async.demo

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,docs,cli,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
