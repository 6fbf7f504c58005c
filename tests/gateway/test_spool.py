"""test_spool.py - `faas serve`'s spool (the journal of accepted Event calls): SIGKILL under
Event load loses no 202'd call and the restart runs again exactly the calls that had not
run (or whose end was not yet recorded); a stop keeps what it did not run and the next
start runs it; without a spool a stop that drops calls says how many and exits 3; a second
signal cuts the drain short.

The function (tests/modules/mod_journal.c) appends "<request id> <payload>" to a file for
each run: that file is the side effect counted. Each client call carries a token of its
own, so that a call whose 202 was lost in the kill is still recognised."""
import http.client
import os
import signal
import struct
import threading

from conftest import TEST_MODULES, Server, in_thread

PATH = "/2015-03-31/functions/rec/invocations"


def functions(extra=""):
    return "[rec]\nmodule = %s/mod_journal.so\nsymbol = record_id\n%s" % (TEST_MODULES, extra)


def spool_live(spool):
    """The request ids a spool still holds (accepted, no DONE record), read with the format
    of faas_journal_replay(3): 32-byte segment headers, then records of a 16-byte header
    (magic "JNL1", crc, body length, type 1 ACCEPT or 2 DONE) whose body opens with the
    16-byte id. The files are those of a clean stop: checksums are not checked here."""
    live = set()
    for name in sorted(n for n in os.listdir(spool) if n.endswith(".journal")):
        with open(os.path.join(spool, name), "rb") as f:
            data = f.read()
        off = 32
        while off + 16 <= len(data) and data[off:off + 4] == b"JNL1":
            body, rtype = struct.unpack_from("<IB", data, off + 8)
            rid = data[off + 16:off + 32]
            if rtype == 1:
                live.add(rid)
            else:
                live.discard(rid)
            off += 16 + body
    return live


def side_effects(path, start=0):
    """The runs recorded in path from byte start: a list of (request id, token)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        f.seek(start)
        runs = []
        for line in f.read().splitlines():
            rid, payload = line.split(" ", 1)
            runs.append((rid, payload.split('"')[3]))   # {"t":"TOKEN"}
        return runs


def event(conn, token):
    """One Event call on a kept-alive connection: its request id on a 202, else raises."""
    conn.request("POST", PATH, body='{"t":"%s"}' % token,
                 headers={"X-Amz-Invocation-Type": "Event"})
    r = conn.getresponse()
    r.read()
    if r.status != 202:
        raise AssertionError("status %d for %s" % (r.status, token))
    return r.getheader("x-amzn-RequestId")


def send(server, n, prefix="c"):
    """n Event calls in a row: {token: request id}."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    ids = {"%s%d" % (prefix, i): None for i in range(n)}
    for token in ids:
        ids[token] = event(conn, token)
    conn.close()
    return ids


def wait_stderr_line(server, needle):
    """Read the server's stderr until a line with needle; the lines read."""
    def read():
        lines = []
        for line in server.proc.stderr:
            lines.append(line)
            if needle in line:
                return lines
        raise AssertionError("no %r in %r" % (needle, lines))
    return in_thread(read)


def test_sigkill_under_load_loses_no_accepted_call(tmp_path):
    spool, side = str(tmp_path / "spool"), str(tmp_path / "side")
    env = {"FAAS_TEST_SIDE_EFFECTS": side, "FAAS_TEST_WORK_US": "2000"}
    s = Server(functions(), args=["--spool", spool], env=env)
    clients, target = 16, 600
    accepted = {}                       # token -> request id, on a 202
    unanswered = set()                  # tokens sent whose answer the kill cut off
    lock = threading.Condition()
    killed = threading.Event()

    def client(c):
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        i = 0
        while True:
            token = "c%d-%d" % (c, i)
            i += 1
            try:
                rid = event(conn, token)
            except (OSError, http.client.HTTPException):
                if killed.is_set():
                    with lock:
                        unanswered.add(token)
                    return
                raise
            with lock:
                accepted[token] = rid
                lock.notify_all()

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
    for t in threads:
        t.start()

    def enough():
        with lock:
            lock.wait_for(lambda: len(accepted) >= target, timeout=120)
            assert len(accepted) >= target
    in_thread(enough, timeout=130)
    killed.set()
    s.proc.kill()                       # SIGKILL, the clients still sending
    s.proc.wait()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    with lock:
        accepted = dict(accepted)
    before = side_effects(side)
    offset = os.path.getsize(side) if os.path.exists(side) else 0

    s2 = Server(functions(), args=["--spool", spool], env=env)
    rc, err = s2.stop()                 # SIGTERM: drains until every replayed call ran
    assert rc == 0, err
    after = side_effects(side, offset)

    ids = set(accepted.values())
    assert len(ids) == len(accepted)            # one id per call
    ran_before = {rid for rid, _ in before}
    ran_after = [rid for rid, _ in after]
    assert len(ran_after) == len(set(ran_after))  # the restart runs each call once
    assert len(ran_before) == len(before)
    # Every 202'd call ran, under the id its 202 gave.
    assert ids <= ran_before | set(ran_after), "lost: %d" % len(ids - ran_before - set(ran_after))
    by_token = {}
    for rid, token in before + after:
        by_token.setdefault(token, set()).add(rid)
    for token, rid in accepted.items():
        assert by_token[token] == {rid}, token
    # Nothing ran that was not sent; what ran unacknowledged is a call whose 202 the kill
    # cut off: at most one per client.
    unacked = set(by_token) - set(accepted)
    assert unacked <= unanswered, unacked - unanswered
    assert len(unacked) <= clients
    # The restart ran exactly what had not run, plus the few calls that ran but whose end
    # was not recorded yet (at-least-once), and said how many.
    unfinished = ids - ran_before
    assert unfinished, "the kill left no work: the test proved nothing"
    assert unfinished <= set(ran_after)
    again = set(ran_after) & ran_before
    assert len(again) <= 64, len(again)
    assert "%d accepted calls of the last run queued again" % len(ran_after) in err, err
    print("# %d accepted, %d ran before the kill, %d replayed (%d ran twice), "
          "%d unacknowledged ran" % (len(ids), len(ran_before), len(ran_after), len(again),
                                     len(unacked)))


def test_a_stop_keeps_what_it_did_not_run(tmp_path):
    """--drain-timeout 0: calls not run stay in the spool; the next start runs exactly
    them, each call ran once in all."""
    spool, side = str(tmp_path / "spool"), str(tmp_path / "side")
    env = {"FAAS_TEST_SIDE_EFFECTS": side, "FAAS_TEST_WORK_US": "50000"}
    s = Server(functions(), args=["--spool", spool, "--drain-timeout", "0"], env=env)
    sent = send(s, 40)
    rc, err = s.stop()
    assert rc == 0, err
    before = side_effects(side)
    kept = 40 - len(before)
    assert kept > 0
    assert "%d accepted calls not run stay in the spool %s" % (kept, spool) in err, err
    assert len(spool_live(spool)) == kept

    s2 = Server(functions(), args=["--spool", spool], env=env)
    rc, err = s2.stop()
    assert rc == 0, err
    runs = side_effects(side)
    assert sorted(rid for rid, _ in runs) == sorted(sent.values())    # each once
    assert {token: rid for rid, token in runs} == sent
    assert "%d accepted calls of the last run queued again" % kept in err


def test_without_a_spool_a_stop_says_what_it_dropped(tmp_path):
    side = str(tmp_path / "side")
    env = {"FAAS_TEST_SIDE_EFFECTS": side, "FAAS_TEST_WORK_US": "50000"}
    s = Server(functions(), args=["--no-spool", "--drain-timeout", "0"], env=env)
    send(s, 40)
    rc, err = s.stop()
    ran = len(side_effects(side))
    assert rc == 3, err
    assert "%d accepted calls were dropped, not run (no spool)" % (40 - ran) in err, err
    assert not os.path.exists(s.file + ".spool")


def test_a_second_signal_cuts_the_drain_short(tmp_path):
    """The drain waits until done by default; a second SIGTERM stops now: the running call
    finishes, the others stay in the spool and run at the next start."""
    spool, side = str(tmp_path / "spool"), str(tmp_path / "side")
    env = {"FAAS_TEST_SIDE_EFFECTS": side, "FAAS_TEST_WORK_US": "300000"}
    s = Server(functions("max_concurrency = 1\n"), args=["--spool", spool], env=env)
    sent = send(s, 6)
    s.proc.send_signal(signal.SIGTERM)
    wait_stderr_line(s, "draining")
    s.proc.send_signal(signal.SIGTERM)
    rc, err = s.stop()
    assert rc == 0, err
    assert "SIGTERM again: stopping now" in err, err
    kept = 6 - len(side_effects(side))
    assert kept >= 1
    assert "%d accepted calls not run stay in the spool" % kept in err, err
    s2 = Server(functions(), args=["--spool", spool], env=env)
    rc, err = s2.stop()
    assert rc == 0, err
    assert sorted(rid for rid, _ in side_effects(side)) == sorted(sent.values())


def test_the_default_spool_is_beside_the_functions_file(tmp_path):
    side = str(tmp_path / "side")
    s = Server(functions(), env={"FAAS_TEST_SIDE_EFFECTS": side})
    send(s, 1)
    rc, err = s.stop()
    assert rc == 0, err
    assert os.path.isdir(s.file + ".spool")
    assert len(side_effects(side)) == 1
    assert spool_live(s.file + ".spool") == set()       # ran: its DONE record is there


def test_two_servers_cannot_share_a_spool(tmp_path):
    import subprocess
    from conftest import FAAS
    spool = str(tmp_path / "spool")
    s = Server(functions(), args=["--spool", spool])
    try:
        r = subprocess.run([FAAS, "serve", "--listen", "127.0.0.1:0", "--spool", spool, s.file],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, r.stderr
        assert "journal directory %s is in use" % spool in r.stderr
    finally:
        rc, err = s.stop()
        assert rc == 0, err
