"""The error hierarchy: every failure a user can cause or fix is a `StrapsError` with a one-sentence message.

- `UsageError`: the command line, an option, a config value or an input path is wrong; the scripts exit
  with `EXIT_USAGE_ERROR` (2), as argparse does.
- `AssetError`: a file the run needs (body model, checkpoint, dataset, pose file, detector weights, a
  training state) is missing, damaged or of the wrong kind; the scripts exit with `EXIT_FAILURE` (1).
- `InputFileError`: one input (an image, a video, an annotation file) cannot be used; batch runs record it
  with its reason and go on with the others.
Any other `StrapsError` (e.g. a training run whose loss stops being finite) also exits with 1. Errors that
are none of these are bugs and keep their traceback. Some subclasses also derive from the built-in error of
their kind (e.g. `ConfigError(UsageError, ValueError)`), so that `except ValueError` catches them; the
scripts catch `StrapsError` only.
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE_ERROR = 2


class StrapsError(Exception):
    """Base of the errors whose message, one sentence, is all the user needs to see."""


class UsageError(StrapsError):
    """A command-line option, config value or input path is wrong; the message says what to give instead."""


class AssetError(StrapsError):
    """A file the run needs is missing, unreadable or of the wrong kind; the message says what to do."""


class InputFileError(StrapsError):
    """One input file (image, video, annotation) cannot be used; runs over many inputs skip it."""


def exit_code(error: StrapsError) -> int:
    """The scripts' exit status for an error: 2 for usage errors, 1 for everything else."""
    return EXIT_USAGE_ERROR if isinstance(error, UsageError) else EXIT_FAILURE
