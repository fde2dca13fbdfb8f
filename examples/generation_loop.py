"""An evaluation loop that generates one prompt at a time (ECO103)."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL_ID = "mistralai/Mistral-7B-Instruct-v0.2"

tokenizer = AutoTokenizer.from_pretrained(MODEL_ID)
model = AutoModelForCausalLM.from_pretrained(MODEL_ID, dtype=torch.bfloat16, device_map="auto")

questions = ["What is 2 + 2?", "Name a prime number.", "What colour is the sky?"]
answers = []
for question in questions:
    inputs = tokenizer(question, return_tensors="pt").to(model.device)
    output_ids = model.generate(**inputs, max_new_tokens=32, do_sample=False)
    answers.append(tokenizer.decode(output_ids[0], skip_special_tokens=True))
print(answers)
