# Two commands on a fresh machine:  `make run`  and  `make test`.
# Each creates what it needs (virtualenv, Python and npm packages, Prisma client) and is
# cheap to repeat: steps are skipped when their inputs have not changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.atrium-installed
ENGINE_STAMP := prisma/engine/node_modules/.atrium-installed
CLIENT_STAMP := $(VENV)/.atrium-client

.PHONY: install run test test-deps lint lock ci clean

install: $(CLIENT_STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]" -c constraints.txt
	touch $@

# Re-resolve pyproject.toml in a throw-away venv and rewrite constraints.txt from it.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q --upgrade pip
	.lock-venv/bin/python -m pip install -q -e ".[test]"
	{ sed -n '1,3p' constraints.txt; .lock-venv/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .lock-venv

$(ENGINE_STAMP): prisma/engine/package.json prisma/engine/package-lock.json
	cd prisma/engine && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CLIENT_STAMP): $(STAMP) $(ENGINE_STAMP) schema.prisma
	scripts/deploy.sh generate
	touch $@

# `install` generated the Prisma client (when the schema changed); `serve` skips generating it again.
run: install
	scripts/deploy.sh serve

test: install test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check extensions tests scripts
	$(BIN)/ruff format --check extensions tests scripts
	$(BIN)/mypy extensions

clean:
	rm -rf $(VENV) prisma/engine/node_modules .atrium $(IDP_DIR)/node_modules

# Identity tests: a real OpenID Provider (npm oidc-provider) and Debian's Chromium (never downloaded
# by Playwright). Chromium is installed when missing and we run as root (CI containers).
IDP_DIR := extensions/testing/oidc_idp
IDP_STAMP := $(IDP_DIR)/node_modules/.atrium-installed

$(IDP_STAMP): $(IDP_DIR)/package.json $(IDP_DIR)/package-lock.json
	cd $(IDP_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-deps: $(IDP_STAMP)
	@test -x /usr/bin/chromium || [ "$$(id -u)" != 0 ] || apt-get install -y -q chromium >/dev/null \
		|| { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
	@test -x /usr/bin/chromium || echo "warning: /usr/bin/chromium missing; browser tests will fail (apt-get install chromium)"
