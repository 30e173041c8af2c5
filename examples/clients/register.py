#!/usr/bin/env python3
"""A jplan process client: one register, in a local file or in etcd.

jplan starts one copy of this program per client worker and speaks JSON
lines with it (docs/clients.md): one request per line on stdin, one reply
per line on stdout. Logs go to stderr, which jplan forwards to its log.

Setup empties the register (the checker's model starts empty).

Operations, as the plan names them:
  read          -> {"type": "ok", "value": <int or null>}
  write  v      -> {"type": "ok"}
  cas    [a, b] -> {"type": "ok"} if the register held a (now b), else
                   {"type": "fail"}

Usage:
  register.py --file /tmp/register.json
  register.py --etcd 'http://{host}:2379' [--key jplan-register]

The etcd form talks to etcd's v3 JSON gateway on the node the client was
opened on; {host} and {node} in the URL are replaced from the open request.
Standard library only.
"""

import argparse
import base64
import fcntl
import json
import os
import socket
import sys
import urllib.error
import urllib.request


class Unknown(Exception):
    """The outcome is unknown: reply info."""


class Failed(Exception):
    """The operation certainly did not happen: reply fail."""


class FileRegister:
    """A register in a JSON file, made atomic by an exclusive flock."""

    def __init__(self, path):
        self.path = path

    def open(self, req):
        pass

    def _update(self, fn):
        # a+ creates the file if needed without truncating it.
        with open(self.path, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            text = f.read().strip()
            current = json.loads(text) if text else None
            changed, new, result = fn(current)
            if changed:
                f.seek(0)
                f.truncate()
                f.write(json.dumps(new))
                f.flush()
                os.fsync(f.fileno())
            return result

    def reset(self):
        self._update(lambda cur: (True, None, None))

    def read(self):
        return self._update(lambda cur: (False, None, cur))

    def write(self, value):
        self._update(lambda cur: (True, value, None))

    def cas(self, old, new):
        return self._update(lambda cur: (cur == old, new, cur == old))


class EtcdRegister:
    """A register in one etcd key, through the v3 JSON gateway."""

    def __init__(self, url, key, timeout):
        self.url_template = url
        self.key = base64.b64encode(key.encode()).decode()
        self.timeout = timeout
        self.base = None

    def open(self, req):
        self.base = self.url_template.format(host=req["host"], node=req["node"]).rstrip("/")

    def _post(self, path, body):
        data = json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            msg = "HTTP %d: %s" % (e.code, e.read()[:200].decode(errors="replace"))
            # A 4xx is a rejected request; a 5xx may be "request timed out"
            # after the proposal went through, so its outcome is unknown.
            raise Failed(msg) if e.code < 500 else Unknown(msg)
        except urllib.error.URLError as e:
            if isinstance(e.reason, (ConnectionRefusedError, socket.gaierror)):
                raise Failed("not sent: %s" % e.reason)
            raise Unknown(str(e.reason))
        except (socket.timeout, TimeoutError, ConnectionError) as e:
            raise Unknown(repr(e))

    def _value(self, raw):
        return int(base64.b64decode(raw).decode())

    def _b64(self, v):
        return base64.b64encode(str(v).encode()).decode()

    def reset(self):
        self._post("/v3/kv/deleterange", {"key": self.key})

    def read(self):
        kvs = self._post("/v3/kv/range", {"key": self.key}).get("kvs", [])
        return self._value(kvs[0]["value"]) if kvs else None

    def write(self, value):
        self._post("/v3/kv/put", {"key": self.key, "value": self._b64(value)})

    def cas(self, old, new):
        resp = self._post("/v3/kv/txn", {
            "compare": [{"key": self.key, "target": "VALUE", "result": "EQUAL", "value": self._b64(old)}],
            "success": [{"requestPut": {"key": self.key, "value": self._b64(new)}}],
        })
        return bool(resp.get("succeeded", False))


def invoke(reg, req):
    f, value = req.get("f"), req.get("value")
    if f == "read":
        return {"type": "ok", "value": reg.read()}
    if f == "write":
        reg.write(value)
        return {"type": "ok"}
    if f == "cas":
        old, new = value
        return {"type": "ok"} if reg.cas(old, new) else {"type": "fail"}
    return {"type": "fail", "error": "unknown operation %r" % f}


def handle(reg, req):
    kind = req.get("type")
    try:
        if kind == "open":
            reg.open(req)
            print("opened on %s (%s)" % (req["node"], req["host"]), file=sys.stderr, flush=True)
            return {"type": "ok"}
        if kind == "setup":
            # Once per node before the test: start from an empty register,
            # as the checker's model does.
            reg.reset()
            return {"type": "ok"}
        if kind in ("teardown", "close"):
            return {"type": "ok"}
        if kind == "invoke":
            return invoke(reg, req)
        return {"type": "fail", "error": "unknown request type %r" % kind}
    except Failed as e:
        return {"type": "fail", "error": str(e)}
    except Unknown as e:
        return {"type": "info", "error": str(e)}
    except Exception as e:  # noqa: BLE001 - any surprise leaves the outcome unknown
        return {"type": "info", "error": "%s: %s" % (type(e).__name__, e)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--file", help="keep the register in this file")
    where.add_argument("--etcd", help="etcd client URL; {host} and {node} are filled in")
    ap.add_argument("--key", default="jplan-register", help="etcd key (default %(default)s)")
    ap.add_argument("--timeout", type=float, default=1.0, help="etcd request timeout, seconds")
    args = ap.parse_args()
    reg = FileRegister(args.file) if args.file else EtcdRegister(args.etcd, args.key, args.timeout)

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        reply = handle(reg, req)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if req.get("type") == "close":
            break


if __name__ == "__main__":
    main()
