PY ?= .venv/bin/python
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: install generate golden check-generated vendor-examples lint typecheck pytest test examples demo bench bench-smoke clean

# Also brings redis-server (the Redis store's tests start a private one).
install:
	scripts/ensure-redis-server
	python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch .venv/.installed

# `make demo` and `make test` install first on a fresh machine.
.venv/.installed: pyproject.toml
	$(MAKE) install

# The main job: the bulk sync against an in-process sandbox (examples/bulk_sync.py).
demo: .venv/.installed
	$(PY) examples/bulk_sync.py

# Benchmarks against json.loads, pydantic, raw aiohttp and lark-oapi; writes benchmarks/RESULTS.md (~5 min).
bench: .venv/.installed
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m benchmarks

# Tiny sizes, one run, no thresholds: keeps the benchmarks from rotting (part of `make test`).
bench-smoke:
	$(PY) -m benchmarks --smoke

generate:
	$(PY) -m codegen

check-generated:
	$(PY) -m codegen --check

# After a deliberate generator change: rewrite the golden record (tests/test_codegen_golden.py).
FIXTURE = tests/codegen_fixture
golden:
	$(PY) -m codegen --specs $(FIXTURE)/specs --out $(FIXTURE)/golden --docs $(FIXTURE)/golden/README.md

examples:
	$(PY) -m codegen.extract_examples --docs ../shared/docs --out specs/examples

# Examples of the endpoints only the vendor SDKs know, from their type trees (specs/vendor-sdk).
vendor-examples:
	$(PY) -m codegen.vendor_examples

lint:
	$(PY) -m ruff check src codegen tests examples benchmarks
	$(PY) -m ruff format --check src codegen tests examples benchmarks

typecheck:
	$(PY) -m mypy

pytest:
	$(PY) -m pytest -q

test: .venv/.installed
	$(MAKE) check-generated lint typecheck pytest bench-smoke

clean:
	rm -rf .venv build *.egg-info .pytest_cache .mypy_cache out
