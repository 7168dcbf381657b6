# The README's commands. Each target installs what it needs (the wasm target,
# the Python test client) and builds only what is missing.

CARGO       ?= cargo
WASM_TARGET := wasm32-wasip2
# Plugins are built into their own target directory (the test build shares
# it), with the small, fast `plugin` profile of Cargo.toml.
WASM_DIR    := target/wasm
PLUGINS_OUT := $(WASM_DIR)/$(WASM_TARGET)/plugin
BUNDLED     := notes_list notes_create notes_delete
# Tools in other languages, each built by its kit in sdk/ (the test build
# builds them too, into the same place).
POLYGLOT    := $(WASM_DIR)/polyglot
JS_KIT      := sdk/js/build.sh sdk/js/build.mjs sdk/js/toolhost.js sdk/js/package-lock.json \
               sdk/js/wit/deps/wasi-cli/environment.wit
PY_KIT      := sdk/python/build.sh sdk/python/toolhost.py sdk/python/requirements.txt \
               $(wildcard sdk/python/wit/deps/*/*.wit)
# What `make run` serves: a plugins folder and a data directory.
RUN_DIR     := .toolhost
TOOLHOST    := target/release/toolhost
# The independent MCP client the end-to-end tests drive (Python `mcp`).
PYENV       := target/pyenv
PYREQS      := tests/clients/python/requirements.txt
# The OAuth authorization server standing in for Clerk in the tests (npm).
STANDIN     := tests/clerk-standin
# The application server the outbound HTTP tests call (npm: jose).
APP         := tests/app
# The official TypeScript MCP client the OAuth tests drive too (npm).
TSCLIENT    := tests/clients/typescript
# The official MCP conformance suite, and the Node.js 22 it needs (npm).
CONFORMANCE := tests/conformance
# MCP Inspector, whose command-line mode the tests drive (npm; runs on the
# conformance suite's Node.js 22).
INSPECTOR   := tests/clients/inspector

# The embedding example's plugins: the bundled ones and the tools that call
# its API.
EMBED_DIR   := $(RUN_DIR)/embed-plugins
EMBEDDED    := projects_list projects_create

.PHONY: setup postgres pyclient tsclient inspector standin app conformance polyglot plugins host run embed demo test

setup:
	rustup target add $(WASM_TARGET)

# PostgreSQL's server, which the fleet tests start throwaway clusters of:
# Debian's package, installed when no initdb is found.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

pyclient: $(PYENV)/.installed

$(PYENV)/.installed: $(PYREQS)
	python3 -m venv $(PYENV)
	$(PYENV)/bin/pip install --quiet --disable-pip-version-check -r $(PYREQS)
	touch $@

tsclient: $(TSCLIENT)/node_modules/.package-lock.json

$(TSCLIENT)/node_modules/.package-lock.json: $(TSCLIENT)/package-lock.json
	cd $(TSCLIENT) && npm ci --no-audit --no-fund --loglevel=error

inspector: $(INSPECTOR)/node_modules/.package-lock.json

$(INSPECTOR)/node_modules/.package-lock.json: $(INSPECTOR)/package-lock.json
	cd $(INSPECTOR) && npm ci --no-audit --no-fund --loglevel=error

standin: $(STANDIN)/node_modules/.package-lock.json

$(STANDIN)/node_modules/.package-lock.json: $(STANDIN)/package-lock.json
	cd $(STANDIN) && npm ci --no-audit --no-fund --loglevel=error

app: $(APP)/node_modules/.package-lock.json

conformance: $(CONFORMANCE)/node_modules/.package-lock.json

$(CONFORMANCE)/node_modules/.package-lock.json: $(CONFORMANCE)/package-lock.json
	cd $(CONFORMANCE) && npm ci --no-audit --no-fund --loglevel=error

$(APP)/node_modules/.package-lock.json: $(APP)/package-lock.json
	cd $(APP) && npm ci --no-audit --no-fund --loglevel=error

# Build the bundled plugins and put them in the served plugins folder, each
# written beside its final name and renamed into place (a running server
# swaps it in without ever seeing half a file).
$(POLYGLOT)/notes_search.wasm: plugins/notes_search/tool.js $(JS_KIT) wit/0.2/plugin.wit \
                              $(wildcard wit/0.2/deps/*/*.wit)
	sdk/js/build.sh plugins/notes_search $@

$(POLYGLOT)/notes_export.wasm: plugins/notes_export/tool.py $(PY_KIT) wit/0.2/plugin.wit \
                              $(wildcard wit/0.2/deps/*/*.wit)
	sdk/python/build.sh plugins/notes_export $@

polyglot: $(POLYGLOT)/notes_search.wasm $(POLYGLOT)/notes_export.wasm

plugins: setup polyglot
	CARGO_TARGET_DIR=$(WASM_DIR) $(CARGO) build --target $(WASM_TARGET) --profile plugin \
		$(addprefix -p ,$(BUNDLED))
	mkdir -p $(RUN_DIR)/plugins
	for p in $(addprefix $(PLUGINS_OUT)/,$(addsuffix .wasm,$(BUNDLED))) \
	         $(POLYGLOT)/notes_search.wasm $(POLYGLOT)/notes_export.wasm; do \
		n=$$(basename $$p); \
		cmp -s $$p $(RUN_DIR)/plugins/$$n || { \
			cp $$p $(RUN_DIR)/plugins/.$$n.tmp && mv $(RUN_DIR)/plugins/.$$n.tmp $(RUN_DIR)/plugins/$$n; }; \
	done

host:
	$(CARGO) build --release -p toolhost

# Serve the bundled plugins at http://127.0.0.1:3001/mcp in development mode.
run: plugins host
	$(TOOLHOST) serve --dev --plugins $(RUN_DIR)/plugins --data $(RUN_DIR)/data

# The embedding example: an application with its own per-user API, and the
# tools that call it as the signed-in user, at http://127.0.0.1:8080/tools/mcp.
embed: plugins
	CARGO_TARGET_DIR=$(WASM_DIR) $(CARGO) build --target $(WASM_TARGET) --profile plugin \
		$(addprefix -p ,$(EMBEDDED))
	mkdir -p $(EMBED_DIR)
	for p in $(RUN_DIR)/plugins/*.wasm $(addprefix $(PLUGINS_OUT)/,$(addsuffix .wasm,$(EMBEDDED))); do \
		n=$$(basename $$p); \
		cmp -s $$p $(EMBED_DIR)/$$n || { cp $$p $(EMBED_DIR)/.$$n.tmp && mv $(EMBED_DIR)/.$$n.tmp $(EMBED_DIR)/$$n; }; \
	done
	$(CARGO) run --release -p toolhost --example embed -- --plugins $(EMBED_DIR)

# Without a server: create a note as alice, list it back, list nothing as bob.
demo: plugins host
	$(TOOLHOST) call $(RUN_DIR)/plugins/notes_create.wasm --subject alice --roles member \
		--data $(RUN_DIR)/demo --args '{"title":"Hello","body":"My first note"}'
	$(TOOLHOST) call $(RUN_DIR)/plugins/notes_list.wasm --subject alice --data $(RUN_DIR)/demo
	$(TOOLHOST) call $(RUN_DIR)/plugins/notes_list.wasm --subject bob --data $(RUN_DIR)/demo

test: setup postgres pyclient tsclient inspector standin app conformance
	cd sdk/python && python3 -m unittest -q
	$(CARGO) test --workspace
