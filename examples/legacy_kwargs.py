"""Written for transformers 4.x: bare `load_in_8bit` / `load_in_4bit` keywords (ECO105, with ECO101, ECO102 and ECO104) and an int threshold (ECO106)."""

from transformers import AutoModelForCausalLM, BitsAndBytesConfig, pipeline

model = AutoModelForCausalLM.from_pretrained("facebook/opt-1.3b", load_in_8bit=True, device_map="auto")

strict = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0)

generator = pipeline(
    "text-generation",
    model="facebook/opt-350m",
    model_kwargs={"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
)
