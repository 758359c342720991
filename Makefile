# Two commands do everything: `make run` starts the site, `make test` runs the tests.
# Each first sets up what it needs: a virtual environment with requirements.txt, and MNIST.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-requirements

.PHONY: run test setup data bench clean

run: data
	$(BIN)/python -m streamlit run streamlit_app.py --browser.gatherUsageStats false $(ARGS)

test: data
	$(BIN)/python -m pytest $(ARGS)

setup: $(STAMP)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "MNIST Lab needs Python 3.11 or newer, found " + sys.version.split()[0]'
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || { echo "Python's venv module is missing: on Debian, apt-get install python3-venv"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# Downloads and verifies MNIST into data/mnist (or $MNIST_DATA_DIR) unless it is already there.
data: $(STAMP)
	$(BIN)/python -m mnistcore fetch

bench: data
	$(BIN)/python bench/speed.py

clean:
	rm -rf $(VENV) .pytest_cache
