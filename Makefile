# Two entry points for a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup system-deps run sim test lint bench clean

# setup.py compiles the simulator's core (agent/sim/flows.py, fastpath.py and their .pxd)
$(BIN)/.installed: pyproject.toml setup.py $(wildcard agent/sim/flows.p* agent/sim/fastpath.p*)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,train,ray,solve,multiagent]'
	touch $@

setup: $(BIN)/.installed

# Open vSwitch (userspace datapath), Mininet and tools for the switch tests, Chromium and its
# driver for the browser tests of the live page; root and apt only.
system-deps:
	@if ! command -v ovs-vsctl >/dev/null 2>&1 || ! command -v mnexec >/dev/null 2>&1 \
		|| ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends openvswitch-switch mininet iputils-ping ethtool iperf3 \
				chromium chromium-driver >/dev/null; \
		else echo "install openvswitch-switch, mininet, ethtool, iperf3, chromium and chromium-driver for the switch and browser tests"; fi; \
	fi

# The main job: the daemon on its embedded simulator backend, API on 127.0.0.1:8780.
run: setup
	$(BIN)/agent run

# The simulator alone on the bundled scenario.
sim: setup
	$(BIN)/agent sim topologies/scenarios/abilene-in3.yaml --policy shortest-path --episodes 3

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint system-deps
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/sim_vs_coordsim.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
