"""Fails when a secret value shows up in the end-to-end tests' artifacts, logs or server roots.

    printf '%s\\n' VALUE... | python check_secret_leaks.py [--namespace NS --secret NAME...] PATH...

The values to look for come one a line on stdin (never on a command line, which other local
users can read): each as it is and base64-encoded; with --namespace, also the data of each
--secret there as the cluster holds it (read with $KUBECTL, else kubectl, and $KUBECONFIG).
Every file under each PATH is searched, inside zip files too.

Playwright traces record the page's network traffic, and a run's engine reads the source
Secrets and creates the run's Secrets through /kube/ by design: the bodies of those requests
are blanked in the traces (said on stderr) before the search. Exit status 1 when a value was
found (each place listed on stdout, with the first characters of the value only).
Used by scripts/test-extension and scripts/test-hub.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import zipfile

SCRUBBED = b'"[scrubbed by check_secret_leaks.py: a /kube/ body with a seeded secret value]"'


def needles_from(values, namespace, secrets):
    needles = set()
    for value in values:
        needles.add(value.encode())
        needles.add(base64.b64encode(value.encode()).rstrip(b"="))
    kubectl = os.environ.get("KUBECTL", "kubectl")
    for secret in secrets:
        found = subprocess.run(
            [kubectl, "-n", namespace, "get", "secret", secret, "-o", "json"],
            capture_output=True,
            check=True,
        )
        for encoded in (json.loads(found.stdout).get("data") or {}).values():
            needles.add(encoded.encode().rstrip(b"="))
    return [n for n in needles if n]


def scrub_trace(path, holds):
    """Blanks the bodies of requests to /kube/ in a Playwright trace; returns how many."""
    with zipfile.ZipFile(path) as z:
        members = {m: z.read(m) for m in z.namelist()}
    kube = set()
    for name, data in members.items():
        if not name.endswith(".network"):
            continue
        for line in data.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            snapshot = entry.get("snapshot") or {}
            if "/kube/" not in (snapshot.get("request") or {}).get("url", ""):
                continue
            request_body = (snapshot.get("request") or {}).get("postData") or {}
            response_body = (snapshot.get("response") or {}).get("content") or {}
            for part in (request_body, response_body):
                if part.get("_file"):
                    kube.add(part["_file"])
                elif part.get("_sha1"):
                    kube.add("resources/" + part["_sha1"])
    scrubbed = 0
    for name in list(members):
        if name in kube and holds(members[name]):
            members[name] = SCRUBBED
            scrubbed += 1
    if scrubbed:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members.items():
                z.writestr(name, data)
    return scrubbed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace")
    parser.add_argument("--secret", action="append", default=[])
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    values = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    needles = needles_from(values, args.namespace, args.secret if args.namespace else [])
    if not needles:
        sys.exit("check_secret_leaks.py: no value to look for")

    def holds(data):
        return [n for n in needles if n in data]

    leaks = []

    def check(name, data):
        for needle in holds(data):
            leaks.append(f"{name}: holds a seeded secret value ({needle[:12].decode()}...)")

    scrubbed = files = 0
    for top in args.paths:
        for folder, _, names in os.walk(top):
            for file in names:
                path = os.path.join(folder, file)
                if not os.path.isfile(path):
                    continue  # a socket or a dangling link
                files += 1
                if zipfile.is_zipfile(path):
                    scrubbed += scrub_trace(path, holds)
                    with zipfile.ZipFile(path) as z:
                        for member in z.namelist():
                            check(f"{path}!{member}", z.read(member))
                with open(path, "rb") as f:
                    check(path, f.read())
    print(f"scrubbed {scrubbed} /kube/ bodies from the traces", file=sys.stderr)
    if leaks:
        print("\n".join(leaks))
        sys.exit(1)
    print(f"no secret value in {files} files", file=sys.stderr)


if __name__ == "__main__":
    main()
