"""A tiny random-weight vision-language model for the multimodal worker tests.

The architecture is Idefics3 (the one SmolVLM uses): a SigLIP-style vision encoder, a
pixel-shuffle connector and a Llama text model. LLaVA would be the textbook choice, but
vLLM 0.32's llava module imports its Pixtral support, which imports torchvision, and
`scripts/install_inference.sh` removes torchvision (its PyPI build breaks vLLM on CPU
torch); Qwen2-VL, Gemma 3, LLaVA-NeXT and InternVL fail the same way. Idefics3 needs
only transformers' PIL image processor.

Shape: text model hidden 128, 2 layers, 2 heads of 64 (CPU attention needs head_dim
>= 64); vision encoder hidden 128, 2 layers, 64x64 pixels in 16x16 patches (16 patches,
pixel shuffle by 2: 4 image features). No image splitting, so every image, whatever its
size, becomes `<fake_token_around_image><global-img>` + 4 x `<image>` +
`<fake_token_around_image>`: 7 prompt tokens. Float32 (this CPU has no native bf16).
The tokenizer is the real SmolLM2 one from the packaged GGUF, plus the image tokens, with
a ChatML template that renders OpenAI-style part lists (an image part becomes `<image>`).
Unlike SmolLM2's, it adds a BOS token when asked for special tokens and its template
starts with one, as Llama's and Gemma's do: a worker that lets vLLM tokenize the rendered
prompt text gets two BOS tokens and a prompt one token longer than the one it checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# ChatML like SmolLM2's own template, but content may also be a list of
# {"type": "text", "text": ...} and {"type": "image"} parts.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant.<|im_end|>\\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

IMAGE_SIZE = 64
PATCH_SIZE = 16
SCALE_FACTOR = 2
IMAGE_SEQ_LEN = (IMAGE_SIZE // PATCH_SIZE) ** 2 // SCALE_FACTOR**2  # <image> tokens per image


@dataclass(frozen=True)
class TinyVLM:
    path: Path
    # Prompt tokens one image adds, as measured with the model's own HF processor.
    tokens_per_image: int


def build_tiny_vlm(target: Path) -> TinyVLM:
    """Save a random-weight Idefics3 model with processor and tokenizer into `target`."""
    import torch
    from PIL import Image
    from transformers import (
        AutoProcessor,
        AutoTokenizer,
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3Processor,
        Idefics3VisionConfig,
    )
    from transformers.models.idefics3.image_processing_pil_idefics3 import (
        Idefics3ImageProcessorPil,
    )

    from inference.model_store import packaged_gguf_path

    gguf = packaged_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The processor adds <fake_token_around_image>, <image> and <end_of_utterance>; SmolVLM's
    # tokenizer also has <global-img> as one token.
    tokenizer.add_special_tokens({"additional_special_tokens": ["<global-img>"]})
    tokenizer.bos_token = "<|endoftext|>"
    tokenizer.add_bos_token = True
    tokenizer.chat_template = CHAT_TEMPLATE
    image_processor = Idefics3ImageProcessorPil(
        size={"longest_edge": IMAGE_SIZE},
        max_image_size={"longest_edge": IMAGE_SIZE},
        do_image_splitting=False,
    )
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=IMAGE_SEQ_LEN,
        chat_template=CHAT_TEMPLATE,
    )
    text_config = tiny_llama_config(tokenizer, pad_token_id=tokenizer.pad_token_id)
    vision_config = Idefics3VisionConfig(
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
    )
    config = Idefics3Config(
        vision_config=vision_config,
        text_config=text_config,
        image_token_id=processor.image_token_id,
        scale_factor=SCALE_FACTOR,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = Idefics3ForConditionalGeneration(config).to(torch.float32)
    model.save_pretrained(target, safe_serialization=True)
    processor.save_pretrained(target)  # also saves the tokenizer and the chat template

    # Reload the folder as vLLM will and measure what an image adds to the prompt.
    loaded = AutoProcessor.from_pretrained(target)
    parts = [{"type": "text", "text": "What is this?"}]
    with_image = [{"role": "user", "content": [*parts, {"type": "image"}]}]
    without = [{"role": "user", "content": "What is this?"}]
    text = loaded.apply_chat_template(with_image, tokenize=False, add_generation_prompt=True)
    image = Image.new("RGB", (96, 48), "red")
    n_with = len(loaded(text=[text], images=[[image]], add_special_tokens=False)["input_ids"][0])
    text = loaded.tokenizer.apply_chat_template(without, tokenize=False, add_generation_prompt=True)
    n_without = len(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])
    bos = loaded.tokenizer.bos_token_id
    assert loaded.tokenizer("hi")["input_ids"][0] == bos, "the tokenizer must add a BOS"
    tokens_per_image = n_with - n_without
    assert tokens_per_image == IMAGE_SEQ_LEN + 3, tokens_per_image
    return TinyVLM(path=target, tokens_per_image=tokens_per_image)


def tiny_llama_config(tokenizer: Any, **extra: Any) -> Any:
    """The 2-layer Llama text model every tiny test model uses (hidden 128, 2 heads of 64:
    the CPU attention needs head_dim >= 64)."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=64,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
        **extra,
    )
