"""The scene library: scene records in a catalog, files in a blob store."""

from .catalog import Catalog, Owner, SQLiteCatalog
from .records import Scene, Status, new_scene_id, validate_scene_id
from .store import BlobStore, LocalStore

__all__ = ["Catalog", "Owner", "SQLiteCatalog", "Scene", "Status", "new_scene_id", "validate_scene_id",
           "BlobStore", "LocalStore"]
