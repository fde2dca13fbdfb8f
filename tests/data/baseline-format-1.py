"""Findings in the shapes a baseline must tell apart: module level, a method, a nested and a decorated function."""

import functools

from transformers import AutoModelForCausalLM, BitsAndBytesConfig

DEFAULT = BitsAndBytesConfig(load_in_8bit=True)


class Server:
    def load(self, name):
        config = BitsAndBytesConfig(
            load_in_8bit=True,  # the 8-bit load
        )
        return AutoModelForCausalLM.from_pretrained(name, quantization_config=config)


def outer():
    def inner():
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0)

    return inner


@functools.cache
def cached():
    return BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=6.0)
