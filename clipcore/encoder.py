"""CONTRACT STUB (owned by the encoder helper; replace the bodies, keep the signatures)."""
from __future__ import annotations
from typing import Sequence
import numpy as np
from .config import ModelSpec


def pick_device(requested: str = "auto"):
    """'auto' -> cuda, then mps, then cpu. Returns torch.device. Unknown/unavailable -> ClipcoreError."""
    raise NotImplementedError


class Encoder:
    """An open_clip model + its own preprocess + tokenizer, ready for batched inference.

    Attributes: spec (ModelSpec), identity (str, == spec.identity()), device (torch.device),
    dtype (torch.dtype), dim (int embedding size), image_size (int, model input side in px),
    random_weights (bool), device_description (str, e.g. "CPU, 2 threads" or
    "GPU: NVIDIA H100 (CUDA)").
    """

    @classmethod
    def load(cls, spec: ModelSpec) -> "Encoder":
        """Load the model. Raises ModelNotFoundError / WeightsMissingError / UnsafeCheckpointError."""
        raise NotImplementedError

    def preprocess(self, image) -> "torch.Tensor":
        """PIL RGB image -> (3, S, S) float32 tensor using the model's own preprocess config."""
        raise NotImplementedError

    def encode_images(self, images) -> np.ndarray:
        """Sequence of PIL images, or a (N, 3, S, S) tensor of preprocessed images ->
        (N, D) float32, L2-normalised."""
        raise NotImplementedError

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Sequence of strings -> (N, D) float32, L2-normalised."""
        raise NotImplementedError
