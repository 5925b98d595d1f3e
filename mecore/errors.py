"""One exception type for problems a user can fix: the CLIs print its message on one line."""


class MexError(Exception):
    """A user-facing error. The message is one line and names the file, row, URL or frame."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
