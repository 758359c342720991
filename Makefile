# Two commands do everything: `make run` starts the site, `make test` runs the tests.
# Each first sets up what it needs: a virtual environment with requirements.lock, and MNIST.
# requirements.txt lists the direct dependencies; requirements.lock pins every transitive one
# with its sha256 hashes and is generated from it by `make lock` (pip-tools' pip-compile).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-requirements
# The lock tool, pinned; `make lock` installs it into a throwaway venv, never into $(VENV).
PIP_TOOLS := pip-tools==7.6.2

.PHONY: run test test-unsteady test-fast lint setup lock data bench clean serve-lab messages axe

# glibc gives each thread that allocates its own memory arena, and Streamlit runs every rerun in a
# new thread: two arenas keep the server smaller while a class draws, at no cost in speed (bench/crowd.py).
export MALLOC_ARENA_MAX ?= 2

run: data
	$(BIN)/python -m streamlit run streamlit_app.py --browser.gatherUsageStats false $(ARGS)

# The site from PROCESSES Streamlit processes behind nginx on PORT (deploy/serve_lab.py; needs
# nginx: apt-get install nginx-light). They share one live model, one training slot and lab.db.
PROCESSES ?= 2
PORT ?= 8501
serve-lab: data
	$(BIN)/python deploy/serve_lab.py --processes $(PROCESSES) --port $(PORT) $(ARGS)

# The linter first (settings in pyproject.toml), then the tests: two workers, one test file each at
# a time (--dist loadfile: a file's server is started once).
test: lint data axe
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not unsteady" $(ARGS)

# The tests marked unsteady (pyproject.toml): each passes alone here, not yet reliably beside the rest
# (none at the moment: pytest's "no tests collected", status 5, is no failure here).
test-unsteady: lint data axe
	status=0; $(BIN)/python -m pytest -m unsteady $(ARGS) || status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

# The library's own tests, without those that start a real server (Streamlit, nginx or PostgreSQL), a
# browser or a fresh Python, or run the site's pages (markers `server`, `browser`, `subprocess`, `site`,
# set in tests/conftest.py): for each change, in under a minute; `make test` before a commit.
test-fast: lint data
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not server and not browser and not subprocess and not site" $(ARGS)

lint: setup
	$(BIN)/python -m ruff check

setup: $(STAMP)

$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "MNIST Lab needs Python 3.11 or newer, found " + sys.version.split()[0]'
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || { echo "Python's venv module is missing: on Debian, apt-get install python3-venv"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	touch $@

# Regenerates requirements.lock from requirements.txt: every transitive dependency pinned, with hashes.
# Keeps the lock's other pins; `make lock ARGS=--upgrade` (or ARGS='--upgrade-package NAME') moves them.
# The machine's pip config is ignored (PIP_CONFIG_FILE=/dev/null) so the lock comes from the default index only.
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp" && \
	"$$tmp/bin/python" -m pip install --quiet $(PIP_TOOLS) && \
	env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" \
	"$$tmp/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
		--output-file requirements.lock $(ARGS) requirements.txt

# The site's words: gathers every _(), ngettext() and N_() of our Python into messages.pot (babel.cfg),
# adds new ones to each language's .po (to translate there) and compiles the .po files into the .mo
# files the site reads. The .mo files are committed, so a fresh clone runs without this step;
# tests/test_i18n.py fails when a .po and its .mo disagree, or a word is left untranslated.
LOCALES := mnistcore/locale
messages: setup
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-wrap --sort-by-file --project "MNIST Lab" \
		-o $(LOCALES)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-wrap --ignore-obsolete --no-fuzzy-matching
	$(BIN)/pybabel compile --statistics -d $(LOCALES)

# axe-core, the accessibility checker the browser tests inject into each page (tests/test_a11y.py):
# from the npm registry with npm's own integrity check, never a CDN; kept out of git (.gitignore).
AXE_VERSION := 4.14.1
AXE := tests/vendor/axe-core-$(AXE_VERSION).min.js
axe: $(AXE)

$(AXE):
	@command -v npm >/dev/null || { echo "npm is missing: apt-get install npm (the browser tests need axe-core)"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && tar xzf axe-core-$(AXE_VERSION).tgz) && \
	mkdir -p $(dir $@) && cp "$$tmp/package/axe.min.js" $@

# Downloads and verifies MNIST into data/mnist (or $MNIST_DATA_DIR) unless it is already there, then draws
# the open-set companion's fitting drawings into data/cache once (minutes the first time), not in a visitor's run.
data: $(STAMP)
	$(BIN)/python -m mnistcore fetch

bench: data
	$(BIN)/python -m bench.speed

clean:
	rm -rf $(VENV) .pytest_cache
