"""Fails when a secret value shows up in the end-to-end tests' artifacts, logs or server roots.

    printf '%s\\n' VALUE... | python check_secret_leaks.py [--namespace NS --secret NAME...] PATH...

The values to look for come one a line on stdin (never on a command line, which other local
users can read): each as it is and base64-encoded; with --namespace, also the data of each
--secret there as the cluster holds it (read with $KUBECTL, else kubectl, and $KUBECONFIG).
Every file under each PATH is searched, inside zip files too.

Playwright traces record the page's network traffic, and by design a run's engine reads the
source Secrets and creates the run's Secrets through /kube/, and signs its S3 requests (the
access key id is part of a SigV4 Authorization, sent to the server's S3 route in
X-Kaptain-S3-Authorization): the bodies of those /kube/ requests and that header of the S3
route's are blanked in the traces (said on stderr) before the search. Exit status 1 when a value was
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

SCRUBBED = b'"[scrubbed by check_secret_leaks.py: a /kube/ body or an S3 signature with a seeded secret value]"'
S3_SIGNATURE_HEADER = "x-kaptain-s3-authorization"


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
    """Blanks the /kube/ bodies and the S3 signatures in a Playwright trace; returns how many."""
    with zipfile.ZipFile(path) as z:
        members = {m: z.read(m) for m in z.namelist()}
    kube = set()
    scrubbed = 0
    for name, data in list(members.items()):
        if not name.endswith(".network"):
            continue
        lines = []
        for line in data.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                lines.append(line)
                continue
            snapshot = entry.get("snapshot") or {}
            url = (snapshot.get("request") or {}).get("url", "")
            if "/kaptain/s3/" in url:
                for header in (snapshot.get("request") or {}).get("headers") or []:
                    if header.get("name", "").lower() == S3_SIGNATURE_HEADER and holds(header.get("value", "").encode()):
                        header["value"] = SCRUBBED.decode()
                        scrubbed += 1
                line = json.dumps(entry).encode()
            lines.append(line)
            if "/kube/" not in url:
                continue
            request_body = (snapshot.get("request") or {}).get("postData") or {}
            response_body = (snapshot.get("response") or {}).get("content") or {}
            for part in (request_body, response_body):
                if part.get("_file"):
                    kube.add(part["_file"])
                elif part.get("_sha1"):
                    kube.add("resources/" + part["_sha1"])
        members[name] = b"\n".join(lines)
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
    print(f"scrubbed {scrubbed} /kube/ bodies and S3 signatures from the traces", file=sys.stderr)
    if leaks:
        print("\n".join(leaks))
        sys.exit(1)
    print(f"no secret value in {files} files", file=sys.stderr)


if __name__ == "__main__":
    main()
