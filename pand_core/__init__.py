"""pand_core — the library behind the PAND reproducibility book.

PAND (Prompt-Aware Neighborhood Distillation, arXiv 2602.07768) distils a frozen CLIP
teacher into a small CNN student in two stages: learned prompts (Stage 1, PSC) give the
class anchors, a neighbourhood-aware loss (Stage 2, NSD) transfers local decision structure.
"""

from .infra.version import package_version
from .infra.errors import (  # noqa: F401
    ConfigError,
    CorruptImageError,
    DatasetNotFoundError,
    PandError,
    TeacherUnavailableError,
)

__version__ = package_version()
