#!/usr/bin/env python3
"""Run a command on a pseudo-terminal of a fixed size and relay it over plain pipes.

Usage: pty-run.py COLS ROWS -- COMMAND [ARGS...]

Claude Code's interactive screens (login, trust prompts) need a terminal; Node has no pty without a native addon,
and tmux is not on every machine, but python3 is. Bytes on our stdin go to the terminal as keystrokes; whatever the
program draws comes out on our stdout, unchanged (escape sequences included). When stdin closes we hang up the
terminal. We exit with the program's exit status (128 + signal number if a signal ended it).
"""
import errno
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios


def main() -> int:
    args = sys.argv[1:]
    if len(args) < 4 or args[2] != "--":
        sys.stderr.write("usage: pty-run.py COLS ROWS -- COMMAND [ARGS...]\n")
        return 2
    cols, rows, command = int(args[0]), int(args[1]), args[3:]
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        except OSError as err:
            sys.stderr.write(f"pty-run: cannot run {command[0]}: {err.strerror}\n")
            os._exit(127)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.kill(pid, signal.SIGWINCH)
    stdin = sys.stdin.fileno()
    stdout = sys.stdout.fileno()
    watching = [master, stdin]
    status = None
    while status is None:
        try:
            ready, _, _ = select.select(watching, [], [], 0.2)
        except InterruptedError:
            continue
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError as err:
                if err.errno != errno.EIO:
                    raise
                data = b""
            if data:
                os.write(stdout, data)
            else:
                watching.remove(master)
        if stdin in ready:
            data = os.read(stdin, 65536)
            if data:
                os.write(master, data)
            else:
                watching.remove(stdin)
                os.kill(pid, signal.SIGHUP)
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            status = raw
    # Drain what the program wrote just before it ended.
    try:
        while True:
            data = os.read(master, 65536)
            if not data:
                break
            os.write(stdout, data)
    except OSError:
        pass
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
