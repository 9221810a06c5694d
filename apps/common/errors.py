"""The one error the apps' library code raises for a mistake of the user's."""


class UsageError(Exception):
    """A mistake in the user's input (a path, a file, an argument): the CLI reports it as one line, exit code 2.

    Library code raises it; only `apps.common.cli.run` turns it into a message and an exit code.
    """
