#!/usr/bin/env bash
# Soak of the lab's pages (issue 20 §2): `lab dashboard` against a local lab while VIEWERS
# browsers read /events and HOSTILE misbehaving clients (a third idle, a third half-sent
# heads, a third /events readers that never read) plus one 10 MB URL and one 16 MB header
# hold on for SECS seconds. A normal client reads /state.json every second throughout.
# The lab process's threads, open descriptors and RSS are sampled every 2 s before, during
# and after (the hostile clients gone). Everything on 127.0.0.1, bounded by SECS + 30 s.
# Usage: bench/pages-soak.sh [SECS] [VIEWERS] [HOSTILE]   (defaults 60, 200, 1000)
# Env: LAB_BIN (the lab binary to measure; default: built here, PROFILE dev|release,
#   default dev), LAB_BIN_DIR (provider-app/consumer-app; default next to the build),
#   NOFILE (run the lab under `ulimit -n NOFILE`; default: this shell's), CARGO_TARGET_DIR.
# Prints a Markdown report.
set -euo pipefail

SECS="${1:-60}"
VIEWERS="${2:-200}"
HOSTILE="${3:-1000}"
PROFILE="${PROFILE:-dev}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"

if ! [[ $SECS =~ ^[0-9]{1,4}$ ]] || (( SECS < 10 || SECS > 1800 )); then
  echo "error: SECS must be 10..1800, not '$SECS'" >&2; exit 2
fi
if ! [[ $VIEWERS =~ ^[0-9]{1,4}$ ]] || (( VIEWERS > 3000 )); then
  echo "error: VIEWERS must be 0..3000, not '$VIEWERS'" >&2; exit 2
fi
if ! [[ $HOSTILE =~ ^[0-9]{1,4}$ ]] || (( HOSTILE > 3000 )); then
  echo "error: HOSTILE must be 0..3000, not '$HOSTILE'" >&2; exit 2
fi
case "$PROFILE" in dev) DIR=debug ;; release) DIR=release ;;
  *) echo "error: PROFILE must be dev or release, not '$PROFILE'" >&2; exit 2 ;; esac
if [ -n "${NOFILE:-}" ] && ! [[ $NOFILE =~ ^[0-9]{2,6}$ ]]; then
  echo "error: NOFILE must be a number of descriptors, not '$NOFILE'" >&2; exit 2
fi
command -v python3 >/dev/null || { echo "error: python3 not found (it drives the clients)" >&2; exit 1; }

if [ -z "${LAB_BIN:-}" ]; then
  echo "building lab, provider-app, consumer-app ($PROFILE)..." >&2
  (cd "$ROOT" && cargo build -q --profile "$PROFILE" -p lab -p provider-app -p consumer-app)
  LAB_BIN="$CARGO_TARGET_DIR/$DIR/lab"
fi
export LAB_BIN_DIR="${LAB_BIN_DIR:-$CARGO_TARGET_DIR/$DIR}"
[ -x "$LAB_BIN" ] || { echo "error: no lab binary at $LAB_BIN" >&2; exit 1; }

WORK="$(mktemp -d)"
export LAB_STATE_DIR="$WORK/state"
DASH_PID=""
cleanup() {
  if [ -n "$DASH_PID" ]; then kill "$DASH_PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  "$LAB_BIN" down >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$LAB_BIN" up --provider-port 0 --consumer-port 0 >"$WORK/up.log" 2>&1 \
  || { echo "error: lab up failed:" >&2; cat "$WORK/up.log" >&2; exit 1; }
(
  if [ -n "${NOFILE:-}" ]; then ulimit -n "$NOFILE"; fi
  exec "$LAB_BIN" dashboard --addr 127.0.0.1:0 --rate 5 --duration "$((SECS + 40))"
) >"$WORK/dashboard.out" 2>"$WORK/dashboard.err" &
DASH_PID=$!
for _ in $(seq 1 200); do
  if grep -q '^http://' "$WORK/dashboard.out"; then break; fi
  sleep 0.05
done
URL=$(grep -m1 '^http://' "$WORK/dashboard.out" || true)
[ -n "$URL" ] || { echo "error: the dashboard did not start:" >&2; cat "$WORK/dashboard.err" >&2; exit 1; }

echo "soak: $URL, $VIEWERS viewers, $HOSTILE hostile clients, $SECS s" >&2
python3 - "$URL" "$DASH_PID" "$SECS" "$VIEWERS" "$HOSTILE" >"$WORK/report.md" <<'PY'
import asyncio, os, sys, time

url, pid, secs, viewers, hostile = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
host, port = url.removeprefix("http://").rstrip("/").split(":")
port = int(port)
samples = []          # (phase, threads, fds, rss_kb)
probes = {}           # phase -> list of (status, seconds)
viewer = {"200": 0, "503": 0, "other": 0, "events": 0}
oversized = {}
phase = "before"

def usage():
    try:
        status = open(f"/proc/{pid}/status").read()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return int(fields["Threads"]), fds, int(fields["VmRSS"].split()[0])
    except (OSError, KeyError, ValueError):
        return None

async def sampler(stop):
    while not stop.is_set():
        u = usage()
        samples.append((phase, *u) if u else (phase, "gone", "gone", "gone"))
        await asyncio.sleep(2)

async def get_state():
    started = time.monotonic()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        w.write(b"GET /state.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(r.read(), 5)
        w.close()
        status = data[9:12].decode() if data.startswith(b"HTTP/1.") else "none"
    except (OSError, asyncio.TimeoutError):
        status = "error"
    probes.setdefault(phase, []).append((status, time.monotonic() - started))

async def prober(stop):
    while not stop.is_set():
        await get_state()
        await asyncio.sleep(1)

async def view(until):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        w.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        line = await asyncio.wait_for(r.readline(), 5)
        code = line.split()[1].decode() if len(line.split()) > 1 else "other"
        viewer[code if code in viewer else "other"] += 1
        while code == "200" and time.monotonic() < until:
            chunk = await asyncio.wait_for(r.read(65536), max(0.1, until - time.monotonic()))
            if not chunk:
                break
            viewer["events"] += chunk.count(b"event: state")
        w.close()
    except (OSError, asyncio.TimeoutError, IndexError):
        pass

async def misbehave(kind, until):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        if kind == 1:
            w.write(b"GET /state.json HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        elif kind == 2:
            w.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(max(0, until - time.monotonic()))
        w.close()
    except (OSError, asyncio.TimeoutError):
        pass

async def too_big(name, start, size, until):
    sent = 0
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        w.write(start)
        chunk = b"a" * 65536
        while sent < size and time.monotonic() < until:
            w.write(chunk)
            await asyncio.wait_for(w.drain(), 5)
            sent += len(chunk)
        data = await asyncio.wait_for(r.read(4096), 5)
        answer = data[9:12].decode() if data.startswith(b"HTTP/1.") else "closed"
        w.close()
    except (OSError, asyncio.TimeoutError) as err:
        answer = f"closed ({type(err).__name__})"
    oversized[name] = (sent, answer)

async def main():
    global phase
    stop = asyncio.Event()
    tasks = [asyncio.create_task(sampler(stop)), asyncio.create_task(prober(stop))]
    await asyncio.sleep(6)
    phase = "during"
    until = time.monotonic() + secs
    # The oversized requests first, so that they reach the server before the crowd.
    crowd = [
        asyncio.create_task(too_big("10 MB URL", b"GET /", 10 << 20, until)),
        asyncio.create_task(
            too_big("16 MB header", b"GET /state.json HTTP/1.1\r\nX-Big: ", 16 << 20, until)),
    ]
    await asyncio.sleep(0.5)
    crowd += [asyncio.create_task(view(until)) for _ in range(viewers)]
    for i in range(hostile):
        crowd.append(asyncio.create_task(misbehave(i % 3, until)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    await asyncio.gather(*crowd)
    phase = "after"
    await asyncio.sleep(12)
    stop.set()
    await asyncio.gather(*tasks)

asyncio.run(main())

print("| phase | samples | threads first -> last (max) | fds first -> last (max) | RSS kB first -> last (max) |")
print("| --- | --- | --- | --- | --- |")
for name in ("before", "during", "after"):
    rows = [s for s in samples if s[0] == name]
    if not rows:
        continue
    cols = []
    for i in (1, 2, 3):
        values = [r[i] for r in rows]
        numbers = [v for v in values if isinstance(v, int)]
        top = max(numbers) if numbers else "-"
        cols.append(f"{values[0]} -> {values[-1]} ({top})")
    print(f"| {name} | {len(rows)} | " + " | ".join(cols) + " |")
print()
print("| phase | /state.json probes | answered 200 | other answers | slowest |")
print("| --- | --- | --- | --- | --- |")
for name in ("before", "during", "after"):
    rows = probes.get(name, [])
    ok = sum(1 for s, _ in rows if s == "200")
    other = sorted({s for s, _ in rows if s != "200"})
    slowest = max((t for _, t in rows), default=0)
    print(f"| {name} | {len(rows)} | {ok} | {', '.join(other) or '-'} | {slowest * 1000:.0f} ms |")
print()
print(f"- viewers: {viewer['200']} streams (200), {viewer['503']} refused (503), "
      f"{viewer['other']} without an answer; {viewer['events']} `state` events read in all")
for name, (sent, answer) in oversized.items():
    print(f"- {name}: {sent} bytes sent before the server stopped it; answer: {answer}")
PY

ALIVE=yes
kill -0 "$DASH_PID" 2>/dev/null || ALIVE="no (exited)"
echo "## Pages soak: \`lab dashboard\`, $VIEWERS viewers + $HOSTILE hostile clients, $SECS s"
echo
echo "- lab: $LAB_BIN; descriptor limit: ${NOFILE:-$(ulimit -n)}; nproc $(nproc); kernel $(uname -r)"
echo "- command: bench/pages-soak.sh $SECS $VIEWERS $HOSTILE (clients: python3 asyncio on the same cores)"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); dashboard still running: $ALIVE"
echo
cat "$WORK/report.md"
if grep -qi panic "$WORK/dashboard.err"; then
  echo
  echo "The dashboard's stderr mentions a panic:"
  echo
  grep -i -m3 panic "$WORK/dashboard.err" | sed 's/^/    /'
fi
