# cnnlab: every target bootstraps what it needs, so each works on a fresh clone.
#   make lab      create .venv on first use, refresh your workspace work/, open JupyterLab on it
#   make update   take the course's new commits (git pull), then refresh work/ (your changes kept)
#   make test     unit tests + every notebook under nbval (CNNLAB_QUICK=1); LESSON=03: one lesson's
#                 tests and notebooks
#   make course   run every lesson and export HTML with outputs into build/
#   make slides   lesson slide decks (reveal.js, offline) into build/slides/
#   make bench    speed and accuracy benchmarks into bench/results/
#   make exercises  regenerate exercises/ from solutions/
#   make grade    grade SUBMISSIONS (default submissions/*.ipynb) into grades/

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.cnnlab-installed
JOBS   ?= 2
LAB_ARGS ?=
# LESSON=03 narrows `make test` to one lesson: the tests marked lesson03 (tests/conftest.py assigns
# the marks) and that lesson's notebook, solution and exercise notebooks.
LESSON ?=

.PHONY: grade lab update test test-unit test-notebooks course slides bench exercises check-exercises clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[lab,test]"
	# RISE's default slide theme pulls web fonts from the internet; its white theme does not.
	mkdir -p $(VENV)/share/jupyter/lab/settings
	echo '{"jupyterlab-rise:plugin": {"theme": "white"}}' > $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

# The learner works in work/, never in the course's own notebooks (see cnnlab/workspace.py).
lab: $(STAMP)
	$(VENV)/bin/cnnlab lab $(LAB_ARGS)

update: $(STAMP)
	$(VENV)/bin/cnnlab workspace update

test: test-unit test-notebooks

# Each pytest worker gets one BLAS/OpenMP thread: JOBS workers already fill the cores, and
# oversubscribed OpenBLAS threads make small matrix products stall.
TEST_ENV := CNNLAB_QUICK=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
LESSON_MARK := $(if $(LESSON),-m lesson$(LESSON))
LESSON_NOTEBOOKS := $(if $(LESSON),$(wildcard notebooks/$(LESSON)_*.ipynb solutions/$(LESSON)_*.ipynb),notebooks/ solutions/)
LESSON_EXERCISES := $(if $(LESSON),$(wildcard exercises/$(LESSON)_*.ipynb),exercises/)

test-unit: $(STAMP)
	$(VENV)/bin/cnnlab exercises check
	$(TEST_ENV) $(PY) -m pytest -n $(JOBS) --dist loadfile -q --durations=10 $(LESSON_MARK) tests/

test-notebooks: $(STAMP)
	$(TEST_ENV) CNNLAB_CHECKS_STRICT=1 $(PY) -m pytest -n $(JOBS) --dist loadscope -q \
		-p no:cacheprovider --nbval-lax --nbval-current-env $(LESSON_NOTEBOOKS)
	$(if $(LESSON_EXERCISES),$(TEST_ENV) $(PY) -m pytest -n $(JOBS) --dist loadscope -q \
		-p no:cacheprovider --nbval-lax --nbval-current-env $(LESSON_EXERCISES))

course: $(STAMP)
	$(VENV)/bin/cnnlab course html --out build

slides: $(STAMP)
	$(VENV)/bin/cnnlab course slides --quick --out build/slides

bench: $(STAMP)
	mkdir -p bench/results
	for script in bench/bench_*.py; do $(PY) $$script || exit 1; done

exercises: $(STAMP)
	$(VENV)/bin/cnnlab exercises build

SUBMISSIONS ?= submissions/*.ipynb
grade: $(STAMP)
	$(VENV)/bin/cnnlab grade $(SUBMISSIONS) --jobs $(JOBS) --format csv --out grades

check-exercises: $(STAMP)
	$(VENV)/bin/cnnlab exercises check

clean:
	rm -rf build .pytest_cache
