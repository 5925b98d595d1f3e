"""One exception type for problems a user can fix: the CLIs print its message on one line."""


class MexError(Exception):
    """A user-facing error. The message is one line and names the file, row, URL or frame."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def run_cli(body, interrupted: str = "interrupted") -> int:
    """Run a CLI's body: a MexError becomes one ``error:`` line and exit 2, Ctrl-C exit 130, never a traceback."""
    import sys

    try:
        return body() or 0
    except MexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"error: {interrupted}", file=sys.stderr)
        return 130
