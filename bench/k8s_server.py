"""The fake Kubernetes API server in a process of its own, for the benchmarks: the code under test and
kubectl talk to it over HTTPS and never share its GIL; it serves requests concurrently (a thread per
connection), as a real API server does. Its code is the test suite's, unchanged: no server-side speed-up
counts.

``--nodelay`` sets TCP_NODELAY on its connections (as Go's net/http, and so the real API server, does):
the test server writes a response's headers and body separately, and without it each response waits
for the client's delayed ACK (about 40 ms on Linux). That variant is a server-side change: its figures
are shown beside the frozen server's, never counted against a target.

``python -m bench.k8s_server WORKDIR [--nodelay]`` prints one JSON line (url, token, ca_file, kubeconfig), then takes
commands on stdin, one JSON object a line, answering each with a JSON line:
``{"op": "seed", "file": PATH}`` (a JSON list of objects; their namespaces are created),
``{"op": "create_namespace", "name": N}``, ``{"op": "clear_requests"}``, ``{"op": "count", "namespace": N}``;
end of input stops it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.support import k8s_apiserver
    from tests.support.k8s_apiserver import FakeKubeApiServer

    if "--nodelay" in argv[2:]:
        k8s_apiserver._Handler.disable_nagle_algorithm = True  # socketserver's own switch
    workdir = Path(argv[1])
    server = FakeKubeApiServer().start()
    kubeconfig = server.write_kubeconfig(workdir / "kubeconfig-bench")
    print(json.dumps({"url": server.url, "token": server.token, "ca_file": str(server.ca_file),
                      "kubeconfig": str(kubeconfig)}), flush=True)  # fmt: skip
    for line in sys.stdin:
        command: dict[str, Any] = json.loads(line)
        op = command["op"]
        answer: dict[str, Any] = {"ok": True}
        if op == "seed":
            objects = json.loads(Path(command["file"]).read_text(encoding="utf-8"))
            for namespace in sorted({o["metadata"]["namespace"] for o in objects}):
                server.create_namespace(namespace)
            for obj in objects:
                server.put_object(obj)
        elif op == "create_namespace":
            server.create_namespace(command["name"])
        elif op == "clear_requests":
            server.clear_requests()
        elif op == "count":
            answer["count"] = sum(
                1 for kind in ("ConfigMap", "Secret") for _ in server.list_objects(kind, command["namespace"])
            )
        else:
            answer = {"ok": False, "error": f"unknown op {op!r}"}
        print(json.dumps(answer), flush=True)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
