"""The errors a user can cause. Each carries one sentence: what went wrong, which file, what to do.

The CLI prints that sentence and exits non-zero (1, or 2 for usage errors); Python callers can catch
``MattekitError`` to handle all of them.

Example:
    >>> from mattekit.errors import InputError
    >>> str(InputError("photo.jpg is empty (0 bytes)."))
    'photo.jpg is empty (0 bytes).'
"""


class MattekitError(Exception):
    """Base class of every error whose message is meant for the user."""

    exit_code = 1


class InputError(MattekitError):
    """An image, alpha, trimap or dataset file that cannot be used as given."""


class WeightsError(MattekitError):
    """Model weights that cannot be found, fetched or verified."""


class UsageError(MattekitError):
    """Arguments that contradict each other or name something that does not exist."""

    exit_code = 2
