#!/usr/bin/env python3
"""Check every corpus Dockerfile with BuildKit's own parser (the `dockerfile` package).

Also fails if any file in the corpus mentions a package/container registry host.

Usage: python corpus/check_corpus.py [corpus_dir]
"""

import pathlib
import re
import sys

import dockerfile

HERE = pathlib.Path(__file__).resolve().parent
REGISTRY_HOSTS = re.compile(
    r"registry\.npmjs|registry\.yarnpkg|npmjs\.(org|com)|pypi\.(org|python)|pythonhosted"
    r"|rubygems\.org|packagist\.org|getcomposer\.org|crates\.io|proxy\.golang|sum\.golang"
    r"|maven\.apache\.org|repo1\.maven|maven\.org|gradle\.org|nuget\.org"
    r"|docker\.io|gcr\.io|ghcr\.io|quay\.io|mcr\.microsoft|ecr\.aws|cgr\.dev",
    re.IGNORECASE,
)


def main(argv):
    root = pathlib.Path(argv[1]) if len(argv) > 1 else HERE / "dockerfiles"
    files = sorted(root.glob("*/Dockerfile"))
    parse_failures = host_hits = 0
    for path in files:
        try:
            dockerfile.parse_file(str(path))
        except dockerfile.GoParseError as exc:
            parse_failures += 1
            print(f"PARSE ERROR {path.relative_to(root)}: {exc}")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", "replace")
        m = REGISTRY_HOSTS.search(text)
        if m:
            host_hits += 1
            print(f"REGISTRY HOST {path.relative_to(root)}: {m.group(0)!r}")
    print(
        f"{len(files)} Dockerfiles checked: {len(files) - parse_failures} parsed OK, "
        f"{parse_failures} parse error(s), {host_hits} file(s) mentioning a registry host"
    )
    return 1 if parse_failures or host_hits or not files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
