"""The same loads written the efficient way: nothing to report."""

import torch
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

# Memory is not the constraint: FP16/BF16 is the most efficient choice.
model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-1.5B", dtype=torch.bfloat16, device_map="auto")

# Memory is the constraint: 8-bit without the outlier decomposition.
pure_int8 = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0.0)
big = AutoModelForCausalLM.from_pretrained("mistralai/Mistral-7B-v0.1", quantization_config=pure_int8, device_map="auto")
