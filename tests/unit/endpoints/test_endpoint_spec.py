"""The endpoint resource: defaults, constraints, the partial update, and the JSON the API renders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from argus.endpoints.spec import (
    EndpointSpec,
    EndpointState,
    EndpointStatus,
    EndpointType,
    render,
    validate_spec,
)
from argus.errors import InvalidInputError


def spec(**overrides: object) -> EndpointSpec:
    body: dict[str, object] = {"name": "people", "model": {"repository": "coco/1"}}
    body.update(overrides)
    return validate_spec(body)


def test_defaults_follow_the_resource_model():
    s = spec()
    assert s.type == EndpointType.AUTHENTICATED
    assert (s.compute.scaling.minReplica, s.compute.scaling.maxReplica) == (1, 1)
    assert s.compute.scaling.scaleToZeroTimeout is None
    assert s.compute.scaling.measure.pendingRequests == 1.5
    assert s.model.image == {"argus": {}}
    assert s.healthRoute == "/readiness"


def test_protected_is_the_older_name_of_authenticated():
    assert spec(type="protected").type == EndpointType.AUTHENTICATED


def test_repository_and_revision_make_the_store_id():
    assert spec(model={"repository": "coco", "revision": "3"}).model.model_id == "coco/3"
    assert spec(model={"repository": "coco/1", "revision": "abc"}).model.model_id == "coco/1"
    assert spec(model={"repository": "yolov3-tiny-416"}).model.model_id == "yolov3-tiny-416"


def test_min_zero_gets_the_default_idle_timeout():
    s = spec(compute={"scaling": {"minReplica": 0, "maxReplica": 3}})
    assert s.compute.scaling.scaleToZeroTimeout == 15


@pytest.mark.parametrize(("body", "fragment"), [
    ({"name": "Bad_Name"}, "name"),
    ({"name": "-x"}, "name"),
    ({"name": "x" * 33}, "name"),
    ({"type": "secret"}, "type"),
    ({"model": {"repository": "../etc/1"}}, "model"),
    ({"model": {"repository": "a/b/c"}}, "model"),
    ({"compute": {"scaling": {"minReplica": 3, "maxReplica": 2}}}, "minReplica (3) is above maxReplica (2)"),
    ({"compute": {"scaling": {"minReplica": 1, "scaleToZeroTimeout": 5}}}, "only when minReplica is 0"),
    ({"compute": {"scaling": {"maxReplica": 0}}}, "maxReplica"),
    ({"compute": {"scaling": {"maxReplica": 1000}}}, "maxReplica"),
    ({"compute": {"scaling": {"measure": {"pendingRequests": 1, "hardwareUsage": 50}}}}, "not both"),
    ({"compute": {"scaling": {"measure": {"hardwareUsage": 150}}}}, "hardwareUsage"),
    ({"compute": {"accelerator": "tpu"}}, "accelerator"),
    ({"model": {"repository": "coco/1", "env": {"ARGUS_HOME": "/"}}}, "ARGUS_HOME cannot be set"),
    ({"model": {"repository": "coco/1", "env": {"LD_PRELOAD": "x.so"}}}, "LD_PRELOAD cannot be set"),
    ({"model": {"repository": "coco/1", "env": {"1BAD": "x"}}}, "env"),
    ({"model": {"repository": "coco/1", "image": {"custom": {"url": "nginx"}}}}, "not supported"),
    ({"healthRoute": "readiness"}, "healthRoute"),
])
def test_bad_specs_are_400_naming_the_field(body, fragment):
    full = {"name": "people", "model": {"repository": "coco/1"}, **body}
    with pytest.raises(InvalidInputError) as caught:
        validate_spec(full)
    assert caught.value.status_code == 400
    assert fragment in caught.value.message


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidInputError, match="JSON object"):
        validate_spec(["people"])


def test_partial_update_changes_only_what_it_names():
    s = spec(model={"repository": "coco/1", "env": {"A": "1"}}, compute={"scaling": {"minReplica": 0,
                                                                                     "maxReplica": 2}})
    updated = s.merged({"compute": {"scaling": {"maxReplica": 4}}, "model": {"repository": "coco/2"}})
    assert updated.compute.scaling.maxReplica == 4
    assert updated.compute.scaling.minReplica == 0
    assert updated.model.model_id == "coco/2"
    assert updated.model.env == {"A": "1"}
    assert updated.type == s.type


def test_raising_min_replica_drops_the_idle_timeout():
    s = spec(compute={"scaling": {"minReplica": 0, "maxReplica": 2, "scaleToZeroTimeout": 5}})
    assert s.merged({"compute": {"scaling": {"minReplica": 1}}}).compute.scaling.scaleToZeroTimeout is None


def test_an_endpoint_cannot_be_renamed():
    with pytest.raises(InvalidInputError, match="renamed"):
        spec().merged({"name": "other"})


def test_render_masks_secrets_and_uses_the_hub_datetime_format():
    s = spec(model={"repository": "coco/1", "secrets": {"TOKEN": "hunter2"}})
    moment = datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)
    status = EndpointStatus(state=EndpointState.RUNNING, message="1 replica(s) ready", url="http://h/endpoints/a/p",
                            readyReplica=1, targetReplica=1, createdAt=moment, updatedAt=moment)
    body = render(s, status, "acme")
    assert body["model"]["secrets"] == {"TOKEN": "***"}
    assert body["status"]["createdAt"] == "2026-11-22T10:00:00.123000Z"
    assert body["status"]["state"] == "running"
    assert body["namespace"] == "acme"
    assert body["healthRoute"] == "/readiness"


@pytest.mark.parametrize("value", ["alpha\n", "alpha\r\n", "alpha\x00"])
def test_id_patterns_match_the_whole_string(value):
    from argus.endpoints.spec import NAME_PATTERN, NAMESPACE_PATTERN
    from argus.errors import InvalidModelIdError
    from argus.store.model_id import parse_model_id
    from argus.workflows.store import check_name

    assert not NAMESPACE_PATTERN.match(value) and not NAME_PATTERN.match(value)
    with pytest.raises(InvalidModelIdError):
        parse_model_id(f"x/{value}")
    with pytest.raises(InvalidInputError):
        validate_spec({"name": value, "model": {"repository": "coco/1"}})
    with pytest.raises(InvalidInputError):
        check_name(value, "workflow id")
