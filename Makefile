# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SEED := plans/seed/ke-hoach-cchc-2024-phu-luc.txt
PORT ?= 8000
export DJANGO_SETTINGS_MODULE := config.settings

.PHONY: deploy-check backup restore test-faults messages run serve install check-system migrate seed test test-sqlite test-postgres lint check bench e2e clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PY) >/dev/null || { echo "Thiếu Python 3.11: cài gói python3.11 và python3.11-venv."; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@

install: $(BIN)/.installed check-system

check-system: $(BIN)/.installed
	@$(BIN)/python -c "import weasyprint" 2>/dev/null || { echo "Thiếu thư viện hệ thống cho WeasyPrint: sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b"; exit 1; }
	@command -v msgfmt >/dev/null || { echo "Thiếu gettext (msgfmt): sudo apt-get install gettext"; exit 1; }
	@/sbin/ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset || echo "Gợi ý: cài libharfbuzz-subset0 (sudo apt-get install libharfbuzz-subset0) để xuất PDF nhanh hơn."

migrate: install
	$(BIN)/python manage.py compilemessages -v0 --ignore=.venv
	$(BIN)/python manage.py migrate -v0

seed: migrate
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py demo_pki
	$(BIN)/python manage.py import_plan $(SEED)
	DEBUG=1 $(BIN)/python manage.py seed_demo_year

# The web server and one background worker (mail; docs/operations.md); Ctrl-C stops both.
run: seed
	@echo "Mở http://127.0.0.1:$(PORT) – đăng nhập bằng một tài khoản mẫu ở trên."
	@trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG=1 $(BIN)/python manage.py db_worker -v0 & worker=$$!; \
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The README's test command: the whole suite on SQLite, then on PostgreSQL when DATABASE_URL is set.
test: install
	$(BIN)/python manage.py compilemessages -v0 --ignore=.venv
	$(BIN)/pytest -q -m "not e2e"

# Browser tests (Playwright driving Debian's chromium; docs/e2e.md). Skipped if either is missing.
e2e: install
	$(BIN)/python manage.py compilemessages -v0 --ignore=.venv
	$(BIN)/pytest -q -m e2e tests/e2e

test-postgres: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(BIN)/pytest -q -m "not e2e"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run -v0
	$(BIN)/mypy

check: lint test

bench: install
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/cchc_bench} $(BIN)/python manage.py bench

# The README's production notes on a fresh PostgreSQL database (cchc_deploy_check), gunicorn with
# the deployment environment of docs/security.md, a real SMTP server; < 3 min (scripts/deploy_check.py).
deploy-check: install
	$(BIN)/python scripts/deploy_check.py

# Backups: database (pg_dump -Fc / SQLite backup API) + evidence files + manifest (docs/operations.md).
backup: install
	$(BIN)/python manage.py backup $(if $(DIR),-o $(DIR))

restore: install
	@test -n "$(DIR)" || { echo "Dùng: make restore DIR=var/backups/<ngày-giờ>"; exit 1; }
	$(BIN)/python manage.py restore $(DIR)

test-faults: install
	$(BIN)/pytest -q tests/faults

clean:
	rm -rf $(VENV) var

# Rebuild the Vietnamese catalogue: the project's strings (written in Vietnamese, so each
# translates to itself) merged with viewflow's and guardian's translations (docs/translation.md).
messages: install
	$(BIN)/python manage.py makemessages -l vi --no-obsolete --ignore=.venv --ignore=var -v0
	msgen --no-wrap locale/vi/LC_MESSAGES/django.po | msgattrib --clear-fuzzy -o /tmp/cchc-own.vi.po
	msggrep -v -K -E -e '^Please correct the error below\.$$' locale/vi/viewflow.po -o /tmp/cchc-viewflow.vi.po
	msgcat --use-first /tmp/cchc-own.vi.po locale/vi/guardian.po /tmp/cchc-viewflow.vi.po -o locale/vi/LC_MESSAGES/django.po
	sed -i -e 's/^"Language: \\n"/"Language: vi\\n"/' -e 's/^"Language-Team: .*"/"Language-Team: CCHC <dev@sct.local>\\n"/' -e 's/^"Last-Translator: .*"/"Last-Translator: CCHC <dev@sct.local>\\n"/' locale/vi/LC_MESSAGES/django.po
	msgfmt --check --statistics -o /dev/null locale/vi/LC_MESSAGES/django.po
