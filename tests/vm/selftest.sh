#!/usr/bin/env bash
# Checks the VM harness end to end (about 10 s once tests/vm/setup.sh has run):
#   1. builds tests/vm/selftest-probe.c with the host gcc (dynamically linked, like cargo);
#   2. boots it with run-guest.sh, a QMP socket and a control socket; the probe checks
#      /dev/video0 (vivid), paints /dev/fb0 (bochs) orange and holds it until SIGUSR1,
#      unbinds and re-binds vivid through /sys, exits 3;
#   3. takes a QMP screendump while the picture is up and checks its colour, then sends USR1
#      on the control socket (no fixed hold: the probe goes on as soon as the host has it);
#   4. checks the exit status (3), the arguments' round trip, the control line's arrival and
#      the probe's own checks;
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

qmp=$tmp/qmp.sock ctl=$tmp/ctl.sock
t0=$(date +%s.%N)
set +e
"$HERE/run-guest.sh" --binary "$tmp/probe" --out "$tmp/out" --qmp-socket "$qmp" --control-socket "$ctl" \
	--timeout 240 -- 150 "it's" "two words" >"$tmp/stdout" &
pid=$!
set -e

# Wait for the painted screen, take a screendump through QMP, then let the probe go on.
python3 - "$tmp/out/serial.log" "$qmp" "$tmp/screen.ppm" "$ctl" <<'EOF' || fail "screendump"
import json, os, socket, sys, time
serial, qmp, ppm, ctl = sys.argv[1:]
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

def check_screen():
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

try:
    check_screen()
finally:
    # USR1 on the control socket ends the probe's hold (pass or fail: else it would hold the
    # picture for its whole HOLD seconds).
    c = socket.socket(socket.AF_UNIX)
    c.connect(ctl)
    c.sendall(b"USR1\n")
    c.close()
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
grep -q "^hold: released by SIGUSR1" "$tmp/stdout" || fail "the control socket's USR1 did not reach the probe"
grep -qxF "0 check(s) failed" "$tmp/stdout" || fail "the probe's checks failed"
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "selftest: guest run ok in %.1f s\n", b - a }'

rc=0
"$HERE/run-guest.sh" --binary "$tmp/probe" --out "$tmp/out-timeout" --timeout 2 -- 0 \
	>/dev/null 2>"$tmp/timeout.err" || rc=$?
[ "$rc" = 124 ] || { cat "$tmp/timeout.err" >&2; fail "--timeout 2 gave $rc, expected 124"; }
echo "selftest: --timeout gives 124: ok"
echo "selftest: PASS"
