# sevila: every entry point of the project. `make help` lists the targets.
# Stages chain through files in checkpoints/$(PROFILE)/: each target runs only when its output is missing.
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
LOCALIZER := $(CKPT)/$(MOMENTS)/localizer.safetensors
ANSWERER := $(CKPT)/$(DATASET)/answerer.safetensors
REFINED := $(CKPT)/$(DATASET)/localizer_refined.safetensors
CONFIGS = -c stages/data/$(2).yaml -c stages/$(1).yaml -c stages/profiles/$(PROFILE).yaml
FIT_FLAGS = --model.init_args.backbone=$(BACKBONE) --ckpt_path=last
FIT_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup test demo banner pretrain-localizer finetune-answerer refine eval clean-venv

help: ## list the targets and the variables PROFILE (demo|paper), DATASET, BACKBONE
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'
	@echo "  now: PROFILE=$(PROFILE) DATASET=$(DATASET) MOMENTS=$(MOMENTS) BACKBONE=$(BACKBONE)"

$(STAMP): setup.cfg pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install sevila with its dev tools (CPU torch pinned by constraints.txt)

test: $(STAMP) ## run the test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

banner:
	@echo "== sevila: profile $(PROFILE) | backbone $(BACKBONE) | QA data stages/data/$(DATASET).yaml | moments stages/data/$(MOMENTS).yaml"

pretrain-localizer: $(STAMP) banner ## stage 1: Localizer on QVHighlights -> $(CKPT)/$(MOMENTS)/localizer.safetensors
	@test -f $(LOCALIZER) && echo "$(LOCALIZER) exists: skipping (delete it to re-train)" || \
	$(SEVILA) fit $(call CONFIGS,pretrain_localizer,$(MOMENTS)) $(FIT_FLAGS) \
	  --model.init_args.export_path=$(LOCALIZER) --trainer.default_root_dir=$(CKPT)/$(MOMENTS)/pretrain_localizer $(FIT_ARGS)

finetune-answerer: $(STAMP) banner ## stage 2: Answerer on DATASET with the stage-1 Localizer -> answerer.safetensors
	@test -f $(LOCALIZER) || { echo "missing $(LOCALIZER): run 'make pretrain-localizer PROFILE=$(PROFILE)' first"; exit 2; }
	@test -f $(ANSWERER) && echo "$(ANSWERER) exists: skipping (delete it to re-train)" || \
	$(SEVILA) fit $(call CONFIGS,finetune_answerer,$(DATASET)) $(FIT_FLAGS) --model.init_args.init_localizer=$(LOCALIZER) \
	  --model.init_args.export_path=$(ANSWERER) --trainer.default_root_dir=$(CKPT)/$(DATASET)/finetune_answerer $(FIT_ARGS)

refine: $(STAMP) banner ## stage 3: self-refine the Localizer with the fine-tuned Answerer -> localizer_refined.safetensors
	@test -f $(ANSWERER) || { echo "missing $(ANSWERER): run 'make finetune-answerer PROFILE=$(PROFILE) DATASET=$(DATASET)' first"; exit 2; }
	@test -f $(REFINED) && echo "$(REFINED) exists: skipping (delete it to re-train)" || \
	$(SEVILA) fit $(call CONFIGS,refine_localizer,$(DATASET)) $(FIT_FLAGS) --model.init_args.init_localizer=$(LOCALIZER) \
	  --model.init_args.init_answerer=$(ANSWERER) --model.init_args.cache_dir=$(CKPT)/$(DATASET)/pseudo_labels \
	  --model.init_args.export_path=$(REFINED) --trainer.default_root_dir=$(CKPT)/$(DATASET)/refine_localizer $(FIT_ARGS)

eval: $(STAMP) banner ## stage 4: forward chain on DATASET -> $(RESULTS)/{predictions,metrics}.json
	@loc=$(REFINED); [ -f $$loc ] || loc=$(LOCALIZER); ans=$(ANSWERER); \
	if [ -f $$ans ]; then echo "eval: Localizer $$loc, fine-tuned Answerer $$ans"; ans_flag=--model.init_args.init_answerer=$$ans; \
	else echo "eval: no $(ANSWERER): zero-shot Answerer (BLIP-2 Q-Former), Localizer $$loc"; ans_flag=; fi; \
	[ -f $$loc ] && loc_flag=--model.init_args.init_localizer=$$loc || { echo "eval: no Localizer checkpoint: BLIP-2 Q-Former as Localizer"; loc_flag=; }; \
	$(SEVILA) test $(call CONFIGS,evaluate,$(DATASET)) --model.init_args.backbone=$(BACKBONE) $$loc_flag $$ans_flag \
	  --model.init_args.output_dir=$(RESULTS) $(FIT_ARGS)

clean-venv: ## remove .venv
	rm -rf $(VENV)
