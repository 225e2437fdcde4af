#!/usr/bin/env bash
# Boots a QEMU guest (TCG, stock Debian kernel) with a real V4L2 camera (vivid, /dev/video0)
# and a real framebuffer (/dev/fb0), runs one program in it as /bin/probe, and exits with
# that program's exit status. Guests: x86_64 (bochs DRM on -vga std) or arm64 (-M virt,
# virtio-gpu DRM on -device virtio-gpu-pci); both screens are 1280x800, 32 bpp.
#
# usage: tests/vm/run-guest.sh --binary PATH [options] [-- ARGS...]
#
#   --arch x86_64|arm64 the guest (default: $VM_ARCH, else x86_64); the binary must match
#   --binary PATH       the program to run in the guest (dynamically linked glibc or static);
#                       x86_64: the shared libraries `ldd` lists are copied in at the same
#                       paths; arm64: the libraries its ELF header names (readelf, recursively)
#                       come from the cross sysroot ($VM_SYSROOT, default /usr/aarch64-linux-gnu,
#                       Debian's libc6-arm64-cross) and go to /lib/aarch64-linux-gnu, the
#                       loader to the path the binary asks for
#   --timeout SECONDS   kill the guest after this long (default 240)
#   --out DIR           where serial.log and the rest go (default: a new temp dir)
#   --qmp-socket PATH   add -qmp unix:PATH,server=on,wait=off (e.g. for screendumps)
#   --control-socket PATH
#                       a host-to-guest line channel: a second serial port whose host end is
#                       the Unix socket PATH (QEMU listens; connect any time, write lines);
#                       each line is a signal name (TERM, USR1, HUP, ...) that the guest's
#                       /init sends to the probe, so the host can stop the probe (or poke it)
#                       as soon as what it waits for has happened; the probe runs in the
#                       background then, with SIGINT and SIGQUIT ignored (sh's rule); a line
#                       "sh COMMAND" runs COMMAND in the guest instead (e.g. a vivid unbind),
#                       logging "[vm-init] control: exit N" when it is done
#   --file SRC:DEST     also put host file or directory SRC at DEST in the guest (repeatable)
#   --env NAME=VALUE    set an environment variable for the probe (repeatable)
#   --vivid-opts OPTS   vivid module parameters (default "n_devs=1")
#   --mem MB            guest memory (default 1024)
#   --smp N             guest CPUs (default 2)
#   --cpu MODEL         QEMU CPU model (default x86_64: max, SSE4/AVX2 etc. as far as TCG
#                       has them; arm64: cortex-a72, a Raspberry Pi 4's core)
#   --no-strip          copy the binary as it is (by default its debug info is stripped:
#                       a cargo debug build is hundreds of MB and has to fit in guest RAM)
#   --keep-initramfs    keep DIR/initramfs.cpio.gz (deleted after the run by default)
#   --verbose           stream the guest's serial console to stderr while it runs
#   -- ARGS...          arguments for the probe
#
# Exit status: the probe's (from the PROBE-EXIT=<n> line it prints on the serial console),
# 124 when the timeout hit first, 125 when the guest never ran the probe or died before it
# finished (the serial log's tail is printed), 2 for a usage error.
# On stdout: what the probe wrote (its stdout and stderr, as the serial console saw them).
# On stderr: progress, the output directory, timings.
#
# Inside the guest, /init links busybox's applets; mounts proc, sysfs (read-write), devtmpfs,
# tmpfs on /tmp, /run and /dev/shm; loads the display modules and waits for /dev/fb0; unbinds
# the framebuffer text console; loads vivid and waits for /dev/video0; runs the probe from /
# with stdin /dev/null and its output on the serial console (with --control-socket: in the
# background, sending it the signals named on the control port); prints PROBE-EXIT=<status>;
# powers off.
# Lines the harness prints in the guest start with "[vm-init]" or "=== PROBE-".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export VM_CACHE=${VM_CACHE:-$REPO/target/vm-cache}

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
}
die() {
	echo "run-guest: ERROR: $*" >&2
	exit 125
}
log() { echo "run-guest: $*" >&2; }

arch=${VM_ARCH:-x86_64} binary= timeout_s=240 out= qmp= control= mem=1024 smp=2 cpu= verbose= no_strip= keep_initrd= vivid_opts="n_devs=1"
files=() envs=()
while [ $# -gt 0 ]; do
	case $1 in
	--arch) arch=${2:?--arch needs x86_64 or arm64}; shift 2 ;;
	--binary) binary=${2:?--binary needs a path}; shift 2 ;;
	--timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
	--out) out=${2:?--out needs a directory}; shift 2 ;;
	--qmp-socket) qmp=${2:?--qmp-socket needs a path}; shift 2 ;;
	--control-socket) control=${2:?--control-socket needs a path}; shift 2 ;;
	--file) files+=("${2:?--file needs SRC:DEST}"); shift 2 ;;
	--env) envs+=("${2:?--env needs NAME=VALUE}"); shift 2 ;;
	--vivid-opts) vivid_opts=${2?--vivid-opts needs a value}; shift 2 ;;
	--mem) mem=${2:?--mem needs MB}; shift 2 ;;
	--smp) smp=${2:?--smp needs a count}; shift 2 ;;
	--cpu) cpu=${2:?--cpu needs a model}; shift 2 ;;
	--no-strip) no_strip=1; shift ;;
	--keep-initramfs) keep_initrd=1; shift ;;
	--verbose | -v) verbose=1; shift ;;
	-h | --help) usage ;;
	--) shift; break ;;
	*) echo "run-guest: unknown option $1 (arguments for the probe go after --)" >&2; usage ;;
	esac
done
[ -n "$binary" ] || { echo "run-guest: --binary is required" >&2; usage; }
case $arch in
x86_64 | amd64) arch=x86_64 elf_machine=X86-64 control_tty=/dev/ttyS1 ;;
arm64 | aarch64) arch=arm64 elf_machine=AArch64 control_tty=/dev/ttyAMA1 ;;
*) echo "run-guest: --arch $arch: not x86_64 or arm64" >&2; usage ;;
esac
KDIR=$VM_CACHE/$arch/kernel
[ -f "$binary" ] || die "--binary $binary: no such file"
[[ $timeout_s =~ ^[0-9]+$ ]] || die "--timeout $timeout_s: not a whole number of seconds"
for e in "${envs[@]}"; do
	[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env $e: not NAME=VALUE"
done
case $vivid_opts in *"'"*) die "--vivid-opts must not contain single quotes" ;; esac

t_start=$(date +%s.%N)
VM_QUIET=1 "$HERE/setup.sh" --arch "$arch" ||
	die "setup failed (see above); run tests/vm/setup.sh --arch $arch to retry"

if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/vm-guest.XXXXXX")
else
	mkdir -p "$out"
fi
out=$(cd "$out" && pwd)
log "output in $out"
serial=$out/serial.log
rm -f "$serial" "$out/qemu.log"

# ---------------------------------------------------------------------------------------
# initramfs
# ---------------------------------------------------------------------------------------
root=$out/initramfs.d
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,root,etc,lib/modules}

# The guest's own static busybox (setup.sh put it in the cache); /init links its applets.
cp "$KDIR/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"

cp "$KDIR"/modules/*.ko "$root/lib/modules/"

if command -v readelf >/dev/null 2>&1; then
	machine=$(readelf -h "$binary" 2>/dev/null | sed -n 's/^ *Machine: *//p')
	case $machine in
	*"$elf_machine"*) ;;
	"") die "--binary $binary is not an ELF executable" ;;
	*) die "--binary $binary is for '$machine'; this guest is $arch (--arch)" ;;
	esac
elif [ "$arch" != x86_64 ]; then
	die "readelf is missing (package binutils); an $arch guest needs it to find the binary's libraries"
fi
# Debug builds carry hundreds of MB of DWARF, which would have to fit the guest's RAM:
# drop it (symbols stay, so backtraces still name functions).
strip_tool=strip
[ "$arch" = arm64 ] && strip_tool=aarch64-linux-gnu-strip
if [ -z "$no_strip" ] && command -v "$strip_tool" >/dev/null 2>&1; then
	"$strip_tool" --strip-debug -o "$root/bin/probe" "$binary" 2>/dev/null || cp "$binary" "$root/bin/probe"
else
	[ -n "$no_strip" ] || log "WARNING: $strip_tool is missing: the binary goes in with its debug info" \
		"(install binutils-aarch64-linux-gnu for arm64)"
	cp "$binary" "$root/bin/probe"
fi
chmod 755 "$root/bin/probe"
if [ "$arch" = x86_64 ]; then
	# The shared libraries and the dynamic loader, at the paths ldd names.
	if ldd "$binary" 2>&1 | grep -q 'not found'; then
		die "ldd $binary: $(ldd "$binary" 2>&1 | grep 'not found' | head -n 3 | tr '\n' ' ')"
	fi
	libs=$(ldd "$binary" 2>/dev/null | sed -n -e 's/.*=> \(\/[^ ]*\) (0x.*/\1/p' \
		-e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p' || true)
	for lib in $libs; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
else
	# ldd cannot run a foreign binary: read the loader and the NEEDED libraries from the ELF
	# headers and take them from the cross sysroot, following each library's own NEEDED.
	sysroot=${VM_SYSROOT:-/usr/aarch64-linux-gnu}
	interp=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
	if [ -n "$interp" ]; then
		find_lib() { # name -> path in the sysroot
			local d
			for d in "$sysroot/lib" "$sysroot/usr/lib" "$sysroot/lib/aarch64-linux-gnu" \
				"$sysroot/usr/lib/aarch64-linux-gnu"; do
				[ -e "$d/$1" ] && { echo "$d/$1"; return 0; }
			done
			return 1
		}
		needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]$/\1/p'; }
		loader=$(find_lib "$(basename "$interp")") ||
			die "--binary $binary needs the loader $interp, which is not in $sysroot" \
				"(install libc6-arm64-cross, or set VM_SYSROOT to an aarch64 root file system)"
		mkdir -p "$root$(dirname "$interp")" "$root/lib/aarch64-linux-gnu"
		cp -L "$loader" "$root$interp"
		queue=$(needed "$binary")
		declare -A copied=()
		while [ -n "$queue" ]; do
			next=
			for lib in $queue; do
				[ -z "${copied[$lib]:-}" ] || continue
				copied[$lib]=1
				src=$(find_lib "$lib") ||
					die "--binary $binary needs $lib, which is not in $sysroot" \
						"(install the aarch64 cross package that has it, or set VM_SYSROOT)"
				cp -L "$src" "$root/lib/aarch64-linux-gnu/$lib"
				next+=" $(needed "$src" | tr '\n' ' ')"
			done
			queue=$next
			[ -n "${queue// /}" ] || queue=
		done
	fi
fi

for spec in "${files[@]}"; do
	src=${spec%%:*} dest=${spec#*:}
	[ "$src" != "$spec" ] && [ -n "$dest" ] || die "--file $spec: not SRC:DEST"
	[ -e "$src" ] || die "--file $spec: $src does not exist"
	case $dest in /*) ;; *) dest=/$dest ;; esac
	mkdir -p "$root$(dirname "$dest")"
	cp -a "$src" "$root$dest"
done

shq() { # single-quote for sh
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}
probe_cmd="/bin/probe"
for a in "$@"; do probe_cmd+=" $(shq "$a")"; done
env_lines=
for e in "${envs[@]}"; do env_lines+="export ${e%%=*}=$(shq "${e#*=}")"$'\n'; done

guest_control=
[ -z "$control" ] || guest_control=$control_tty

cat >"$root/init" <<EOF
#!/bin/sh
# Generated by tests/vm/run-guest.sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
/bin/busybox --install -s
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs -o rw sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
hostname vm-guest

log() { echo "[vm-init] \$*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
load() { # name [params...]
	m=\$1
	shift
	insmod "/lib/modules/\$m.ko" "\$@" || log "ERROR: insmod \$m \$* failed"
}
wait_for() { # path seconds
	i=0
	while [ ! -e "\$1" ]; do
		[ \$i -ge \$((\$2 * 20)) ] && return 1
		sleep 0.05
		i=\$((i + 1))
	done
}

log "up at \$(uptime_s)s"
# The control port (--control-socket), opened now so that the UART takes lines from the
# start; clocal first (the open itself would otherwise wait for a carrier), no echo.
ctl=$guest_control
if [ -n "\$ctl" ]; then
	# (A failed exec redirection would end this shell, pid 1: stty shows the port opens.)
	if [ -c "\$ctl" ] && stty -F "\$ctl" clocal -echo && exec 3<"\$ctl"; then
		log "control port \$ctl: each line a signal for the probe"
	else
		log "ERROR: cannot open the control port \$ctl"
		ctl=
	fi
fi
for m in $(tr '\n' ' ' <"$KDIR/display.order"); do load \$m; done
wait_for /dev/fb0 60 || log "WARNING: /dev/fb0 did not appear within 60 s"
for vt in /sys/class/vtconsole/vtcon*; do
	if grep -qi 'frame buffer' "\$vt/name" 2>/dev/null; then
		echo 0 >"\$vt/bind" || log "WARNING: could not unbind \$vt (\$(cat "\$vt/name"))"
	fi
done
for m in $(grep -vx vivid "$KDIR/vivid.order" | tr '\n' ' '); do load \$m; done
load vivid $vivid_opts
wait_for /dev/video0 60 || log "WARNING: /dev/video0 did not appear within 60 s"
log "fb0: \$(cat /sys/class/graphics/fb0/name 2>/dev/null || echo none) \$(cat /sys/class/graphics/fb0/virtual_size 2>/dev/null)," \\
	"video0: \$(cat /sys/class/video4linux/video0/name 2>/dev/null || echo none)"

# The unbound console leaves its last picture (x86: SeaBIOS's text; arm64: the boot log) on
# the screen: clear it.
# One write() for the whole screen: the DRM fbdev emulation loses the damage of a write()
# that covers exactly one full scanline (its clip comes out zero pixels wide), so dd with
# bs=<one line> changes the buffer but never reaches the screen.
if [ -e /dev/fb0 ]; then
	fbh=\$(cut -d, -f2 /sys/class/graphics/fb0/virtual_size)
	fbs=\$(cat /sys/class/graphics/fb0/stride)
	dd if=/dev/zero of=/dev/fb0 bs=\$((fbs * fbh)) count=1 2>/dev/null || log "WARNING: could not clear /dev/fb0"
fi
cd /
$env_lines
echo "=== PROBE-START uptime=\$(uptime_s)"
if [ -n "\$ctl" ]; then
	# In the background, so that the lines from the host can reach it as signals.
	$probe_cmd </dev/null &
	probe=\$!
	(
		while read -r sig <&3; do
			[ -n "\$sig" ] || continue
			case \$sig in
			"sh "*)
				# A shell command for the guest (unplug the camera, fill the disk), run to
				# its end before the next line is read; its output goes to the console.
				log "control: running: \${sig#sh }"
				sh -c "\${sig#sh }"
				log "control: exit \$? at \$(uptime_s)s"
				continue
				;;
			esac
			if kill -s "\$sig" \$probe; then
				log "control: SIG\$sig sent to the probe at \$(uptime_s)s"
			else
				log "control: could not send '\$sig' to the probe"
			fi
		done
	) &
	watcher=\$!
	wait \$probe
	status=\$?
	kill \$watcher 2>/dev/null
else
	$probe_cmd </dev/null
	status=\$?
fi
echo "=== PROBE-END uptime=\$(uptime_s)"
echo "PROBE-EXIT=\$status"
sync
poweroff -f
EOF
chmod 755 "$root/init"

initrd=$out/initramfs.cpio.gz
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet -R 0:0 | gzip -1 >"$initrd") ||
	die "building the initramfs failed"
rm -rf "$root"

# ---------------------------------------------------------------------------------------
# QEMU
# ---------------------------------------------------------------------------------------
case $arch in
x86_64)
	# no_timer_check: on a loaded host, emulated time can stall while the kernel checks the
	# IO-APIC timer at boot, and it then panics ("IO-APIC + timer doesn't work"); seen once
	# in a full test run beside other builds.
	qemu=(qemu-system-x86_64 -accel tcg -cpu "${cpu:-max}" -vga std
		-append "console=ttyS0 quiet panic=-1 mitigations=off no_timer_check")
	;;
arm64)
	# -M virt without firmware: QEMU boots the Image directly with a device tree.
	qemu=(qemu-system-aarch64 -M virt -accel tcg -cpu "${cpu:-cortex-a72}" -device virtio-gpu-pci
		-append "console=ttyAMA0 quiet panic=-1 mitigations=off")
	;;
esac
qemu+=(-m "$mem" -smp "$smp" -display none -nic none -no-reboot
	-kernel "$KDIR/vmlinuz" -initrd "$initrd"
	-serial "file:$serial" -monitor none)
[ -z "$qmp" ] || { rm -f "$qmp"; qemu+=(-qmp "unix:$qmp,server=on,wait=off"); }
# The control port: the guest's second serial port (x86_64 COM2, /dev/ttyS1; arm64 -M virt's
# second PL011, /dev/ttyAMA1), its host end a listening Unix socket.
[ -z "$control" ] || { rm -f "$control"; qemu+=(-serial "unix:$control,server=on,wait=off"); }
printf '%q ' "${qemu[@]}" >"$out/qemu.cmdline"
echo >>"$out/qemu.cmdline"

t_boot=$(date +%s.%N)
tailpid=
if [ -n "$verbose" ]; then
	: >"$serial"
	tail -n +1 -F "$serial" >&2 2>/dev/null &
	tailpid=$!
fi
set +e
timeout -k 5 "$timeout_s" "${qemu[@]}" </dev/null >"$out/qemu.log" 2>&1
qrc=$?
set -e
t_end=$(date +%s.%N)
if [ -n "$tailpid" ]; then
	sleep 0.2
	kill "$tailpid" 2>/dev/null || true
	wait "$tailpid" 2>/dev/null || true
fi
[ -z "$qmp" ] || rm -f "$qmp"
[ -z "$control" ] || rm -f "$control"
[ -n "$keep_initrd" ] || rm -f "$initrd"

touch "$serial"
clean() { tr -d '\r' <"$serial"; }
status=$(clean | sed -n 's/^PROBE-EXIT=\([0-9][0-9]*\)$/\1/p' | tail -n 1)
started=$(clean | sed -n 's/^=== PROBE-START uptime=//p' | tail -n 1)
ended=$(clean | sed -n 's/^=== PROBE-END uptime=//p' | tail -n 1)

# The probe's own output, as the serial console saw it.
clean | sed -n '/^=== PROBE-START/,/^=== PROBE-END/{/^=== PROBE-/d;p}'

fail_tail() {
	[ -z "$verbose" ] || { echo "run-guest: serial log: $serial" >&2; return 0; }
	if [ ! -s "$serial" ]; then
		echo "run-guest: the serial log is empty: the kernel never got to print" \
			"(too little --mem? see $out/qemu.log and $out/qemu.cmdline)" >&2
	fi
	echo "run-guest: ---- last 40 lines of $serial ----" >&2
	clean | tail -n 40 >&2
	if [ -s "$out/qemu.log" ]; then
		echo "run-guest: ---- $out/qemu.log ----" >&2
		tail -n 20 "$out/qemu.log" >&2
	fi
	echo "run-guest: ----" >&2
}

timing=$(awk -v s="$t_start" -v b="$t_boot" -v e="$t_end" -v p="${started:-}" -v q="${ended:-}" 'BEGIN {
	printf "prepare %.1fs, qemu %.1fs", b - s, e - b
	if (p != "") printf " (guest uptime at probe start %.1fs", p
	if (p != "" && q != "") printf ", probe ran %.1fs", q - p
	if (p != "") printf ")"
}')

if [ -n "$status" ]; then
	log "probe exited with $status; $timing"
	if [ "$status" != 0 ] && [ -z "$verbose" ]; then
		# Its output is on stdout already; show how the guest got there.
		echo "run-guest: ---- guest log up to the probe start (full log: $serial) ----" >&2
		clean | sed '/^=== PROBE-START/q' | tail -n 20 >&2
		echo "run-guest: ----" >&2
	fi
	exit "$status"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	log "TIMEOUT: the guest did not finish within ${timeout_s}s; $timing"
	fail_tail
	exit 124
fi
if [ -n "$started" ]; then
	log "the guest stopped while the probe ran, without a PROBE-EXIT line (qemu exit $qrc); $timing"
else
	log "the guest never ran the probe (qemu exit $qrc); $timing"
fi
fail_tail
exit 125
