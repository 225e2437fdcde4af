#!/usr/bin/env bash
# Checks the VM harness end to end (about 15 s once tests/vm/setup.sh has run):
#   1. builds tests/vm/selftest-probe.c with the host gcc (dynamically linked, like cargo);
#   2. boots it with run-guest.sh and a QMP socket; the probe checks /dev/video0 (vivid),
#      paints /dev/fb0 (bochs) orange, unbinds and re-binds vivid through /sys, exits 3;
#   3. takes a QMP screendump while the picture is up and checks its colour;
#   4. checks the exit status (3), the arguments' round trip and the probe's own checks;
#   5. checks that --timeout gives 124.
# usage: tests/vm/selftest.sh        (VM_KEEP=1 keeps the temp dir)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vm-selftest.XXXXXX")
cleanup() { [ -n "${VM_KEEP:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT
fail() {
	echo "selftest: FAIL: $*" >&2
	echo "selftest: files in $tmp" >&2
	VM_KEEP=1
	exit 1
}

"$HERE/setup.sh"
gcc -O2 -Wall -o "$tmp/probe" "$HERE/selftest-probe.c" || fail "gcc selftest-probe.c"

qmp=$tmp/qmp.sock
t0=$(date +%s.%N)
set +e
"$HERE/run-guest.sh" --binary "$tmp/probe" --out "$tmp/out" --qmp-socket "$qmp" --timeout 180 \
	-- 4 "it's" "two words" >"$tmp/stdout" &
pid=$!
set -e

# Wait for the painted screen, then take a screendump through QMP.
python3 - "$tmp/out/serial.log" "$qmp" "$tmp/screen.ppm" <<'EOF' || fail "screendump"
import json, os, socket, sys, time
serial, qmp, ppm = sys.argv[1:]
deadline = time.time() + 150
while time.time() < deadline:
    try:
        if b"SCREEN-READY" in open(serial, "rb").read():
            break
    except FileNotFoundError:
        pass
    time.sleep(0.1)
else:
    sys.exit("no SCREEN-READY in the serial log")
s = socket.socket(socket.AF_UNIX)
s.connect(qmp)
f = s.makefile("rw")
def call(cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
json.loads(f.readline())  # greeting
call("qmp_capabilities")
r = call("screendump", filename=ppm)  # PPM: the default format
if "error" in r:
    sys.exit(f"screendump: {r['error']}")
data = open(ppm, "rb").read()
magic, w, h, maxval, pixels = data.split(maxsplit=4)
w, h = int(w), int(h)
centre = pixels[3 * (w * (h // 2) + w // 2):][:3]
print(f"selftest: screendump {w}x{h}, centre pixel #{centre.hex()}")
if centre != bytes([0xFF, 0x80, 0x00]):
    sys.exit(f"centre pixel is #{centre.hex()}, expected #ff8000")
EOF

rc=0
wait "$pid" || rc=$?
t1=$(date +%s.%N)
echo "---- probe output ----"
cat "$tmp/stdout"
echo "----"
[ "$rc" = 3 ] || fail "run-guest.sh exited $rc, expected 3"
grep -qxF "argv[2]=<it's>" "$tmp/stdout" || fail "argument with a quote did not arrive intact"
grep -qxF "argv[3]=<two words>" "$tmp/stdout" || fail "argument with a space did not arrive intact"
grep -qxF "0 check(s) failed" "$tmp/stdout" || fail "the probe's checks failed"
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "selftest: guest run ok in %.1f s\n", b - a }'

rc=0
"$HERE/run-guest.sh" --binary "$tmp/probe" --out "$tmp/out-timeout" --timeout 2 -- 0 \
	>/dev/null 2>"$tmp/timeout.err" || rc=$?
[ "$rc" = 124 ] || { cat "$tmp/timeout.err" >&2; fail "--timeout 2 gave $rc, expected 124"; }
echo "selftest: --timeout gives 124: ok"
echo "selftest: PASS"
