"""The seed's handler pattern, event['Records'][0]['s3']['bucket']['name'], runs unchanged on
a watched directory (faas_watch(3)): the bucket is the directory, each file an S3
ObjectCreated:Put record whose key is URL-encoded as S3 encodes it."""

import os
import threading
import urllib.parse
from concurrent.futures import Future

import pytest

import faas

WAIT = 30       # seconds: generous, for sanitizer builds on a loaded machine


@pytest.fixture
def uploads(tmp_path):
    path = tmp_path / "uploads"
    path.mkdir()
    return path


def test_the_seed_handler_pattern_on_a_watched_directory(rt, uploads):
    seen = Future()

    def handler(event, context):
        bucket = event['Records'][0]['s3']['bucket']['name']
        key = urllib.parse.unquote_plus(event['Records'][0]['s3']['object']['key'])
        seen.set_result((bucket, key, event['Records'][0]['s3']['object']['key'],
                         event['Records'][0]['eventName'],
                         event['Records'][0]['s3']['object']['size']))
        return {"bucket": bucket, "key": key}

    rt.register("on_upload", handler)
    wid = rt.watch("on_upload", str(uploads))
    (uploads / "my photo (1).txt").write_bytes(b"meow\n")
    bucket, key, raw_key, name, size = seen.result(WAIT)
    rt.unwatch(wid)
    assert bucket == "uploads"
    assert key == "my photo (1).txt"
    assert raw_key == "my+photo+%281%29.txt"        # as S3 encodes it
    assert name == "ObjectCreated:Put"
    assert size == 5


def test_the_blueprint_handler_runs_unchanged(uploads, monkeypatch):
    """s3_handler.lambda_handler is registered itself: the record and the log sink show
    that it ran, and what it read."""
    import s3_handler
    monkeypatch.setattr(s3_handler, "BUCKETS", str(uploads.parent))
    lines = []
    done = threading.Event()
    records = []

    def on_record(rec):
        if rec.function == "thumbnail":
            records.append(rec)
            done.set()

    with faas.Runtime(workers=2, log=lines.append) as rt:
        rt.register("thumbnail", s3_handler.lambda_handler, memory_mb=256)
        rt.on_record(on_record)
        rt.watch("thumbnail", uploads, suffix=".txt")
        (uploads / "ignored.bin").write_bytes(b"not announced: the suffix rule\n")
        # Written under another name and renamed, as careful writers do: announced once.
        (uploads / "part").write_bytes(b"a\nb\nc\n")
        os.rename(uploads / "part", uploads / "cat picture.txt")
        assert done.wait(WAIT), "the handler did not run"
        rt.drain()
    assert len(records) == 1 and records[0].status == 0
    assert "processing s3://uploads/cat picture.txt" in lines


def test_a_subdirectory_and_a_prefix(rt, uploads):
    got = Future()

    def handler(event, context):
        got.set_result(urllib.parse.unquote_plus(event['Records'][0]['s3']['object']['key']))

    rt.register("photos", handler)
    (uploads / "raw photos").mkdir()
    rt.watch("photos", uploads, recursive=True, prefix="raw+photos/", bucket="media")
    (uploads / "elsewhere.txt").write_bytes(b"x")          # filtered out by the prefix
    (uploads / "raw photos" / "café.png").write_bytes(b"png")
    assert got.result(WAIT) == "raw photos/café.png"


def test_files_already_there_and_removals(manual_rt, uploads):
    """In manual mode run_pending() reads the watches: no thread, no wait."""
    events = []
    manual_rt.register("sync", lambda event, context: events.append(
        (event['Records'][0]['eventName'], event['Records'][0]['s3']['object']['key'])))
    (uploads / "old.txt").write_bytes(b"1")
    wid = manual_rt.watch("sync", uploads, events=("created", "removed"), existing=True)
    manual_rt.run_pending()
    assert events == [("ObjectCreated:Put", "old.txt")]
    os.unlink(uploads / "old.txt")
    manual_rt.run_pending()
    assert events[1:] == [("ObjectRemoved:Delete", "old.txt")]
    manual_rt.unwatch(wid)
    (uploads / "new.txt").write_bytes(b"2")
    manual_rt.run_pending()
    assert len(events) == 2                 # stopped


def test_watch_errors(rt, uploads):
    rt.register("f", lambda event, context: None)
    with pytest.raises(faas.NotFound):
        rt.watch("no-such-function", uploads)
    with pytest.raises(faas.FaasError):
        rt.watch("f", uploads / "missing")
    with pytest.raises(ValueError):
        rt.watch("f", uploads, events=("modified",))
    with pytest.raises(faas.NotFound):
        rt.unwatch(12345678)


def test_a_missing_object_is_the_handlers_error(rt, uploads, monkeypatch):
    """The event of a file removed before its handler ran: the handler's own error, in the
    record, and the host goes on."""
    import s3_handler
    monkeypatch.setattr(s3_handler, "BUCKETS", str(uploads.parent / "elsewhere"))
    failed = Future()
    rt.register("thumbnail", s3_handler.lambda_handler, max_retries=0)
    rt.on_record(lambda rec: failed.set_result(rec) if not failed.done() else None)
    rt.watch("thumbnail", uploads)
    (uploads / "gone.txt").write_bytes(b"x")
    rec = failed.result(WAIT)
    assert rec.status == faas.FunctionError.status
