import time

import pytest

from splatlib.errors import InputError, SceneNotFound
from splatlib.library import LocalStore, Scene, SQLiteCatalog, Status, new_scene_id, validate_scene_id
from splatlib.pipeline import safe_filename


def test_catalog_crud_and_listing(tmp_path):
    cat = SQLiteCatalog(tmp_path / "c.sqlite")
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
                                           (".hidden", "hidden"), ("", "upload"), ("a\\b.mov", "a_b.mov")])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_store_rejects_escaping_keys(tmp_path):
    store = LocalStore(tmp_path)
    for key in ["../x", "a/../../x", "/", "a//b", "a\\b"]:
        with pytest.raises(ValueError):
            store.path(key)
    f = tmp_path / "f.txt"
    f.write_text("hi")
    store.put_file("uploads/abc/f.txt", f)
    assert store.exists("uploads/abc/f.txt") and store.size("uploads/abc") == 2
    store.delete_prefix("uploads/abc")
    assert not store.exists("uploads/abc")


def test_two_claims_on_the_same_record_one_wins(tmp_path):
    cat = SQLiteCatalog(tmp_path / "c.sqlite")
    other = SQLiteCatalog(tmp_path / "c.sqlite")  # a second process's connection
    scene = Scene(id=new_scene_id(), title="t")
    cat.put(scene)
    seen_a, seen_b = cat.get(scene.id), other.get(scene.id)
    assert cat.claim(scene.id, seen_a, "host:1", time.time() + 60)
    assert not other.claim(scene.id, seen_b, "host:2", time.time() + 60)
    assert cat.get(scene.id).worker == "host:1" and cat.get(scene.id).status == Status.PROCESSING


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
