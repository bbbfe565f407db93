# The two commands of the README:
#   make lab    set up, start the lab, converge site.yml on it, run the doctor
#   make test   set up, then run every test (lint, unit, molecule, end to end)
SHELL := /bin/sh
VENV := .venv/bin
export PATH := $(CURDIR)/$(VENV):$(PATH)

.PHONY: bootstrap lab test lint unit clean-lab

bootstrap:
	./scripts/bootstrap

# Prometheus needs a scrape or two after a first deploy before every target
# is up, so the doctor gets up to six tries, 20 s apart.
lab: bootstrap
	whispermon lab up
	whispermon deploy -i inventory/lab
	@for try in 1 2 3 4 5 6; do \
	  whispermon doctor -i inventory/lab && exit 0; \
	  echo "doctor: try $$try of 6 failed; retrying in 20 s"; sleep 20; \
	done; exit 1

test: bootstrap
	pytest

lint: bootstrap
	pytest tests/test_lint.py

unit: bootstrap
	pytest -m "not molecule and not lab"

clean-lab: bootstrap
	whispermon lab down
