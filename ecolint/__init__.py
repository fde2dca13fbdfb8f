"""ecolint: a linter for Hugging Face / bitsandbytes code that wastes GPU energy."""

__version__ = "0.1.0"
