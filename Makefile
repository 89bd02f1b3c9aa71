# The two quick-start commands (README.md): `make demo` and `make test`.
SHELL := /bin/bash
RUN := source scripts/env.sh &&

.PHONY: setup demo test test-fast bench clean

setup:
	@bash scripts/setup.sh

## Set up, then the main job on the local target: synthesize every environment, run the static gate over all of
## them, deploy dev to the local emulator (bootstrap, plan, plan gate, review, apply, empty re-plan), show the review.
demo: setup
	@$(RUN) python main.py synth
	@$(RUN) python main.py check
	@$(RUN) python main.py deploy --env dev
	@$(RUN) cat cdktf.local.out/stacks/dev/review.md
	@echo; echo "dev is deployed to the local emulator: 'python main.py local status'; tear down with"
	@echo "'python main.py destroy --env dev --yes' (it names the stateful resources to confirm with --approve ADDRESS)"
	@echo "and 'python main.py local down'."

## Set up, then the whole test suite (unit, validate, plan + gate, end-to-end on an emulator of its own).
test: setup
	@bash .ci/install-system.sh
	@$(RUN) python -m pytest -q -n 4 --dist loadgroup --no-loadscope-reorder --durations=25

## Every test that needs neither Terraform nor the emulator, less the `slow` proofs of equivalence with stock tools
## and installed packages (markers `e2e`, `validate` and `slow` deselected; `make test` runs them all).
test-fast: setup
	@$(RUN) python -m pytest -q -n 2 --dist loadgroup --no-loadscope-reorder -m "not e2e and not validate and not slow" --durations=10 tests

bench: setup
	@$(RUN) python benchmarks/bench_synth.py

clean:
	rm -rf cdktf.out cdktf.local.out .build
