# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,plot,web,tensorboard,ray]'
	touch $(STAMP)

# The main job on the bundled Chinchilla runs: fit the law, forecast a 70B model on 1.4T tokens,
# the compute-optimal N and D at 5.88e23 FLOPs, and the whole of it as one HTML report.
demo: $(STAMP)
	@mkdir -p .demo
	$(BIN)/scalinglaws fit chinchilla --law chinchilla --out .demo/chinchilla-fit.json
	$(BIN)/scalinglaws predict .demo/chinchilla-fit.json --at N=7e10,D=1.4e12
	$(BIN)/scalinglaws plan .demo/chinchilla-fit.json --compute 5.88e23
	$(BIN)/scalinglaws report chinchilla --law chinchilla --at N=7e10,D=1.4e12 --compute 5.88e23 --out .demo/report.html

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup  # two workers (the CI machine has two cores)

clean:
	rm -rf $(VENV) build src/*.egg-info
