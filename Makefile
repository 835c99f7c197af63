# Two commands do all the set-up on a fresh Debian/Ubuntu machine:
#   make demo   trains on two moons and renders a neuron's graph into out/
#   make test   lint (ruff), type checks (mypy) and the whole test suite
# Both create .venv, install the project editable with the extras they need, and install Graphviz's
# `dot` through apt-get when it is missing (with a clear message when that is not possible); `make test`
# also installs Chromium and its driver, in which the stepper's page is tested.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test bench lint typecheck pytest notebooks clean venv dot torch browser

$(PY):
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed: installing python3-venv with apt-get"; \
	  scripts/apt-install.sh python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PIP) install --quiet --upgrade pip

# Re-install only when pyproject.toml changes.
$(VENV)/.installed-demo: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[graph,data,fast]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[dev,bench]'
	scripts/install-torch-cpu.sh $(PY)
	touch $@ $(VENV)/.installed-demo

dot:
	@command -v dot >/dev/null 2>&1 || scripts/apt-install.sh graphviz || { \
	  echo "Graphviz's 'dot' is missing and could not be installed: graphs are built but not rendered."; \
	  echo "Install it with: sudo apt-get install graphviz  (macOS: brew install graphviz)"; }

# Headless Chromium and chromedriver (Debian's packages) for the stepper's browser tests, which skip without
# them on a workstation and fail in CI (CI=true).
browser:
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || \
	  scripts/apt-install.sh chromium chromium-driver || { \
	  echo "Chromium or chromedriver is missing and could not be installed: the stepper's browser tests skip."; \
	  echo "Install them with: sudo apt-get install chromium chromium-driver"; }

demo: $(VENV)/.installed-demo dot
	$(VENV)/bin/chainrule demo --out out

test: $(VENV)/.installed-dev dot browser lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .

typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/mypy

pytest: $(VENV)/.installed-dev
	$(VENV)/bin/pytest

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
