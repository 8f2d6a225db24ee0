PY ?= .venv/bin/python
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: install generate check-generated lint typecheck pytest test examples clean

install:
	python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'

generate:
	$(PY) -m codegen

check-generated:
	$(PY) -m codegen --check

examples:
	$(PY) -m codegen.extract_examples --docs ../shared/docs --out specs/examples

lint:
	$(PY) -m ruff check src codegen tests
	$(PY) -m ruff format --check src codegen tests

typecheck:
	$(PY) -m mypy

pytest:
	$(PY) -m pytest -q

test: check-generated lint typecheck pytest

clean:
	rm -rf .venv build *.egg-info .pytest_cache .mypy_cache
