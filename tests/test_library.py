import time

import boto3
import pytest
from moto import mock_aws

from splatlib.aws.dynamodb import DynamoDBCatalog
from splatlib.aws.s3 import S3Store
from splatlib.errors import InputError, LeaseLost, SceneNotFound
from splatlib.library import LocalStore, Scene, SQLiteCatalog, Status, new_scene_id, validate_scene_id
from splatlib.pipeline import safe_filename, unique_filename

from .aws_env import BUCKET, REGION, TABLE, create_bucket, create_table


@pytest.fixture(params=["sqlite", "dynamodb"])
def open_catalog(request, tmp_path, monkeypatch):
    """Opens connections to one catalog (each call: a new connection, as a second process would)."""
    if request.param == "sqlite":
        yield lambda: SQLiteCatalog(tmp_path / "c.sqlite")
        return
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        create_table()
        yield lambda: DynamoDBCatalog(TABLE, boto3.resource("dynamodb", region_name=REGION))


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, monkeypatch):
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
        return
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        create_bucket()
        yield S3Store(BUCKET, tmp_path / "work", boto3.client("s3", region_name=REGION))


def test_catalog_crud_and_listing(open_catalog):
    cat = open_catalog()
    a = Scene(id=new_scene_id(), title="a", created_at=time.time() - 10)
    b = Scene(id=new_scene_id(), title="b", metrics={"psnr": 25.0}, stages_done=["frames"])
    cat.put(a)
    cat.put(b)
    assert [s.title for s in cat.list()] == ["b", "a"]  # newest first
    got = cat.get(b.id)
    assert got.metrics == {"psnr": 25.0} and got.stages_done == ["frames"] and got.status == Status.QUEUED
    cat.update(a.id, status=Status.FAILED, error="sfm failed: x")
    assert [s.id for s in cat.list(Status.FAILED)] == [a.id]
    assert cat.list(limit=1, offset=1)[0].id == a.id
    cat.delete(a.id)
    with pytest.raises(SceneNotFound):
        cat.get(a.id)
    with pytest.raises(ValueError):
        cat.update(b.id, nonsense=1)
    with pytest.raises(SceneNotFound):
        cat.update(a.id, title="gone")
    cat.update(b.id, error="x", progress=0.25, metrics={"psnr": 21.5, "seconds": {"sfm": 3}})
    got = cat.update(b.id, error=None)
    assert got.error is None and got.progress == 0.25 and got.metrics == {"psnr": 21.5, "seconds": {"sfm": 3}}


def test_record_uses_spec_keys():
    d = Scene(id=new_scene_id(), title="t", splat_key="outputs/x/scene.splat").to_dict()
    assert {"splatKey", "thumbnailKey", "completedAt", "status", "error"} <= set(d)
    assert Scene.from_dict(d).splat_key == "outputs/x/scene.splat"


@pytest.mark.parametrize("bad", ["../etc", "ABCDEFGHIJKL", "short", "a/b/c/d/e/f1", "", "abcdefghijk;"])
def test_hostile_scene_ids_rejected(bad):
    with pytest.raises(InputError):
        validate_scene_id(bad)


def test_new_ids_are_valid():
    assert validate_scene_id(new_scene_id())


@pytest.mark.parametrize("name,expected", [("../../etc/passwd", "passwd"), ("my video (1).MP4", "my_video_1_.MP4"),
                                           (".hidden", "hidden"), ("", "upload"), ("a\\b.mov", "a_b.mov"),
                                           ("видео.mp4", "upload.mp4"), ("動画.MOV", "upload.MOV"),
                                           ("x" * 150 + ".webm", "x" * 95 + ".webm")])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_names_that_clean_up_alike_stay_apart():
    taken: set[str] = set()
    names = [unique_filename(n, taken) for n in ("a b.jpg", "a_b.jpg", "é.jpg", "ü.jpg", "x.jpg", "X.JPG")]
    assert names == ["a_b.jpg", "a_b-2.jpg", "upload.jpg", "upload-2.jpg", "x.jpg", "X-2.JPG"]


def test_store_rejects_escaping_keys(store, tmp_path):
    for key in ["../x", "a/../../x", "/", "a//b", "a\\b"]:
        with pytest.raises(ValueError):
            store.path(key)
    f = tmp_path / "f.txt"
    f.write_text("hi")
    store.put_file("uploads/abc/f.txt", f)
    assert store.exists("uploads/abc/f.txt") and store.size("uploads/abc") == 2
    assert store.size("uploads/abc/f.txt") == 2 and not store.exists("uploads/ab")
    work = store.local_dir("outputs/abc")
    (work / "sub").mkdir()
    (work / "sub" / "g.json").write_text("{}")
    store.save_dir("outputs/abc")
    assert store.exists("outputs/abc/sub/g.json") and store.size("outputs/abc") == 2
    store.delete_prefix("uploads/abc")
    assert not store.exists("uploads/abc") and store.exists("outputs/abc")


def test_s3_store_downloads_what_it_lacks(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        create_bucket()
        s3 = boto3.client("s3", region_name=REGION)
        s3.put_object(Bucket=BUCKET, Key="frames/abc/frame_0001.jpg", Body=b"jpeg")
        s3.put_object(Bucket=BUCKET, Key="frames/abcd/other.jpg", Body=b"not mine")
        one = S3Store(BUCKET, tmp_path / "one", s3)
        folder = one.local_dir("frames/abc")
        assert [p.name for p in folder.iterdir()] == ["frame_0001.jpg"]  # not the neighbour prefix
        (folder / "frame_0002.jpg").write_bytes(b"new")
        one.save_dir("frames/abc")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="frames/abc/")["Contents"])
        assert keys == ["frames/abc/frame_0001.jpg", "frames/abc/frame_0002.jpg"]
        assert s3.head_object(Bucket=BUCKET, Key="frames/abc/frame_0002.jpg")["ContentType"] == "image/jpeg"
        two = S3Store(BUCKET, tmp_path / "two", s3)  # another machine sees both
        assert (two.local_dir("frames/abc") / "frame_0002.jpg").read_bytes() == b"new"


def test_two_claims_on_the_same_record_one_wins(open_catalog):
    cat, other = open_catalog(), open_catalog()  # two processes' connections
    scene = Scene(id=new_scene_id(), title="t")
    cat.put(scene)
    seen_a, seen_b = cat.get(scene.id), other.get(scene.id)
    assert cat.claim(scene.id, seen_a, "host:1", time.time() + 60)
    assert not other.claim(scene.id, seen_b, "host:2", time.time() + 60)
    assert cat.get(scene.id).worker == "host:1" and cat.get(scene.id).status == Status.PROCESSING
    seen = cat.get(scene.id)  # a later claim that saw the current owner may take over (a stale lease)
    assert other.claim(scene.id, seen, "host:2", time.time() + 60) and cat.get(scene.id).worker == "host:2"


def test_old_library_gains_new_columns(tmp_path):
    import sqlite3
    db = sqlite3.connect(tmp_path / "c.sqlite")
    db.execute("CREATE TABLE scenes (id TEXT PRIMARY KEY, title, status)")
    db.execute("INSERT INTO scenes VALUES ('abcdefghijkl', 'old', 'failed')")
    db.commit()
    db.close()
    cat = SQLiteCatalog(tmp_path / "c.sqlite")
    cat.update("abcdefghijkl", lease_until=1.0)
    assert cat.get("abcdefghijkl").title == "old"


def test_writes_are_fenced_by_the_claim(open_catalog):
    cat, other = open_catalog(), open_catalog()
    scene = Scene(id=new_scene_id(), title="t")
    cat.put(scene)
    assert cat.claim(scene.id, cat.get(scene.id), "host:1", time.time() + 60)
    first = ("host:1", 1)
    assert cat.get(scene.id).generation == 1
    assert cat.update(scene.id, first, progress=0.5).progress == 0.5  # the owner writes
    # the same worker id with a later claim (a second pipeline in this process) is another owner
    assert other.claim(scene.id, other.get(scene.id), "host:1", time.time() + 60)
    assert other.get(scene.id).generation == 2
    with pytest.raises(LeaseLost, match="taken over by another process"):
        cat.update(scene.id, first, progress=0.9, stages_done=["frames"])
    got = other.get(scene.id)
    assert got.progress == 0.5 and got.stages_done == []  # the paused owner changed nothing
    assert other.update(scene.id, ("host:1", 2), progress=0.7).progress == 0.7
    with pytest.raises(SceneNotFound):
        cat.update(new_scene_id(), first, progress=0.1)


def test_delete_loses_to_a_claim_made_after_the_read(open_catalog):
    cat, other = open_catalog(), open_catalog()
    scene = Scene(id=new_scene_id(), title="t")
    cat.put(scene)
    seen = cat.get(scene.id)  # a DELETE request read the queued scene…
    assert other.claim(scene.id, other.get(scene.id), "host:2", time.time() + 60)  # …a worker claimed it
    assert cat.delete(scene.id, seen) is False and cat.get(scene.id).worker == "host:2"
    now = cat.get(scene.id)
    assert cat.delete(scene.id, now) is True
    with pytest.raises(SceneNotFound):
        cat.delete(scene.id, now)
    with pytest.raises(SceneNotFound):
        cat.delete(scene.id)
