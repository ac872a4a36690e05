"""LoRA fine-tuning of the study assistant: a tiny random Llama that the tests build and save,
trained through the same loading code as a real model; one short run on the real SmolLM2."""

import json
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from shared_data import shared_data_dir

from salam.errors import ConfigError, FinetuneError
from salam.feedback_file import load_feedback_file
from salam.finetune import FinetuneConfig, TrainingExample, run_finetune
from salam.finetune.base_model import load_base_model
from salam.finetune.encoding import IGNORED, encode_example, end_of_sequence_id, pad_batch
from salam.finetune.examples import split_held_out
from salam.finetune.job import LOG_FILE, METRICS_FILE
from salam.finetune.precision import training_dtype
from salam.llm.base import GenerationParams
from salam.prompts import feedback_prompt
from salam.records import QuestionRecord
from salam.settings import Settings

CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)
SHORT_SAMPLING = GenerationParams(max_new_tokens=8, temperature=1.0, top_k=50, seed=0)
FAST = FinetuneConfig(
    lora_rank=4,
    lora_alpha=8,
    learning_rate=5e-2,
    max_steps=3,
    batch_size=2,
    grad_accumulation=1,
    max_length=256,
    held_out_fraction=0.25,
    eval_generations=2,
    dtype="float32",
    device="cpu",
)


def question(index: int) -> QuestionRecord:
    return QuestionRecord(
        id=f"toy/t/{index}",
        benchmark="toy",
        task="t",
        index=index,
        prompt=f"Who won game {index}?\nOptions:\n(A) Anna Smith\n(B) Unknown",
        target="(B)",
        options=("Anna Smith", "Unknown"),
    )


def examples(count: int) -> list[TrainingExample]:
    return [
        TrainingExample(
            prompt=f"{question(i).prompt}\nThe model answered (A). Reply with JSON.",
            completion='{"reason": "guessed", "guideline": "read the text again"}',
            question=question(i),
        )
        for i in range(count)
    ]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    # two threads waiting on each other on a shared 2-core machine are slower than one
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random two-layer Llama with a character-level tokenizer and a chat template."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    vocab = {token: i for i, token in enumerate(specials + list(string.printable))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_loss_covers_the_completion_and_its_eos_only(tiny_model: Path) -> None:
    loaded = load_base_model(tiny_model, torch.device("cpu"), torch.float32)
    eos = end_of_sequence_id(loaded)
    example = TrainingExample(prompt="hi", completion='{"a": 1}')
    encoded = encode_example(loaded, example, eos)
    prompt_ids = loaded.tokenizer("<s>user\nhi</s>\n<s>assistant\n", add_special_tokens=False)
    assert list(encoded.input_ids[: encoded.prompt_length]) == prompt_ids["input_ids"]
    targets = [label for label in encoded.labels if label != IGNORED]
    assert loaded.tokenizer.decode(targets[:-1]) == '{"a": 1}'
    assert targets[-1] == eos == loaded.tokenizer.eos_token_id


def test_padding_is_masked_and_never_a_target() -> None:
    batch = pad_batch(
        [
            {"input_ids": [5, 6, 7], "labels": [IGNORED, 6, 7]},
            {"input_ids": [5, 8, 9, 10, 2], "labels": [IGNORED, IGNORED, 9, 10, 2]},
        ],
        pad_id=0,
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7, 0, 0], [5, 8, 9, 10, 2]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["labels"].tolist() == [
        [IGNORED, 6, 7, IGNORED, IGNORED],
        [IGNORED, IGNORED, 9, 10, 2],
    ]


def test_held_out_split_is_seeded_keeps_questions_together_and_never_takes_all() -> None:
    items = list(range(10))
    groups = ["q1", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9"]
    first = split_held_out(items, groups, 0.2, seed=3)
    assert first == split_held_out(items, groups, 0.2, seed=3)
    train, held = first
    assert sorted(train + held) == items and 1 <= len(held) <= 2
    assert not ({0, 1} & set(held) and {0, 1} & set(train))
    assert split_held_out([1, 2], ["a", "a"], 0.0, seed=0)[1] != []
    assert split_held_out([1], ["a"], 0.5, seed=0) == ([1], [])


@pytest.mark.parametrize(
    ("avx512_bf16", "expected"), [(True, torch.bfloat16), (False, torch.float32)]
)
def test_dtype_follows_the_hardware_unless_set(
    monkeypatch: pytest.MonkeyPatch, avx512_bf16: bool, expected: torch.dtype
) -> None:
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    cpu = torch.device("cpu")
    explicit = training_dtype("float32", cpu)
    assert (explicit.dtype, explicit.reason) == (torch.float32, "set by SALAM_FINETUNE_DTYPE")
    assert training_dtype("auto", cpu).dtype == expected
    with pytest.raises(ConfigError, match="CUDA"):
        training_dtype("float16", cpu)
    with pytest.raises(ConfigError, match="SALAM_FINETUNE_DTYPE: unknown dtype 'fp8'"):
        training_dtype("fp8", cpu)


def test_config_reads_every_hyperparameter_from_settings() -> None:
    settings = Settings(
        finetune_lora_rank=8, finetune_target_modules="q_proj, v_proj", finetune_max_steps=7
    )
    config = FinetuneConfig.from_settings(settings)
    assert (config.lora_rank, config.max_steps) == (8, 7)
    assert config.module_names == ["q_proj", "v_proj"]
    with pytest.raises(ConfigError, match="batch_size"):
        FinetuneConfig(batch_size=0)


def test_a_few_steps_give_an_adapter_that_changes_the_output(
    tiny_model: Path, tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    reports: list[dict[str, float]] = []
    result = run_finetune(
        tiny_model, examples(8), FAST, tmp_path, progress=reports.append, generation=SHORT_SAMPLING
    )

    assert [report["step"] for report in reports] == [1, 2, 3]
    assert set(reports[0]) == {"step", "total_steps", "loss", "epoch"}
    assert reports[-1]["total_steps"] == 3 and reports[-1]["epoch"] == 1.0
    metrics = json.loads((tmp_path / METRICS_FILE).read_text())["metrics"]
    assert metrics == result.metrics
    for field in (
        "train_loss",
        "held_out_loss_before",
        "held_out_loss_after",
        "valid_json_share_before",
        "valid_json_share_after",
        "leak_share_before",
        "leak_share_after",
    ):
        assert field in metrics, field
    assert metrics["held_out_examples"] == 2 and metrics["train_examples"] == 6
    # learning rate 5e-2 on six identical-looking examples: the held-out loss must fall
    assert metrics["held_out_loss_after"] < metrics["held_out_loss_before"]
    # 3 steps x 2 examples = the 6 training examples once, all of one length: no padding
    loaded = load_base_model(tiny_model, torch.device("cpu"), torch.float32)
    length = len(encode_example(loaded, examples(1)[0], end_of_sequence_id(loaded)).input_ids)
    assert result.trained_tokens == metrics["trained_tokens"] == 6 * length
    log = [json.loads(line) for line in result.log_path.read_text().splitlines()]
    assert result.log_path.name == LOG_FILE and [e["step"] for e in log if "loss" in e] == [1, 2, 3]

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        before = base(ids).logits
        tuned = PeftModel.from_pretrained(base, result.adapter_dir)
        after = tuned(ids).logits
    assert not torch.allclose(before, after)


def test_examples_too_long_are_left_out_and_all_too_long_is_an_error(
    tiny_model: Path, tmp_path: Path
) -> None:
    data = [*examples(3), TrainingExample("x" * 300, "y")]
    result = run_finetune(
        tiny_model, data, FinetuneConfig(**{**vars(FAST), "eval_generations": 0}), tmp_path
    )
    assert result.metrics["dropped_too_long"] == 1
    assert result.metrics["train_examples"] + result.metrics["held_out_examples"] == 3
    with pytest.raises(FinetuneError, match="longer than the maximum length"):
        run_finetune(tiny_model, data[-1:], FAST, tmp_path)


def test_bad_base_folders_and_empty_data_are_clear_errors(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(FinetuneError, match="no training examples"):
        run_finetune(tiny_model, [], FAST, tmp_path / "out")
    with pytest.raises(FinetuneError, match="no such folder"):
        run_finetune(tmp_path / "missing", examples(2), FAST, tmp_path / "out")
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    with pytest.raises(FinetuneError, match="GGUF weights cannot be trained"):
        run_finetune(tmp_path, examples(2), FAST, tmp_path / "out")
    encoder = tmp_path / "encoder"
    encoder.mkdir()
    (encoder / "config.json").write_text(json.dumps({"model_type": "t5"}))
    with pytest.raises(FinetuneError, match="not a causal language model"):
        run_finetune(encoder, examples(2), FAST, tmp_path / "out")


def published_examples(count: int) -> list[TrainingExample]:
    """The paper's GPT-4 feedback on BBQ mistakes, asked in salam's own feedback prompt."""
    path = shared_data_dir() / "salam" / "feedback" / "bbq_gpt4_feedback.json"
    if not path.is_file():
        pytest.skip(f"shared data not found: {path}")
    items = load_feedback_file(path).items[:count]
    return [
        TrainingExample(
            prompt=feedback_prompt(item.as_record(index=index), item.answer),
            completion=json.dumps({"reason": item.reason, "guideline": item.guideline}),
            question=item.as_record(index=index),
        )
        for index, item in enumerate(items)
    ]


@pytest.mark.model
def test_a_short_run_on_smollm2_gives_an_adapter_that_changes_its_output(tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from salam.llm.model_cache import plain_model_folder
    from salam.llm.model_files import bundled_model

    try:
        files = bundled_model()
    except ConfigError as err:
        pytest.skip(f"bundled model not installed: {err}")
    base_dir = plain_model_folder(files, torch.float32)
    config = FinetuneConfig(
        learning_rate=1e-3,
        max_steps=2,
        batch_size=2,
        grad_accumulation=1,
        max_length=512,
        held_out_fraction=0.34,
        eval_generations=2,
        device="cpu",
    )
    result = run_finetune(
        base_dir,
        published_examples(6),
        config,
        tmp_path,
        generation=GenerationParams(max_new_tokens=24, temperature=1.0, top_k=50, seed=0),
    )

    assert result.metrics["train_steps"] == 2 and result.metrics["held_out_examples"] == 2
    assert result.trained_tokens > 4 * 100
    for name in ("held_out_loss_before", "held_out_loss_after", "valid_json_share_after"):
        assert 0.0 <= result.metrics[name] < 20.0, name
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    ids = torch.tensor([[1, 504, 3458, 314, 253, 1345, 30]])
    with torch.no_grad():
        before = base(ids).logits
        after = PeftModel.from_pretrained(base, result.adapter_dir)(ids).logits
    assert not torch.allclose(before, after)


def test_an_exception_from_progress_stops_the_training(tiny_model: Path, tmp_path: Path) -> None:
    class Cancelled(Exception):
        pass

    def cancel(update: dict[str, float]) -> None:
        raise Cancelled(f"cancelled at step {update['step']}")

    with pytest.raises(Cancelled, match="step 1"):
        run_finetune(
            tiny_model, examples(4), FAST, tmp_path, progress=cancel, generation=SHORT_SAMPLING
        )
    assert not (tmp_path / "adapter").exists()


def test_a_model_folder_without_weights_is_a_clear_error(tiny_model: Path, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text((tiny_model / "config.json").read_text())
    with pytest.raises(FinetuneError, match="cannot be loaded for training"):
        run_finetune(tmp_path, examples(2), FAST, tmp_path / "out")
