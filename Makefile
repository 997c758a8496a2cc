# sevila: every entry point of the project. `make help` lists the targets.
# Stages chain through files in checkpoints/$(PROFILE)/: each target runs only when its output is missing.
# A stage trains in <stage folder>/run-<digest of its configuration and inputs>/ (README "Re-runs"): deleting
# an output and running the target again resumes that configuration's unfinished run, trains a changed
# configuration in a new folder, and stops with one line naming the folder to remove if this one is finished.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SEVILA := $(BIN)/sevila
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

PROFILE ?= demo
ifeq ($(PROFILE),demo)
DATASET ?= demo_qa
MOMENTS ?= demo_moments
BACKBONE ?= data/demo/backbone
else
DATASET ?= nextqa
MOMENTS ?= qvhighlights
BACKBONE ?= Salesforce/blip2-flan-t5-xl
endif
CKPT := checkpoints/$(PROFILE)
RESULTS := results/$(PROFILE)/$(DATASET)
# Stage outputs; override to start from other weights, e.g. LOCALIZER=checkpoints/paper/sevila_pretrained.safetensors
LOCALIZER ?= $(CKPT)/$(MOMENTS)/localizer.safetensors
# NExT-GQA is evaluation only: its questions are NExT-QA's, so it uses the NExT-QA stage outputs.
TRAINED_ON := $(if $(filter nextgqa,$(DATASET)),nextqa,$(DATASET))
ANSWERER ?= $(CKPT)/$(TRAINED_ON)/answerer.safetensors
# `make refine ANSWERER=` refines with the zero-shot Answerer, `LOCALIZER=` from BLIP-2's Q-Former (paper Table 5):
# each gets its own output and (for the Answerer) its own pseudo-label cache, so no setting overwrites another's.
REFINE_TAG = $(if $(ANSWERER),,_zero-shot-answerer)$(if $(LOCALIZER),,_no-pretraining)
REFINED ?= $(CKPT)/$(TRAINED_ON)/localizer_refined$(REFINE_TAG).safetensors
LAVIS ?= sevila_pretrained.pth
# ViT features of evaluation and refinement frames, reused across epochs and runs; CACHE= turns the cache off
CACHE ?= $(CKPT)/features
FEATURES = $(if $(CACHE),--model.init_args.feature_cache=$(CACHE))
# data, stage, the stage's recipe for that dataset (stages/recipes/<stage>/<dataset>.yaml, when there is one), profile
RECIPE = $(wildcard stages/recipes/$(1)/$(2).yaml)
CONFIGS = -c stages/data/$(2).yaml -c stages/$(1).yaml $(addprefix -c ,$(RECIPE)) -c stages/profiles/$(PROFILE).yaml
FIT_FLAGS = --model.init_args.backbone=$(BACKBONE) --ckpt_path=last
FIT_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup test demo bench bench-chain bench-gpu bench-deps import-checkpoint banner pretrain-localizer finetune-answerer refine eval experiment experiments clean-venv

help: ## list the targets and the variables PROFILE (demo|paper), DATASET, BACKBONE, CACHE
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'
	@echo "  now: PROFILE=$(PROFILE) DATASET=$(DATASET) MOMENTS=$(MOMENTS) BACKBONE=$(BACKBONE) CACHE=$(CACHE)"
	@echo "  eval: SELECTION=$(SELECTION) (localizer|uniform|all) AGGREGATION=$(AGGREGATION) (concat|vote|oracle) EVAL_LOCALIZER=$(EVAL_LOCALIZER) EVAL_ANSWERER=$(EVAL_ANSWERER) (empty = zero-shot)"
	@echo "  refine: ANSWERER=$(ANSWERER) LOCALIZER=$(LOCALIZER) (ANSWERER= empty: zero-shot Answerer; LOCALIZER= empty: BLIP-2's Q-Former) -> $(REFINED)"
	@echo "  experiment: NAME=$(NAME) SEEDS=$(SEEDS) (e.g. SEEDS=\"0 1 2\": demo worlds data/demo, data/demo-seed<s>; mean ± SE over the seeds)"
	@echo "  recipes: stages/recipes/<stage>/<dataset>.yaml (paper Table 11 and the official run scripts)"
	@echo "  a stage whose output exists is skipped: delete the output to run it again; it resumes an unfinished run"
	@echo "  of the same configuration, trains a changed one in a new run-<digest> folder, and names the folder to"
	@echo "  remove if that configuration already finished (README 'Re-runs')"

$(STAMP): setup.cfg pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,app]'
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install sevila with its dev tools (CPU torch pinned by constraints.txt)

test: $(STAMP) ## run the test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

banner:
	@echo "== sevila: profile $(PROFILE) | backbone $(BACKBONE) | QA data stages/data/$(DATASET).yaml | moments stages/data/$(MOMENTS).yaml"

pretrain-localizer: $(STAMP) banner ## stage 1: Localizer on QVHighlights -> checkpoints/PROFILE/MOMENTS/localizer.safetensors
	@test -f $(LOCALIZER) && echo "$(LOCALIZER) exists: skipping (delete it to run the stage again; make help)" || \
	$(SEVILA) fit $(call CONFIGS,pretrain_localizer,$(MOMENTS)) $(FIT_FLAGS) \
	  --model.init_args.export_path=$(LOCALIZER) --trainer.default_root_dir=$(CKPT)/$(MOMENTS)/pretrain_localizer $(FIT_ARGS)

finetune-answerer: $(STAMP) banner ## stage 2: Answerer on DATASET with the stage-1 Localizer -> answerer.safetensors
	@test -f $(LOCALIZER) || { echo "missing $(LOCALIZER): run 'make pretrain-localizer PROFILE=$(PROFILE)' first"; exit 2; }
	@test -f $(ANSWERER) && echo "$(ANSWERER) exists: skipping (delete it to run the stage again; make help)" || \
	$(SEVILA) fit $(call CONFIGS,finetune_answerer,$(DATASET)) $(FIT_FLAGS) --model.init_args.init_localizer=$(LOCALIZER) \
	  --model.init_args.export_path=$(ANSWERER) --trainer.default_root_dir=$(CKPT)/$(DATASET)/finetune_answerer $(FIT_ARGS)

refine: $(STAMP) banner ## stage 3: self-refine the Localizer with the fine-tuned Answerer -> localizer_refined.safetensors
	@$(if $(ANSWERER),$(call NEED,$(ANSWERER),run 'make finetune-answerer PROFILE=$(PROFILE) DATASET=$(DATASET)' first or give ANSWERER= (empty) to refine with the zero-shot Answerer))
	@$(if $(LOCALIZER),$(call NEED,$(LOCALIZER),run 'make pretrain-localizer PROFILE=$(PROFILE)' first or give LOCALIZER= (empty) to start from BLIP-2's Q-Former))
	@test -f $(REFINED) && echo "$(REFINED) exists: skipping (delete it to run the stage again; make help)" || \
	$(SEVILA) fit $(call CONFIGS,refine_localizer,$(DATASET)) $(FIT_FLAGS) $(if $(LOCALIZER),--model.init_args.init_localizer=$(LOCALIZER)) \
	  $(if $(ANSWERER),--model.init_args.init_answerer=$(ANSWERER)) --model.init_args.cache_dir=$(CKPT)/$(DATASET)/pseudo_labels$(if $(ANSWERER),,_zero-shot) $(FEATURES) \
	  --model.init_args.export_path=$(REFINED) --trainer.default_root_dir=$(CKPT)/$(DATASET)/refine_localizer $(FIT_ARGS)

# $(call EVALUATE,selection,localizer weights or empty,answerer weights or empty,output folder)
EVALUATE = $(SEVILA) test $(call CONFIGS,evaluate,$(DATASET)) --model.init_args.backbone=$(BACKBONE) $(FEATURES) \
	  --model.init_args.selection=$(1) --model.init_args.aggregation=$(AGGREGATION) $(if $(2),--model.init_args.init_localizer=$(2)) \
	  $(if $(3),--model.init_args.init_answerer=$(3)) --model.init_args.output_dir=$(4) --trainer.default_root_dir=$(4) $(FIT_ARGS)

# What `make eval` evaluates: exactly these (empty = BLIP-2's Q-Former, zero-shot); nothing is picked by existence.
SELECTION ?= localizer
# concat (SeViLA's Answerer), vote (BLIP-2^voting) or oracle (the upper bound); README "Experiment modes"
AGGREGATION ?= concat
EVAL_LOCALIZER ?= $(REFINED)
EVAL_ANSWERER ?= $(ANSWERER)
# The output folder is named by what was evaluated: <file stem>-<first 8 hex digits of its sha256>, or zero-shot,
# so no two settings or weights share a folder. A shell expression: expand it inside a recipe line.
WEIGHTS = $(if $(1),$(basename $(notdir $(1)))-$$(sha256sum $(1) | cut -c1-8),zero-shot)
EVAL_NAME = $(SELECTION)$(if $(filter-out concat,$(AGGREGATION)),-$(AGGREGATION))$(if $(filter localizer,$(SELECTION)),_loc-$(call WEIGHTS,$(EVAL_LOCALIZER)))_ans-$(call WEIGHTS,$(EVAL_ANSWERER))
NEED = test -f $(1) || { echo "missing $(1): $(2)"; exit 2; }

eval: $(STAMP) banner ## stage 4: forward chain on DATASET -> results/PROFILE/DATASET/<selection>_loc-<weights>_ans-<weights>/
ifeq ($(DATASET),$(MOMENTS))
	@$(call NEED,$(LOCALIZER),run 'make pretrain-localizer PROFILE=$(PROFILE)' first)
	@out=$(RESULTS)/loc-$(call WEIGHTS,$(LOCALIZER)); echo "eval: moment retrieval with $(LOCALIZER) -> $$out"; \
	$(SEVILA) test $(call CONFIGS,pretrain_localizer,$(MOMENTS)) --model.init_args.backbone=$(BACKBONE) $(FEATURES) \
	  --model.init_args.init_localizer=$(LOCALIZER) --model.init_args.output_dir=$$out --trainer.default_root_dir=$$out \
	  --data.init_args.test_file=val.json $(FIT_ARGS)
else
	@$(if $(filter localizer,$(SELECTION)),$(if $(EVAL_LOCALIZER),$(call NEED,$(EVAL_LOCALIZER),run the stage that writes it or set EVAL_LOCALIZER=<file> (empty: zero-shot))))
	@$(if $(EVAL_ANSWERER),$(call NEED,$(EVAL_ANSWERER),run 'make finetune-answerer PROFILE=$(PROFILE) DATASET=$(DATASET)' or set EVAL_ANSWERER=<file> (empty: zero-shot)))
	@out=$(RESULTS)/$(EVAL_NAME); \
	echo "eval: $(SELECTION) keyframes, $(AGGREGATION) read-out;$(if $(filter localizer,$(SELECTION)), Localizer $(or $(EVAL_LOCALIZER),BLIP-2 Q-Former (zero-shot));) Answerer $(or $(EVAL_ANSWERER),BLIP-2 Q-Former (zero-shot)) -> $$out"; \
	$(call EVALUATE,$(SELECTION),$(if $(filter localizer,$(SELECTION)),$(EVAL_LOCALIZER)),$(EVAL_ANSWERER),$$out)
endif

# Re-evaluated whenever its metrics are missing or older than the weights evaluated.
DEMO_EVAL = { test results/demo/$(1)/metrics.json -nt $(3) && test results/demo/$(1)/metrics.json -nt $(ANSWERER); } || \
	$(call EVALUATE,$(2),$(3),$(ANSWERER),results/demo/$(1))

demo: $(STAMP) ## everything on the embedded synthetic benchmark, on CPU -> results/demo/summary.{json,md,png}
	@test "$(PROFILE)" = demo || { echo "make demo runs the demo profile only (got PROFILE=$(PROFILE))"; exit 2; }
	$(SEVILA) demo-data --output data/demo
	$(SEVILA) demo-backbone --output $(BACKBONE)
	$(MAKE) --no-print-directory pretrain-localizer finetune-answerer refine
	$(call DEMO_EVAL,uniform,uniform,$(LOCALIZER))
	$(call DEMO_EVAL,localizer,localizer,$(LOCALIZER))
	$(call DEMO_EVAL,refined,localizer,$(REFINED))
	$(SEVILA) demo-report --data data/demo --results results/demo --checkpoints $(CKPT) --backbone $(BACKBONE)
	@echo "TensorBoard logs: $(BIN)/tensorboard --logdir $(CKPT)"

# The paper's experiments (stages/experiments/<name>.yaml; README "Experiments"): each cell a chain of the stage
# commands above, each stage run in checkpoints/PROFILE/experiments/stages/<stage>/<digest of its configuration>/.
NAME ?=
# SEEDS="0 1 2" (demo profile): each cell once per seed's world (data/demo for 0, data/demo-seed<s> else, built
# first), the table the mean ± SE over the seeds (README "Experiments")
SEEDS ?=
EXPERIMENTS = $(sort $(basename $(notdir $(wildcard stages/experiments/*.yaml))))
EXPERIMENT = $(SEVILA) experiment $(1) --profile $(PROFILE) --dataset $(DATASET) --backbone $(BACKBONE) \
	$(if $(strip $(SEEDS)),--seeds $(SEEDS))

experiment: $(STAMP) banner ## one experiment, NAME=table7 (stages/experiments/) -> results/PROFILE/experiments/NAME/table.md
	@test -n "$(NAME)" || { echo "give NAME=<experiment>: one of $(EXPERIMENTS)"; exit 2; }
	$(call EXPERIMENT,$(NAME))

experiments: $(STAMP) banner ## every experiment of stages/experiments/, one after another, each with its wall time
	@for name in $(EXPERIMENTS); do start=$$(date +%s); $(call EXPERIMENT,$$name) || exit $$?; \
	  echo "== $$name: $$(( $$(date +%s) - start )) s"; done

import-checkpoint: $(STAMP) ## the authors' sevila_pretrained.pth (LAVIS=path) -> checkpoints/paper/sevila_pretrained.safetensors
	$(SEVILA) import-checkpoint --lavis $(LAVIS) --output checkpoints/paper/sevila_pretrained.safetensors --backbone $(BACKBONE)

bench: $(STAMP) ## sampling speed and memory vs decord (pip install -e '.[bench]'), feature cache, FLOPs, loader waits
	$(BIN)/python benchmarks/decode.py
	$(BIN)/python benchmarks/feature_cache.py
	$(BIN)/python benchmarks/flops.py
	$(BIN)/python benchmarks/loader.py

bench-chain: $(STAMP) ## forward chain on CPU, mid-size random model: this code against today's (BASELINE=<git rev>)
	$(BIN)/python benchmarks/chain_batch.py $(if $(BASELINE),--baseline $(BASELINE))

bench-gpu: $(STAMP) ## full-size SeViLA on one GPU, paper dtypes, random weights: s/question, memory, share of peak
	$(BIN)/python benchmarks/gpu.py $(BENCH_ARGS)

bench-deps: $(STAMP) ## build torchcodec from source against the system FFmpeg for benchmarks/decode.py (CPU torch)
	bash benchmarks/build_torchcodec.sh $(BIN)/python

clean-venv: ## remove .venv
	rm -rf $(VENV)
