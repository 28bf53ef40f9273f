#!/usr/bin/env python3
"""The few `mc` commands compose.yaml runs, against the stand-in S3 server (moto).

    mc ready local                          # exit 0 once the server on 127.0.0.1:9000 answers
    mc alias set NAME URL USER PASSWORD     # remember an endpoint (in ~/.mc-standin.json)
    mc mb [--ignore-existing] NAME/BUCKET   # create a bucket
"""

import json
import os
import sys
import urllib.request

ALIASES = os.path.expanduser("~/.mc-standin.json")


def main(args):
    if args[:2] == ["ready", "local"]:
        urllib.request.urlopen("http://127.0.0.1:9000/", timeout=4)
        return
    if args[:2] == ["alias", "set"]:
        name, url, user, password = args[2:6]
        with open(ALIASES, "w") as handle:
            json.dump({name: {"url": url, "user": user, "password": password}}, handle)
        return
    if args and args[0] == "mb":
        import boto3

        target = [a for a in args[1:] if not a.startswith("--")][0]
        name, bucket = target.split("/", 1)
        alias = json.load(open(ALIASES))[name]
        s3 = boto3.client("s3", endpoint_url=alias["url"], aws_access_key_id=alias["user"],
                          aws_secret_access_key=alias["password"], region_name="us-east-1")
        existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        if bucket in existing and "--ignore-existing" not in args:
            sys.exit(f"bucket {bucket} exists")
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
        print(f"Bucket created successfully `{target}`.")
        return
    sys.exit(f"mc stand-in: unsupported command {args}")


if __name__ == "__main__":
    main(sys.argv[1:])
