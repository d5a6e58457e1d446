# Entry points: `make synth` (the main job), `make test` (the whole suite), `make deploy ENV=...`,
# and `make bench` (benchmarks into bench/results.md).
# Each sets up what it needs: a .venv with the project installed (editable) and node_modules
# (the pinned Node.js 22 and CDK CLI, first on PATH).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: synth test deploy deploy-backup-account deploy-organization lint setup bench

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt lambdas/requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: setup
	rm -rf cdk.out
	cdk synth --quiet --no-notices
	$(VENV)/bin/backupctl summary --assembly cdk.out

# The suite in parallel processes (one per core, at most 4), then the contract checks over the AWS calls
# every process recorded.
test: setup
	rm -rf .test-recordings && mkdir .test-recordings
	BACKUP_TEST_RECORD_TO=$(CURDIR)/.test-recordings $(VENV)/bin/python -m pytest -n auto --maxprocesses=4 -m "not after_all_tests"
	BACKUP_TEST_RECORDED_IN=$(CURDIR)/.test-recordings $(VENV)/bin/python -m pytest -m after_all_tests

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/mypy examples/existing_app/app.py
	$(VENV)/bin/lint-imports --no-cache

bench: setup
	$(VENV)/bin/python -m bench.run

# Each account's part with that account's own credentials: the workload pipeline never deploys the
# backup account's vault or the organization's policy.
deploy: setup
	@case "$(ENV)" in production|staging) ;; *) echo "usage: make deploy ENV=production|staging" >&2; exit 2;; esac
	cdk deploy --no-notices -c environment=$(ENV) -c stacks=workload --all --require-approval broadening

deploy-backup-account: setup
	@case "$(ENV)" in production) ;; *) echo "usage: make deploy-backup-account ENV=production" >&2; exit 2;; esac
	cdk deploy --no-notices -c environment=$(ENV) -c stacks=backup-account --all --require-approval broadening

deploy-organization: setup
	@case "$(ENV)" in production) ;; *) echo "usage: make deploy-organization ENV=production" >&2; exit 2;; esac
	cdk deploy --no-notices -c environment=$(ENV) -c stacks=organization --all --require-approval broadening
