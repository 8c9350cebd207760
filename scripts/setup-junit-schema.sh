#!/usr/bin/env bash
# The JUnit XML schema chaos-runner's `--junit` output is validated against
# (compatibility tier): the Jenkins JUnit schema (junit-10.xsd, MIT licence) as pytest
# ships it in its source distribution on PyPI (testing/example_scripts/), pinned by
# version and hash, kept in the Cascade cache and never in the repo. Also makes sure
# xmllint (Debian's libxml2-utils) is there to validate with. Idempotent. The last line
# printed is the schema's path.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
dir="$cache/junit-schema"
xsd="$dir/junit-10.xsd"
version="8.3.5"
sha256="f4efe70cc14e511565ac476b57c279e12a855b11f48f212af1080ef2263d3845"

# shellcheck source=scripts/need-programs.sh
. scripts/need-programs.sh
need_programs setup-junit-schema xmllint:libxml2-utils python3:python3

if [ ! -s "$xsd" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    printf 'pytest==%s --hash=sha256:%s\n' "$version" "$sha256" >"$tmp/requirements.txt"
    # The source distribution (the wheel has no tests); pip checks the hash.
    python3 -m pip download --quiet --disable-pip-version-check --no-deps \
        --no-binary :all: --require-hashes -r "$tmp/requirements.txt" -d "$tmp" >&2
    member="pytest-$version/testing/example_scripts/junit-10.xsd"
    tar -xzf "$tmp/pytest-$version.tar.gz" --no-same-owner -C "$tmp" "$member"
    mkdir -p "$dir"
    mv "$tmp/$member" "$xsd"
fi
echo "$xsd"
