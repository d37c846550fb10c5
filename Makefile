# `make run` starts the API for trying it (it installs what it needs); `make test` runs the whole suite (it checks
# the machine first, then installs the Python packages).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_USER := demo-user

.PHONY: run serve check-machine test check-reliability bench clean token superuser support-user manage

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: export DJANGO_DEBUG = 1
run: $(VENV)/.run-deps
	$(BIN)/python manage.py migrate --noinput --verbosity 0
	@token=$$($(BIN)/python manage.py mint_token $(DEMO_USER) --ttl 86400) && \
	printf '\nDemo token for user "%s" (valid 24 h):\n  %s\n\nTry it:\n' "$(DEMO_USER)" "$$token" && \
	printf "  curl -s -X POST -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -d '{\"title\": \"Try the API\"}' http://127.0.0.1:8000/api/$(DEMO_USER)/tasks/\n" "$$token" && \
	printf "  curl -s -H 'Authorization: Bearer %s' http://127.0.0.1:8000/api/$(DEMO_USER)/tasks/\n\n" "$$token" && \
	printf 'Browsers may call it from: %s\nTo allow others, list every origin: CORS_ALLOWED_ORIGINS=http://localhost:3000,http://localhost:8080 make run\n\n' \
		"$$($(BIN)/python manage.py shell -v 0 -c 'from django.conf import settings; print(*settings.CORS_ALLOWED_ORIGINS)')"
	@printf 'Swagger UI: http://127.0.0.1:8000/api/docs/\nReDoc: http://127.0.0.1:8000/api/redoc/\n'
	@printf 'Admin: http://127.0.0.1:8000/admin/ (an account: make superuser, or make support-user NAME=sam)\n\n'
	$(BIN)/python manage.py runserver 127.0.0.1:8000

# Commands against the configured database (DATABASE_URL, else db.sqlite3), after migrating it. They run in
# development mode unless DJANGO_DEBUG is in the environment, so they work on a fresh clone; secrets set in the
# environment or in .env are still the ones used.
token superuser support-user manage: export DJANGO_DEBUG ?= 1
MIGRATE = $(BIN)/python manage.py migrate --noinput --verbosity 0

# A token for USER (a user id, not the login name make sees in the environment): make token USER=alice
token: $(VENV)/.run-deps
	$(if $(filter command line,$(origin USER)),,$(error Say whose token: make token USER=alice))
	@$(MIGRATE)
	@$(BIN)/python manage.py mint_token '$(USER)'

# An admin account with every right; asks for the name, e-mail and password.
superuser: $(VENV)/.run-deps
	@$(MIGRATE)
	$(BIN)/python manage.py createsuperuser

# A support engineer's admin account (staff, in the Support group); asks for the password.
support-user: $(VENV)/.run-deps
	$(if $(NAME),,$(error Say the account's name: make support-user NAME=sam))
	@$(MIGRATE)
	$(BIN)/python manage.py create_support_user '$(NAME)'

# Any other management command: make manage ARGS='changepassword sam'
manage: $(VENV)/.run-deps
	$(if $(ARGS),,$(error Say the command: make manage ARGS='changepassword sam'))
	@$(MIGRATE)
	$(BIN)/python manage.py $(ARGS)

# The production setup, locally: debug off, nginx in front of gunicorn (deploy/serve.py), JSON logs, on
# SERVE_BIND (127.0.0.1:8000). Needs nginx, and DJANGO_SECRET_KEY and BETTER_AUTH_SECRET in the environment
# or in .env (see .env.example).
serve: $(VENV)/.run-deps
	DJANGO_DEBUG=0 $(BIN)/python manage.py migrate --noinput --verbosity 0
	DJANGO_DEBUG=0 $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DJANGO_DEBUG=0 $(BIN)/python deploy/serve.py

# Coverage (.coveragerc) of the in-process tests and of the servers they start: the report lists the files not
# fully covered, and the run fails when less than COVERAGE_LINES_MIN percent of the lines ran.
COVERAGE_LINES_MIN := 95
COVERAGE_JSON := test-artifacts/coverage.json

# What the live tests need on the machine, checked before anything is installed (.ci/check_machine.py).
check-machine:
	@$(PYTHON) .ci/check_machine.py

test: check-machine $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest --cov --cov-report=term --cov-report=json:$(COVERAGE_JSON)
	$(BIN)/python .ci/coverage_lines.py $(COVERAGE_JSON) $(COVERAGE_LINES_MIN)

# The reliability suite alone (also part of `make test`), with its summary of what it tried.
check-reliability: check-machine $(VENV)/.test-deps
	$(BIN)/pytest -m reliability

# The benchmark: our API against a bare WSGI floor, under wrk; writes BENCHMARKS.md.
bench: $(VENV)/.test-deps
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache db.sqlite3 staticfiles test-artifacts
