# make run: install, build the index from corpus/, serve web + API on http://127.0.0.1:8000 (accounts in .data/)
# make test: install and run the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL_DIR := .models/multilingual-e5-small
INDEX_DIR ?= .index
DATA_DIR ?= .data
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test install model index serve lint browser office system clean bench eval

# serve prints how to create the first admin while the data directory has no account
run: install model office
	$(BIN)/directives index --corpus corpus --index-dir $(INDEX_DIR)
	$(BIN)/directives serve --index-dir $(INDEX_DIR) --corpus corpus --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

index: install model office
	$(BIN)/directives index --corpus corpus --index-dir $(INDEX_DIR)

serve: install
	$(BIN)/directives serve --index-dir $(INDEX_DIR) --corpus corpus --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

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

# Debian packages, installed with apt-get when missing (root on CI and dev machines, sudo otherwise):
# Chromium for the browser tests (never a downloaded browser); LibreOffice for .doc/.odt/.rtf; Tesseract with
# its Vietnamese model for scans and photos; the fonts that LibreOffice renders Vietnamese with.
APT = env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
SUDO = $$( [ "$$(id -u)" = 0 ] || echo sudo )
define apt_need
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) $(APT) $$missing; fi
endef

browser:
	$(call apt_need,chromium fonts-dejavu-core)

office:
	$(call apt_need,libreoffice-writer-nogui tesseract-ocr tesseract-ocr-vie fonts-dejavu-core fonts-liberation2)

system: browser office

test: install model system
	$(BIN)/ruff check .
	$(BIN)/pytest -q

clean:
	rm -rf $(INDEX_DIR) .pytest_cache
