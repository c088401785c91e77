"""Record the Ray dashboard payloads the Ray backend's unit tests replay (tests/fixtures/ray/).

Starts a local cluster (needs the ``ray`` extra), deploys through :class:`RayServeBackend` a working endpoint
(``acme/cls`` on tiny-cls/1, 1 replica), one whose model cannot load (``acme/broken``) and another team's
application, then saves ``GET /api/serve/applications/`` and one replica's ``/api/v0/logs/file`` answer.

    python scripts/record_ray_payloads.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integration")]

from test_endpoints_support import build_store  # noqa: E402

from argus.endpoints.backends.base import Desired, ReplicaSpec  # noqa: E402
from argus.endpoints.backends.ray import RayServeBackend, replica_key_file  # noqa: E402
from argus.endpoints.ray_cluster import LocalRayCluster  # noqa: E402
from argus.settings import Settings  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "ray"
OTHER = {"name": "someone-else", "route_prefix": "/someone-else",
         "import_path": "ray.serve._private.test_utils:get_pid_entrypoint",
         "deployments": [{"name": "GetPID", "ray_actor_options": {"num_cpus": 0.1}}]}


async def record(work: Path) -> None:
    settings = Settings(home=work / "home", models_dir=build_store(work / "models"), intra_op_threads=1,
                        ray_replica_cpus=0.25)
    cluster = LocalRayCluster(num_cpus=2, object_store_mb=100)
    connection = cluster.start()
    try:
        headers = {"authorization": f"Bearer {connection.token}"}
        port = int(connection.serve_url.rsplit(":", 1)[1])
        httpx.put(connection.dashboard_url + "/api/serve/applications/", headers=headers, timeout=30,
                  json={"proxy_location": "HeadOnly", "http_options": {"host": "127.0.0.1", "port": port},
                        "applications": [OTHER]}).raise_for_status()
        backend = RayServeBackend(settings, connection, key_file=replica_key_file(settings))
        desired = {("acme", "cls"): Desired(ReplicaSpec("acme", "cls", 1, "tiny-cls/1", "/readiness",
                                                        {"TOKEN": "s3"}), 1),
                   ("acme", "broken"): Desired(ReplicaSpec("acme", "broken", 2, "broken/1", "/readiness"), 1)}
        await backend.apply(desired)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            observed = await backend.observe()
            if observed.get(("acme", "broken"), None) and observed[("acme", "broken")].failure and \
                    [r.phase.value for r in observed[("acme", "cls")].replicas] == ["ready"]:
                break
            await asyncio.sleep(0.5)
        status = httpx.get(connection.dashboard_url + "/api/serve/applications/", headers=headers).json()
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "applications.json").write_text(json.dumps(status, indent=1) + "\n")
        replica = status["applications"]["argus:acme:cls"]["deployments"]["ArgusReplica"]["replicas"][0]
        log = httpx.get(connection.dashboard_url + "/api/v0/logs/file", headers=headers,
                        params={"node_id": replica["node_id"], "filename": replica["log_file_path"].lstrip("/"),
                                "lines": 20})
        (OUT / "replica.log").write_text(log.text)
        await backend.close()
    finally:
        cluster.stop()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="argus-ray-record-") as folder:
        asyncio.run(record(Path(folder)))
    print(f"wrote {OUT}")
