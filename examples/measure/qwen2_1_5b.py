"""The four energy findings on one model, for `ecolint check --measure` (ECO101-ECO104)."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

MODEL_ID = "Qwen/Qwen2-1.5B"
tokenizer = AutoTokenizer.from_pretrained(MODEL_ID)

# ECO101: 8-bit with LLM.int8()'s outlier decomposition left on.
int8 = BitsAndBytesConfig(load_in_8bit=True)
int8_model = AutoModelForCausalLM.from_pretrained(MODEL_ID, quantization_config=int8, dtype=torch.float16)

# ECO102: NF4 where the FP16 weights fit the card with room to spare.
nf4 = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float16)
nf4_model = AutoModelForCausalLM.from_pretrained(MODEL_ID, quantization_config=nf4, dtype=torch.float16)

# ECO104: NF4 with the compute dtype left at float32.
nf4_fp32 = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")
nf4_fp32_model = AutoModelForCausalLM.from_pretrained(MODEL_ID, quantization_config=nf4_fp32, dtype=torch.float16)  # noqa: ECO102

# ECO103: one prompt at a time.
model = AutoModelForCausalLM.from_pretrained(MODEL_ID, dtype=torch.float16, device_map="cuda")
answers = []
for prompt in ["The capital of France is", "A haiku about GPUs:", "Energy per token depends on"]:
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    output_ids = model.generate(**inputs, max_new_tokens=64, do_sample=False)
    answers.append(tokenizer.decode(output_ids[0], skip_special_tokens=True))
