"""The canonical qualified names of the APIs the rules recognise, in one place.

Names include re-export paths: a call matches when LibCST's scope analysis
resolves its callee, through imports, to one of these.
"""

BITS_AND_BYTES_CONFIG = frozenset(
    {
        "transformers.BitsAndBytesConfig",
        "transformers.utils.BitsAndBytesConfig",
        "transformers.utils.quantization_config.BitsAndBytesConfig",
        "diffusers.BitsAndBytesConfig",
        "diffusers.quantizers.BitsAndBytesConfig",
        "diffusers.quantizers.quantization_config.BitsAndBytesConfig",
    }
)

PIPELINE = frozenset({"transformers.pipeline", "transformers.pipelines.pipeline"})

# `from_pretrained` of these packages forwards quantization keywords to transformers.
MODEL_LOADER_PACKAGES = ("transformers.", "peft.")

# Classes whose `from_pretrained` loads no weights, so quantization keywords mean nothing.
NON_MODEL_SUFFIXES = (
    "Tokenizer",
    "TokenizerFast",
    "Processor",
    "Config",
    "FeatureExtractor",
    "ImageProcessor",
    "GenerationConfig",
)

# Calls that return the model they are given, wrapped (a PEFT model generates as its base does).
MODEL_WRAPPERS = frozenset({"peft.get_peft_model", "peft.mapping.get_peft_model"})

# Calls that set a quantized model up for (QLoRA) training, where 4-bit is chosen for memory.
KBIT_TRAINING = frozenset(
    {
        "peft.prepare_model_for_kbit_training",
        "peft.utils.prepare_model_for_kbit_training",
        "peft.get_peft_model",
        "trl.SFTTrainer",
        "trl.DPOTrainer",
        "trl.GRPOTrainer",
        "trl.PPOTrainer",
        "transformers.Trainer",
        "transformers.Seq2SeqTrainer",
    }
)

# The call that readies a k-bit model for training (casts norms, enables input gradients).
KBIT_PREPARATION = frozenset({"peft.prepare_model_for_kbit_training", "peft.utils.prepare_model_for_kbit_training"})

# What a fix imports to build a quantization config.
CONFIG_IMPORT = ("transformers", "BitsAndBytesConfig")


def is_model_from_pretrained(qualified_name: str) -> bool:
    """`transformers.AutoModelForCausalLM.from_pretrained` and the like, not tokenizers."""
    if not qualified_name.endswith(".from_pretrained"):
        return False
    if not qualified_name.startswith(MODEL_LOADER_PACKAGES):
        return False
    owner = qualified_name[: -len(".from_pretrained")].rsplit(".", 1)[-1]
    return not owner.endswith(NON_MODEL_SUFFIXES)


# torchao's float8 weight-only configuration (reference kernel) and the calls that apply one.
FLOAT8_WEIGHT_ONLY = frozenset(
    {
        "torchao.quantization.Float8WeightOnlyConfig",
        "torchao.quantization.quant_api.Float8WeightOnlyConfig",
        "torchao.quantization.float8_weight_only",
        "torchao.quantization.quant_api.float8_weight_only",
    }
)
TORCHAO_CONFIG = frozenset({"transformers.TorchAoConfig", "transformers.utils.quantization_config.TorchAoConfig"})
TORCHAO_QUANTIZE = frozenset({"torchao.quantize_", "torchao.quantization.quantize_", "torchao.quantization.quant_api.quantize_"})
