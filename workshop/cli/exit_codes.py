"""What `workshop` exits with. A leaf: it imports nothing, so every command module can use it."""

EXIT_OK = 0  # done; for check/grade: every check passed, or every submission was graded
EXIT_FAILED = 1  # a check failed, a service did not start, --min-score was not met
EXIT_USAGE = 2  # the command line was wrong (an unknown lab, a bad port)
EXIT_BROKEN = 3  # something the command needed is broken (a tool, the machine): the message says what
EXIT_INTERRUPTED = 130
