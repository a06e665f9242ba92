"""Errors a user can cause, each carrying one message that says what was expected and how to fix it."""

from __future__ import annotations


class PandError(Exception):
    """Base class of every error that pand_core raises for a user-caused problem."""


class DatasetNotFoundError(PandError, FileNotFoundError):
    """A data set root or one of its required files is missing."""


class CorruptImageError(PandError, OSError):
    """An image file listed by a data set cannot be decoded (missing, truncated or corrupt)."""


class TeacherUnavailableError(PandError, RuntimeError):
    """The teacher's weights cannot be found locally or downloaded."""


class ConfigError(PandError, ValueError):
    """A parameter value is invalid; raised before any heavy work starts."""


class MissingFileError(PandError, FileNotFoundError):
    """A file produced by an earlier stage (anchors, checkpoint, cache) is not where it was expected."""


class UnsafeFileError(PandError):
    """A file holds pickled objects or code instead of plain tensors and containers; it is refused, never run."""


class OutputError(PandError, OSError):
    """The output folder cannot be written (missing rights, not a folder, disk full); earlier files are intact."""


class RunLockedError(PandError):
    """Another process is using the same run folder."""


class NonFiniteLossError(PandError, FloatingPointError):
    """A training loss became NaN or infinite; the last good checkpoint is left as it was."""


class ShippedWeightsError(PandError, OSError):
    """A shipped weights file of the miniature is missing or does not match the SHA-256 recorded in the code."""


class PipelineError(PandError, RuntimeError):
    """A pipeline stage (a notebook, or the book build) failed; the message names it and the cell."""


class DownloadError(PandError, OSError):
    """A data set archive could not be fetched or extracted (network, truncated transfer, damaged archive, or a data set
    with no download); nothing partial is left behind."""


class ChecksumMismatchError(DownloadError):
    """A downloaded archive's checksum differs from the one recorded in the project; the file was deleted."""


def user_message(error: BaseException) -> str:
    """The one-line-per-fact message for a user: the error's own text, without the traceback that PyTorch's
    DataLoader puts around errors raised in its worker processes."""
    text = str(error).strip()
    if "Original Traceback" in text:
        text = text.splitlines()[-1].split(": ", 1)[-1]
    return text


def exit_status(run) -> int:
    """Call `run()` for a command-line entry point: 0 when it returns, 2 with one `error:` line on stderr when it
    raises a `PandError` (a user-caused problem; anything else keeps its traceback)."""
    import sys

    try:
        run()
    except PandError as e:
        print(f"error: {user_message(e)}", file=sys.stderr)
        return 2
    return 0
