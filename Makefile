# make run: install, build the index from corpus/, serve web + API on http://127.0.0.1:8000
# make test: install and run the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL_DIR := .models/multilingual-e5-small
INDEX_DIR ?= .index
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test install model index serve lint browser clean bench eval

run: install model
	$(BIN)/directives index --corpus corpus --index-dir $(INDEX_DIR)
	$(BIN)/directives serve --index-dir $(INDEX_DIR) --host $(HOST) --port $(PORT)

index: install model
	$(BIN)/directives index --corpus corpus --index-dir $(INDEX_DIR)

serve: install
	$(BIN)/directives serve --index-dir $(INDEX_DIR) --host $(HOST) --port $(PORT)

eval: install model
	$(BIN)/directives index --corpus corpus --index-dir $(INDEX_DIR)
	$(BIN)/directives eval --gold eval/gold.json --index-dir $(INDEX_DIR)

bench: install model
	$(BIN)/python -m eval.bench --sizes 1k,10k,100k

$(STAMP): requirements.txt pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

model: install
	$(BIN)/python -m indexer.embedding.convert_e5 --out $(MODEL_DIR)
	$(BIN)/python -m indexer.embedding.onnx_query --model $(MODEL_DIR)
	$(BIN)/python -m indexer.embedding.onnx_passage --model $(MODEL_DIR)

lint: install
	$(BIN)/ruff check .

# Debian's Chromium for the browser tests (never a downloaded browser); root on CI and dev machines
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core; fi; }

test: install model browser
	$(BIN)/ruff check .
	$(BIN)/pytest -q

clean:
	rm -rf $(INDEX_DIR) .pytest_cache
