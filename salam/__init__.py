"""salam: LLMs that learn from their mistakes (SALAM, Wang & Li, EMNLP 2023)."""

__version__ = "0.1.0"
