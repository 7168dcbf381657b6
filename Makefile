# The README's commands. Each target installs what it needs (the wasm target,
# the Python test client) and builds only what is missing.

CARGO       ?= cargo
WASM_TARGET := wasm32-wasip2
# Plugins are built into their own target directory (the test build shares
# it), with the small, fast `plugin` profile of Cargo.toml.
WASM_DIR    := target/wasm
PLUGINS_OUT := $(WASM_DIR)/$(WASM_TARGET)/plugin
BUNDLED     := notes_list notes_create
# What `make run` serves: a plugins folder and a data directory.
RUN_DIR     := .toolhost
TOOLHOST    := target/release/toolhost
# The independent MCP client the end-to-end tests drive (Python `mcp`).
PYENV       := target/pyenv
PYREQS      := tests/clients/python/requirements.txt
# The OAuth authorization server standing in for Clerk in the tests (npm).
STANDIN     := tests/clerk-standin

.PHONY: setup pyclient standin plugins host run demo test

setup:
	rustup target add $(WASM_TARGET)

pyclient: $(PYENV)/.installed

$(PYENV)/.installed: $(PYREQS)
	python3 -m venv $(PYENV)
	$(PYENV)/bin/pip install --quiet --disable-pip-version-check -r $(PYREQS)
	touch $@

standin: $(STANDIN)/node_modules/.package-lock.json

$(STANDIN)/node_modules/.package-lock.json: $(STANDIN)/package-lock.json
	cd $(STANDIN) && npm ci --no-audit --no-fund --loglevel=error

# Build the bundled plugins and put them in the served plugins folder, each
# written beside its final name and renamed into place (a running server
# swaps it in without ever seeing half a file).
plugins: setup
	CARGO_TARGET_DIR=$(WASM_DIR) $(CARGO) build --target $(WASM_TARGET) --profile plugin \
		$(addprefix -p ,$(BUNDLED))
	mkdir -p $(RUN_DIR)/plugins
	for p in $(BUNDLED); do \
		cp $(PLUGINS_OUT)/$$p.wasm $(RUN_DIR)/plugins/.$$p.wasm.tmp && \
		mv $(RUN_DIR)/plugins/.$$p.wasm.tmp $(RUN_DIR)/plugins/$$p.wasm; \
	done

host:
	$(CARGO) build --release -p toolhost

# Serve the bundled plugins at http://127.0.0.1:3001/mcp in development mode.
run: plugins host
	$(TOOLHOST) serve --dev --plugins $(RUN_DIR)/plugins --data $(RUN_DIR)/data

# Without a server: create a note as alice, list it back, list nothing as bob.
demo: plugins host
	$(TOOLHOST) call $(RUN_DIR)/plugins/notes_create.wasm --subject alice --roles member \
		--data $(RUN_DIR)/demo --args '{"title":"Hello","body":"My first note"}'
	$(TOOLHOST) call $(RUN_DIR)/plugins/notes_list.wasm --subject alice --data $(RUN_DIR)/demo
	$(TOOLHOST) call $(RUN_DIR)/plugins/notes_list.wasm --subject bob --data $(RUN_DIR)/demo

test: setup pyclient standin
	$(CARGO) test --workspace
