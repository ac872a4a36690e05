"""Prompts as token ids: the chat template when the tokenizer has one, plain text otherwise."""

from __future__ import annotations

from typing import Any

from salam.llm.base import Prompt
from salam.llm.local_model import LoadedModel

# Stands in for the user's text to find where the template puts it; no prompt contains it.
_SENTINEL = "\ufdd0user text\ufdd0"


def prompt_text(tokenizer: Any, prompt: Prompt, *, user_text: str | None = None) -> str:
    """The prompt as the model reads it, up to where the assistant's answer starts."""
    text = prompt.text if user_text is None else user_text
    if not tokenizer.chat_template:
        return f"{prompt.system}\n\n{text}" if prompt.system else text
    messages = [{"role": "user", "content": text}]
    if prompt.system:
        messages.insert(0, {"role": "system", "content": prompt.system})
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return str(rendered)


def encode_prompt(loaded: LoadedModel, prompt: Prompt, prefill: str = "") -> list[int]:
    """Token ids of the templated prompt, with `prefill` starting the assistant's answer."""
    return _encode(loaded.tokenizer, prompt_text(loaded.tokenizer, prompt) + prefill)


def shared_head(loaded: LoadedModel, prompt: Prompt) -> tuple[int, ...]:
    """The ids every prompt with this system message starts with: the template before the
    user's text. Empty when the model has no chat template."""
    tokenizer = loaded.tokenizer
    if not tokenizer.chat_template:
        return ()
    rendered = prompt_text(tokenizer, prompt, user_text=_SENTINEL)
    return tuple(_encode(tokenizer, rendered[: rendered.index(_SENTINEL)]))


def _encode(tokenizer: Any, text: str) -> list[int]:
    # A chat template writes its own special tokens (BOS included); plain text needs the
    # tokenizer's.
    add_special = not tokenizer.chat_template
    return list(tokenizer(text, add_special_tokens=add_special)["input_ids"])
