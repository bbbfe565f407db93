# The two commands of the README:
#   make lab    set up, start the lab, converge site.yml on it, run the doctor
#   make test   set up, then run every test (lint, unit, molecule, end to end)
SHELL := /bin/sh
VENV := .venv/bin
export PATH := $(CURDIR)/$(VENV):$(PATH)

.PHONY: bootstrap lab test lint unit clean-lab

bootstrap:
	./scripts/bootstrap

lab: bootstrap
	whispermon lab up
	whispermon deploy -i inventory/lab
	whispermon doctor -i inventory/lab

test: bootstrap
	pytest

lint: bootstrap
	pytest tests/test_lint.py

unit: bootstrap
	pytest -m "not molecule and not lab"

clean-lab: bootstrap
	whispermon lab down
