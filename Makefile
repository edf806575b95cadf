# The README's two set-up commands: `make demo` and `make test`. Both work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHROMIUM ?= /usr/bin/chromium
# sudo -n never waits for a password: without passwordless sudo, `chromium` says what to run.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

.PHONY: install demo test test-unit test-contract test-integration test-browser lint format chromium fonts clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests need, installed as root or with passwordless sudo; without either,
# say what to run. $(1): the packages, $(2): what they are for, $(3): what still runs without,
# $(4): extra apt-get flags.
define apt_install
	if [ -n "$(SUDO)" ] && ! sudo -n true 2>/dev/null; then \
		echo "Debian packages for $(2) are missing. Install them:"; \
		echo "    sudo apt-get install $(4) $(1)"; \
		if command -v sudo >/dev/null; then \
			echo "sudo without a password is not available here, so make does not run it."; \
		else \
			echo "sudo is not installed here: run it as root."; \
		fi; \
		echo "Then run make test again ($(3))."; \
		exit 1; \
	fi; \
	echo "installing Debian $(1) for $(2)$(if $(SUDO), (sudo without a password))"; \
	$(SUDO) apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(4) $(1) >/dev/null
endef

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		$(call apt_install,chromium,the browser tests,make test-unit and make test-integration need no browser); \
	fi

# PDFs (statements, the sandbox's invoices) print any customer's name: DejaVu Sans for Latin,
# Greek and Cyrillic, Droid Sans Fallback for Chinese, Japanese and Korean (about 11 MB), and
# Pango, which WeasyPrint prints with.
FONT_PACKAGES := fontconfig fonts-dejavu-core fonts-droid-fallback libpango-1.0-0 libpangoft2-1.0-0
fonts: $(STAMP)
	@if ! fc-list : family 2>/dev/null | grep -q "DejaVu Sans" || \
	   ! fc-list : family 2>/dev/null | grep -q "Droid Sans Fallback" || \
	   ! $(BIN)/python -c "import weasyprint" >/dev/null 2>&1; then \
		$(call apt_install,$(FONT_PACKAGES),PDFs,without them the PDF tests skip and fail in CI,--no-install-recommends); \
	fi

demo: $(STAMP)
	$(BIN)/portal demo

test: $(STAMP) chromium fonts
	$(BIN)/pytest

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

test-contract: $(STAMP)
	$(BIN)/pytest tests/contract

test-integration: $(STAMP)
	$(BIN)/pytest tests/integration

test-browser: $(STAMP) chromium
	$(BIN)/pytest tests/browser

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
