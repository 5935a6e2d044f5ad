"""Exact short-prefix text encoding for causal CLIP text towers (one implementation, used by
:class:`clipcore.encoder.Encoder` at query time and by ``tools/train_shapes.py`` in training).

With a causal attention mask and end-of-text pooling, position i attends only to positions
<= i, every other op is per position, and the pooled position is the end-of-text (EOT) token:
tokens after the last EOT of a batch cannot change the result. So the transformer runs over
the first n positions only (n = last EOT position + 1): a query of a few words costs ~10
positions instead of 77, exactly.
"""

from __future__ import annotations

import torch

__all__ = ["prefix_text_ok", "encode_text_prefix"]


def prefix_text_ok(model: torch.nn.Module) -> bool:
    """True when :func:`encode_text_prefix` is exact for ``model``.

    Holds for open_clip's built-in ``CLIP`` text tower with a causal attention mask and
    EOT-based pooling ('argmax' = the EOT token has the highest id, or 'eos'). Not for HF text
    towers (CustomTextCLIP), SigLIP / MobileCLIP towers (``no_causal_mask``), or 'first' /
    'last' pooling.
    """
    import open_clip

    return (type(model) is open_clip.CLIP
            and getattr(model, "attn_mask", None) is not None
            and model.text_pool_type in ("argmax", "eos"))


def encode_text_prefix(model, tokens: torch.Tensor) -> torch.Tensor:
    """(B, L) int64 token ids -> (B, D) text features, equal to ``model.encode_text(tokens)``
    (not normalised; in the model's cast dtype) when :func:`prefix_text_ok` holds.

    Mirrors ``open_clip.model.CLIP.encode_text`` (open_clip 3.x) with the positional embedding
    and the causal mask sliced to n x n, n = the last EOT position in the batch + 1. The EOT is
    found the way the model pools: the highest token id ('argmax') or ``model.text_eos_id``
    ('eos'). Differentiable (training uses it); wrap in ``torch.inference_mode()`` to encode.
    """
    from open_clip.transformer import text_global_pool

    if model.text_pool_type == "argmax":
        eot = tokens.argmax(dim=-1)
    else:
        eot = (tokens == model.text_eos_id).int().argmax(dim=-1)
    n = int(eot.max()) + 1
    tokens = tokens[:, :n]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype) + model.positional_embedding[:n].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:n, :n])
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=model.text_eos_id)
    if model.text_projection is not None:
        if isinstance(model.text_projection, torch.nn.Linear):
            x = model.text_projection(x)
        else:
            x = x @ model.text_projection
    return x
