# One Map: `make up` starts the whole stack, `make test` runs the whole suite
# (lint, unit and integration tests), what CI runs.
.PHONY: up down install lint unit integration conformance test clean bench

up:
	./scripts/bootstrap up

down:
	./scripts/bootstrap down

install:
	./scripts/bootstrap install

# ruff and the layering contracts of pyproject.toml
lint: install
	.venv/bin/ruff check .
	.venv/bin/lint-imports

# tests/unit: no database, no gateway, nothing started
unit: install
	.venv/bin/python -m pytest tests/unit

# tests/integration on a stack of their own (var/test, free ports)
integration:
	./scripts/bootstrap test tests/integration

# tests/conformance: every declared class through independent clients;
# writes docs/conformance.md
conformance:
	./scripts/bootstrap test tests/conformance

# everything: lint, then unit and integration tests on their own stack; the
# tests run even when lint fails (CI reports both), and then make fails
test: install
	@status=0; \
	.venv/bin/ruff check . || status=1; \
	.venv/bin/lint-imports || status=1; \
	./scripts/bootstrap test || status=1; \
	exit $$status

clean: down
	rm -rf var
