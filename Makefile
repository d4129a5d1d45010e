# One Map: `make up` starts the whole stack, `make test` runs the whole suite.
.PHONY: up down test clean lint bench

up:
	./scripts/bootstrap up

down:
	./scripts/bootstrap down

test:
	./scripts/bootstrap test

clean: down
	rm -rf var

lint:
	.venv/bin/ruff check .
