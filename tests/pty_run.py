#!/usr/bin/env python3
"""pty_run.py - run a shell command on a pseudo-terminal, as at a terminal.

usage: pty_run.py [--interrupt REGEX] OUTFILE COMMAND

COMMAND runs under sh -c with stdin, stdout and stderr on the terminal (redirect in
COMMAND what should go elsewhere); all it writes there is saved in OUTFILE. With
--interrupt, Ctrl-C is typed (through the terminal, as a person would) once the output
matches REGEX (Python's re). Use exec in COMMAND so that the signal reaches the program,
not a shell waiting for it. Exits with COMMAND's status (128 + N when killed by signal N), 124 when it
runs for more than 120 s.
"""
import os
import pty
import re
import select
import signal
import sys
import time


def main():
    args = sys.argv[1:]
    interrupt = None
    if args[:1] == ["--interrupt"] and len(args) > 1:
        interrupt = re.compile(args[1].encode())
        args = args[2:]
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    outfile, command = args
    pid, master = pty.fork()
    if pid == 0:
        os.execvp("sh", ["sh", "-c", command])
    out = b""
    sent = False
    deadline = time.monotonic() + 120
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            open(outfile, "wb").write(out)
            return 124
        ready, _, _ = select.select([master], [], [], min(left, 1.0))
        if not ready:
            continue
        try:
            data = os.read(master, 65536)
        except OSError:         # EIO: the last writer closed the terminal
            data = b""
        if not data:
            break
        out += data
        if interrupt and not sent and interrupt.search(out):
            os.write(master, b"\x03")
            sent = True
    _, status = os.waitpid(pid, 0)
    open(outfile, "wb").write(out)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
