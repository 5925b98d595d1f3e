"""One exception type for problems a user can fix: the CLIs print its message on one line."""


class MexError(Exception):
    """A user-facing error. The message is one line and names the file, row, URL or frame."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def run_cli(body, interrupted: str = "interrupted") -> int:
    """Run a CLI's body and give its exit status: 0 on success, 2 for a MexError (one ``error:`` line),
    130 on Ctrl-C, never a traceback.

    Only an int that ``body`` returns is a status; any other value (a result object, None) is success.
    The CLIs end with ``sys.exit(main())``, and ``sys.exit`` prints a non-int argument and exits 1, so a
    body returning its outcome must not leak it there.
    """
    import sys

    try:
        result = body()
    except MexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"error: {interrupted}", file=sys.stderr)
        return 130
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
