"""A Python application talking to Neo4j through the bolt-proxy (driven by test/integration/bolt-proxy-python.test.ts).

Reads HEIMDALL_BOLT_URI, HEIMDALL_BOLT_ROUTING_URI, HEIMDALL_BOLT_USER and HEIMDALL_BOLT_PASSWORD,
runs a fixed workload with the official `neo4j` package and prints one JSON object with what it saw.
"""
import json
import os
import sys

import neo4j
from neo4j import GraphDatabase
from neo4j.exceptions import ClientError, ConstraintError


def main() -> int:
    uri = os.environ["HEIMDALL_BOLT_URI"]
    routing_uri = os.environ["HEIMDALL_BOLT_ROUTING_URI"]
    auth = (os.environ["HEIMDALL_BOLT_USER"], os.environ["HEIMDALL_BOLT_PASSWORD"])
    out = {"driver": neo4j.__version__}
    with GraphDatabase.driver(uri, auth=auth, user_agent="heimdall-python-test/1.0") as driver:
        with driver.session(database="neo4j") as session:
            # auto-commit write: Python ints travel as PackStream integers
            summary = session.run("CREATE (:PyNode {name: $name, n: $n, tags: $tags})", name="py", n=7, tags=["a", "b"]).consume()
            out["protocol"] = ".".join(str(p) for p in summary.server.protocol_version)
            out["created"] = summary.counters.nodes_created
            # managed read transaction
            names = session.execute_read(lambda tx: [r["name"] for r in tx.run("MATCH (p:PyNode) RETURN p.name AS name")])
            out["names"] = names
            # syntax error
            try:
                session.run("RETRN 1").consume()
            except ClientError as err:
                out["syntaxError"] = err.code
            # explicit transaction with metadata, committed
            with session.begin_transaction(metadata={"app": "python-test"}) as tx:
                tx.run("MATCH (p:PyNode) SET p.seen = true").consume()
                tx.run("RETURN 1").consume()
                tx.commit()
            # explicit transaction rolled back
            tx = session.begin_transaction()
            tx.run("CREATE (:PyGhost)").consume()
            tx.rollback()
            # constraint violation
            session.run("CREATE CONSTRAINT py_unique IF NOT EXISTS FOR (u:PyUnique) REQUIRE u.id IS UNIQUE").consume()
            session.run("CREATE (:PyUnique {id: 1})").consume()
            try:
                session.run("CREATE (:PyUnique {id: 1})").consume()
            except ConstraintError as err:
                out["constraintError"] = err.code
            session.run("MATCH (n) WHERE n:PyNode OR n:PyUnique DELETE n").consume()
            session.run("DROP CONSTRAINT py_unique IF EXISTS").consume()
    # neo4j:// through the proxy: the routing table must point back at the proxy
    with GraphDatabase.driver(routing_uri, auth=auth, user_agent="heimdall-python-test/1.0") as driver:
        records, summary, _ = driver.execute_query("RETURN 'routed' AS r", database_="neo4j", routing_=neo4j.RoutingControl.READ)
        out["routed"] = records[0]["r"]
        out["routedAddress"] = f"{summary.server.address[0]}:{summary.server.address[1]}"
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
