"""The scene catalog in a DynamoDB table (key `id`, index `status-createdAt` for listing)."""

from __future__ import annotations

import json
import time
from decimal import Decimal

from ..errors import SceneNotFound
from ..library.catalog import Owner, lease_lost
from ..library.records import Scene, Status, camel

STATUS_INDEX = "status-createdAt"


def to_dynamo(value):
    """Python value -> what boto3 stores: floats as Decimal, NaN/inf as None."""
    return json.loads(json.dumps(value), parse_float=Decimal, parse_constant=lambda _: None)


def from_dynamo(value):
    """Inverse of `to_dynamo`: Decimal back to int or float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    return value


class DynamoDBCatalog:
    """Scene records as DynamoDB items with the spec's camelCase attribute names.

    Attributes that are None are left out of the item, so conditions can test for them
    with `attribute_not_exists`.
    """

    def __init__(self, table_name: str, resource=None):
        import boto3

        self.table = (resource or boto3.resource("dynamodb")).Table(table_name)

    def put(self, scene: Scene) -> None:
        """Insert or replace a whole record."""
        item = {k: v for k, v in scene.to_dict().items() if v is not None}
        self.table.put_item(Item=to_dynamo(item))

    def get(self, scene_id: str) -> Scene:
        """The record with that id; SceneNotFound if there is none."""
        item = self.table.get_item(Key={"id": scene_id}, ConsistentRead=True).get("Item")
        if item is None:
            raise SceneNotFound(f"no scene with id {scene_id}")
        return Scene.from_dict(from_dynamo(item))

    def update(self, scene_id: str, owner: Owner | None = None, **fields) -> Scene:
        """Set some fields (and updated_at) atomically; None removes an attribute. Returns the new record.

        With `owner`, only while that claim still holds the scene (LeaseLost otherwise)."""
        unknown = set(fields) - set(Scene.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown scene fields: {sorted(unknown)}")
        fields.setdefault("updated_at", time.time())
        names, values, sets, removes = {"#id": "id"}, {}, [], []
        for i, (name, value) in enumerate(fields.items()):
            names[f"#f{i}"] = camel(name)
            if value is None:
                removes.append(f"#f{i}")
            else:
                values[f":v{i}"] = to_dynamo(value.value if isinstance(value, Status) else value)
                sets.append(f"#f{i} = :v{i}")
        expression = " ".join(part for part in (
            "SET " + ", ".join(sets) if sets else "", "REMOVE " + ", ".join(removes) if removes else "") if part)
        condition = "attribute_exists(#id)"
        if owner is not None:
            names.update({"#ow": "worker", "#og": "generation"})
            values.update({":ow": owner[0], ":og": owner[1]})
            condition += " AND #ow = :ow AND #og = :og"
        try:
            item = self.table.update_item(
                Key={"id": scene_id}, UpdateExpression=expression, ConditionExpression=condition,
                ExpressionAttributeNames=names, ReturnValues="ALL_NEW",
                **({"ExpressionAttributeValues": values} if values else {}))["Attributes"]
        except self.table.meta.client.exceptions.ConditionalCheckFailedException:
            self.get(scene_id)  # SceneNotFound if it is gone
            raise lease_lost(scene_id, owner) from None
        return Scene.from_dict(from_dynamo(item))

    def list(self, status: Status | None = None, limit: int = 100, offset: int = 0) -> list[Scene]:
        """Scenes newest first, optionally only those with one status (queried on the status index)."""
        wanted = [Status(status)] if status else list(Status)
        scenes: list[Scene] = []
        for s in wanted:
            scenes += self._query_status(s, limit + offset)
        scenes.sort(key=lambda scene: scene.created_at, reverse=True)
        return scenes[offset:offset + limit]

    def _query_status(self, status: Status, count: int) -> list[Scene]:
        from boto3.dynamodb.conditions import Key

        found: list[Scene] = []
        kwargs = {"IndexName": STATUS_INDEX, "KeyConditionExpression": Key("status").eq(status.value),
                  "ScanIndexForward": False}
        while len(found) < count:
            page = self.table.query(**kwargs)
            found += [Scene.from_dict(from_dynamo(item)) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:count]

    def claim(self, scene_id: str, seen: Scene, worker: str, lease_until: float) -> bool:
        """Mark the scene processing by `worker` if its status and owner are still those of `seen`."""
        names = {"#s": "status", "#w": "worker", "#l": "leaseUntil", "#e": "error", "#es": "errorStage",
                 "#u": "updatedAt", "#g": "generation"}
        values = {":new": Status.PROCESSING.value, ":worker": worker, ":lease": to_dynamo(lease_until),
                  ":now": to_dynamo(time.time()), ":seen": seen.status.value, ":gen": seen.generation + 1}
        conditions = ["#s = :seen"]
        if seen.generation:
            conditions.append("#g = :oldg")
            values[":oldg"] = seen.generation
        else:
            conditions.append("(attribute_not_exists(#g) OR #g = :zero)")
            values[":zero"] = 0
        for attr, key, old in (("#w", ":oldw", seen.worker), ("#l", ":oldl", seen.lease_until)):
            if old is None:
                conditions.append(f"attribute_not_exists({attr})")
            else:
                conditions.append(f"{attr} = {key}")
                values[key] = to_dynamo(old)
        try:
            self.table.update_item(
                Key={"id": scene_id}, ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                UpdateExpression="SET #s = :new, #w = :worker, #l = :lease, #g = :gen, #u = :now REMOVE #e, #es",
                ConditionExpression=" AND ".join(conditions))
        except self.table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def delete(self, scene_id: str, seen: Scene | None = None) -> bool:
        """Remove a record (with `seen`: only if its status, owner and generation are still those);
        False if `seen` is out of date, SceneNotFound if there is no record."""
        names, values, conditions = {"#id": "id"}, {}, ["attribute_exists(#id)"]
        if seen is not None:
            names.update({"#s": "status", "#w": "worker", "#g": "generation"})
            values[":s"] = seen.status.value
            conditions.append("#s = :s")
            if seen.worker is None:
                conditions.append("attribute_not_exists(#w)")
            else:
                values[":w"] = seen.worker
                conditions.append("#w = :w")
            values[":g"] = seen.generation
            conditions.append("(#g = :g OR attribute_not_exists(#g))" if not seen.generation else "#g = :g")
        try:
            self.table.delete_item(Key={"id": scene_id}, ConditionExpression=" AND ".join(conditions),
                                   ExpressionAttributeNames=names, **({"ExpressionAttributeValues": values} if values else {}))
        except self.table.meta.client.exceptions.ConditionalCheckFailedException:
            self.get(scene_id)  # SceneNotFound if it is gone
            return False
        return True
