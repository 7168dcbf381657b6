# The README's commands. Each target installs what it needs (the wasm target)
# and builds only what is missing.

CARGO       ?= cargo
WASM_TARGET := wasm32-wasip2
# Plugins are built into their own target directory (the test build uses the
# same one), with the small, fast `plugin` profile of Cargo.toml.
WASM_DIR    := target/wasm
PLUGINS_OUT := $(WASM_DIR)/$(WASM_TARGET)/plugin
DEMO_DATA   := .toolhost/demo
# The independent MCP client the end-to-end tests drive (Python `mcp`).
PYENV       := target/pyenv
PYREQS      := tests/clients/python/requirements.txt
TOOLHOST    := target/release/toolhost

.PHONY: setup pyclient plugins host demo test

setup:
	rustup target add $(WASM_TARGET)

pyclient: $(PYENV)/.installed

$(PYENV)/.installed: $(PYREQS)
	python3 -m venv $(PYENV)
	$(PYENV)/bin/pip install --quiet --disable-pip-version-check -r $(PYREQS)
	touch $@

plugins: setup
	CARGO_TARGET_DIR=$(WASM_DIR) $(CARGO) build --target $(WASM_TARGET) --profile plugin \
		-p notes_list -p notes_create

host:
	$(CARGO) build --release -p toolhost

# Create a note as alice, list it back as alice, then list as bob (nothing).
demo: plugins host
	$(TOOLHOST) call $(PLUGINS_OUT)/notes_create.wasm --subject alice --roles member \
		--data $(DEMO_DATA) --args '{"title":"Hello","body":"My first note"}'
	$(TOOLHOST) call $(PLUGINS_OUT)/notes_list.wasm --subject alice --data $(DEMO_DATA)
	$(TOOLHOST) call $(PLUGINS_OUT)/notes_list.wasm --subject bob --data $(DEMO_DATA)
	$(TOOLHOST) inspect $(PLUGINS_OUT)/notes_create.wasm

test: setup pyclient
	$(CARGO) test --workspace
