#!/usr/bin/env bash
# Installs the reference Chaos Toolkit (the Python runner chaos-runner is compared with)
# into a virtualenv under the Cascade cache. Idempotent: an existing venv with the pinned
# versions is reused. The last line printed is the path of the `chaos` executable.
set -euo pipefail

cache="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
venv="$cache/venv-chaostoolkit"
chaos="$venv/bin/chaos"

# Wanted versions: chaostoolkit 1.19 with chaostoolkit-lib 1.44 (the reference behaviour),
# chaostoolkit-kubernetes 0.39 for the Kubernetes driver's comparisons, and
# chaostoolkit-toxiproxy 0.3.1 for the toxiproxy driver's.
ctk="chaostoolkit==1.19.*"
lib="chaostoolkit-lib[jsonpath]==1.44.*"
k8s="chaostoolkit-kubernetes==0.39.*"
toxiproxy="chaostoolkit-toxiproxy==0.3.1"

if ! command -v python3 >/dev/null 2>&1; then
    echo "setup-chaostoolkit: python3 not found; install it (apt-get install -y python3 python3-venv)" >&2
    exit 1
fi

installed() {
    [ -x "$chaos" ] || return 1
    "$venv/bin/python" - <<'PY' >/dev/null 2>&1
import importlib.metadata as m
assert m.version("chaostoolkit").startswith("1.19.")
assert m.version("chaostoolkit-lib").startswith("1.44.")
assert m.version("chaostoolkit-toxiproxy") == "0.3.1"
import jsonpath2  # the [jsonpath] extra
PY
}

if ! installed; then
    mkdir -p "$cache"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" >&2
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 || true
    if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$ctk" "$lib" >&2; then
        echo "setup-chaostoolkit: pinned versions did not install; trying the closest ones" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "chaostoolkit~=1.19" "chaostoolkit-lib[jsonpath]~=1.44" >&2
    fi
    # The Kubernetes extension is optional for the runner's comparisons: warn, don't fail.
    if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$k8s" >&2; then
        echo "setup-chaostoolkit: warning: $k8s did not install" >&2
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$toxiproxy" >&2
fi

if [ ! -x "$chaos" ]; then
    echo "setup-chaostoolkit: $chaos missing after install" >&2
    exit 1
fi
"$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null \
    | grep -Ei '^(chaostoolkit|chaostoolkit-lib|chaostoolkit-kubernetes|chaostoolkit-toxiproxy|jsonpath2) ' >&2 || true
echo "$chaos"
