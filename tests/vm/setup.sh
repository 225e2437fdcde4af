#!/usr/bin/env bash
# Prepares everything tests/vm/run-guest.sh needs to boot an x86_64 QEMU guest with a
# stock Debian kernel, a real V4L2 camera (vivid) and a real /dev/fb0 (bochs DRM, -vga std).
#
# Idempotent: host packages are installed only when missing, and the kernel is fetched and
# unpacked once into $VM_CACHE (default <repo>/target/vm-cache). A warm run takes well
# under a second.
#
# Environment:
#   VM_CACHE=DIR            cache directory (default <repo>/target/vm-cache)
#   VM_KERNEL_PKG=NAME      exact kernel package to use instead of the newest
#                           linux-image-6.12.*-amd64-unsigned apt knows about
#   VM_KERNEL_REFRESH=1     re-fetch the kernel even if one is cached
#   VM_QUIET=1              print nothing on success
#
# Cache layout ($VM_CACHE/kernel):
#   vmlinuz            the kernel image
#   modules/NAME.ko    decompressed modules (NAME as the kernel names it, with underscores)
#   display.order      display modules (bochs and its dependencies), in load order
#   vivid.order        vivid and its dependencies not already in display.order, in load order
#   release            the kernel release (uname -r)
#   package            the Debian package it came from
#   READY              written last; its presence means the directory is complete
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VM_CACHE=${VM_CACHE:-$REPO/target/vm-cache}
KDIR=$VM_CACHE/kernel

# Roots of the two module sets; their dependencies are read from the modules themselves.
DISPLAY_ROOTS=(bochs)
VIVID_ROOTS=(vivid)

log() { [ -n "${VM_QUIET:-}" ] || echo "vm-setup: $*" >&2; }
die() {
	echo "vm-setup: ERROR: $1" >&2
	shift
	for line in "$@"; do echo "vm-setup:   $line" >&2; done
	exit 1
}

mkdir -p "$VM_CACHE" || die "cannot create the cache directory $VM_CACHE" \
	"set VM_CACHE to a writable directory"
# Several run-guest.sh calls may start at once; let one of them do the set-up.
exec 9>"$VM_CACHE/.setup.lock"
flock 9

# ---------------------------------------------------------------------------------------
# Host packages
# ---------------------------------------------------------------------------------------
pkg_installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
need_qemu=
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	need_qemu=1
fi
# busybox-static, not busybox: the guest has no libc for a dynamic busybox.
pkg_installed busybox-static && [ -x /bin/busybox ] || missing+=(busybox-static)
command -v cpio >/dev/null 2>&1 || missing+=(cpio)
command -v xz >/dev/null 2>&1 || missing+=(xz-utils)
command -v gzip >/dev/null 2>&1 || missing+=(gzip)
command -v flock >/dev/null 2>&1 || missing+=(util-linux)
command -v timeout >/dev/null 2>&1 || missing+=(coreutils)
command -v ldd >/dev/null 2>&1 || missing+=(libc-bin)
command -v dpkg-deb >/dev/null 2>&1 || missing+=(dpkg)

# apt's and dpkg's chatter goes to a log, shown only when something fails.
APT_LOG=$VM_CACHE/apt.log
apt_run() { # what-for, command...
	local what=$1
	shift
	log "$what"
	if ! "$@" >>"$APT_LOG" 2>&1; then
		tail -n 25 "$APT_LOG" | sed 's/^/vm-setup:   | /' >&2
		return 1
	fi
}
apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return 0
	apt_run "apt-get update" apt-get update || die "apt-get update failed (full log: $APT_LOG)" \
		"check the network and /etc/apt/sources.list.d/, then re-run $0"
	apt_updated=1
}

codename=$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)

if [ -n "$need_qemu" ] || [ ${#missing[@]} -gt 0 ]; then
	wanted=("${missing[@]}")
	[ -n "$need_qemu" ] && wanted+=(qemu-system-x86)
	command -v apt-get >/dev/null 2>&1 || die "missing: ${wanted[*]}, and there is no apt-get" \
		"install them with your package manager (QEMU >= 7.2 with qemu-system-x86_64)"
	[ "$(id -u)" = 0 ] || die "missing: ${wanted[*]}, and installing them needs root" \
		"run this script as root, or: sudo apt-get install ${wanted[*]}" \
		"(on Debian bookworm, qemu-system-x86 from bookworm-backports: -t bookworm-backports)"
	export DEBIAN_FRONTEND=noninteractive
	qemu_target=()
	if [ -n "$need_qemu" ] && [ "$codename" = bookworm ]; then
		# The stock bookworm QEMU (7.2) cannot be installed next to the backports
		# qemu-utils (10.x) these machines carry, so take QEMU from backports too.
		if ! grep -qs '^[^#]*bookworm-backports' /etc/apt/sources.list \
			/etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
			log "adding bookworm-backports to /etc/apt/sources.list.d/bookworm-backports.sources"
			keyring=/usr/share/keyrings/debian-archive-keyring.gpg
			{
				echo "Types: deb"
				echo "URIs: http://deb.debian.org/debian"
				echo "Suites: bookworm-backports"
				echo "Components: main"
				[ -f "$keyring" ] && echo "Signed-By: $keyring"
			} >/etc/apt/sources.list.d/bookworm-backports.sources
		fi
		qemu_target=(-t bookworm-backports)
	fi
	apt_update
	if [ ${#missing[@]} -gt 0 ]; then
		apt_run "apt-get install ${missing[*]}" \
			apt-get install -y --no-install-recommends "${missing[@]}" ||
			die "apt-get install ${missing[*]} failed (full log: $APT_LOG)" \
				"see apt's message above"
	fi
	if [ -n "$need_qemu" ]; then
		apt_run "apt-get install ${qemu_target[*]} qemu-system-x86 (a minute or so)" \
			apt-get install -y --no-install-recommends "${qemu_target[@]}" qemu-system-x86 ||
			die "apt-get install ${qemu_target[*]} qemu-system-x86 failed (full log: $APT_LOG)" \
				"on bookworm, QEMU must come from bookworm-backports when qemu-utils does" \
				"(apt-cache policy qemu-utils qemu-system-x86 shows which versions are in play)"
	fi
	command -v qemu-system-x86_64 >/dev/null 2>&1 ||
		die "qemu-system-x86_64 is still missing after installing qemu-system-x86"
fi

# ---------------------------------------------------------------------------------------
# Kernel and modules
# ---------------------------------------------------------------------------------------
if [ -f "$KDIR/READY" ] && [ -z "${VM_KERNEL_REFRESH:-}" ] &&
	{ [ -z "${VM_KERNEL_PKG:-}" ] || [ "$(cat "$KDIR/package")" = "$VM_KERNEL_PKG" ]; }; then
	log "ready: kernel $(cat "$KDIR/release"), $(qemu-system-x86_64 --version | head -1)"
	exit 0
fi

newest_kernel_pkg() {
	apt-cache search --names-only '^linux-image-6\.12\.[0-9]+.*-amd64-unsigned$' 2>/dev/null |
		awk '{print $1}' |
		grep -E '^linux-image-6\.12\.[0-9]+\+[A-Za-z0-9.~]+-amd64-unsigned$' |
		sort -V | tail -n 1
}

pkg=${VM_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
	pkg=$(newest_kernel_pkg)
	if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
		apt_update
		pkg=$(newest_kernel_pkg)
	fi
	[ -n "$pkg" ] || die "apt knows no linux-image-6.12.*-amd64-unsigned package" \
		"run apt-get update; on bookworm the 6.12 kernels come from bookworm-security" \
		"(or bookworm-backports); or name one with VM_KERNEL_PKG=..."
fi

debs=$VM_CACHE/debs
mkdir -p "$debs"
deb=$(ls "$debs/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$deb" ]; then
	apt_opts=()
	# Avoids apt's "download is performed unsandboxed as root" warning.
	[ "$(id -u)" = 0 ] && apt_opts=(-o APT::Sandbox::User=root)
	(cd "$debs" && apt_run "apt-get download $pkg (about 100 MB)" \
		apt-get download "${apt_opts[@]}" "$pkg") ||
		die "apt-get download $pkg failed (full log: $APT_LOG)" \
			"check the network; apt-get update may help; apt-cache policy $pkg shows its sources"
	deb=$(ls "$debs/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n 1 || true)
	[ -n "$deb" ] || die "apt-get download $pkg left no .deb in $debs"
fi

log "unpacking $(basename "$deb")"
work=$(mktemp -d "$VM_CACHE/unpack.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg -x "$deb" "$work/x" || die "dpkg -x $deb failed" "delete it and re-run: rm $deb"

new=$work/kernel
mkdir -p "$new/modules"
vmlinuz=$(ls "$work"/x/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
[ -n "$vmlinuz" ] || die "$deb holds no boot/vmlinuz-*"
cp "$vmlinuz" "$new/vmlinuz"
moddir=$(ls -d "$work"/x/lib/modules/*/ "$work"/x/usr/lib/modules/*/ 2>/dev/null | head -n 1 || true)
[ -n "$moddir" ] || die "$deb holds no lib/modules/<release>/"
release=$(basename "$moddir")

# Index every module file by its kernel name (dashes become underscores).
declare -A modfile=()
while IFS= read -r -d '' f; do
	b=$(basename "$f")
	b=${b%.xz}
	b=${b%.zst}
	b=${b%.gz}
	b=${b%.ko}
	modfile[${b//-/_}]=$f
done < <(find "$moddir" -name '*.ko*' -print0)
[ ${#modfile[@]} -gt 0 ] || die "no modules found under $moddir"

decompress() { # src dst
	case $1 in
	*.ko.xz) xz -dc "$1" >"$2" ;;
	*.ko.zst) zstd -qdc "$1" >"$2" ;;
	*.ko.gz) gzip -dc "$1" >"$2" ;;
	*.ko) cp "$1" "$2" ;;
	*) return 1 ;;
	esac
}

# One field of a module's .modinfo section (a list of NUL-terminated key=value strings).
modinfo_field() { # file.ko key
	if command -v modinfo >/dev/null 2>&1; then
		modinfo -F "$2" "$1" 2>/dev/null | head -n 1
	elif command -v objcopy >/dev/null 2>&1; then
		objcopy -O binary --only-section=.modinfo "$1" /dev/stdout 2>/dev/null |
			tr '\0' '\n' | sed -n "s/^$2=//p" | head -n 1
	else
		tr '\0' '\n' <"$1" | sed -n "s/^$2=//p" | head -n 1
	fi
}

declare -A state=() # 1: visiting, 2: done
order=()
visit() {
	local name=${1//-/_}
	case ${state[$name]:-} in
	2) return 0 ;;
	1) die "module dependency cycle through $name" ;;
	esac
	local src=${modfile[$name]:-}
	[ -n "$src" ] || die "module $name is not in $pkg (it may be built into this kernel;" \
		"if so, drop it from the roots in $0)"
	state[$name]=1
	decompress "$src" "$new/modules/$name.ko" || die "cannot decompress $src"
	local deps dep
	deps=$(modinfo_field "$new/modules/$name.ko" depends)
	local soft
	soft=$(modinfo_field "$new/modules/$name.ko" softdep)
	[ -z "$soft" ] || log "note: $name has softdep '$soft' (not loaded)"
	for dep in ${deps//,/ }; do
		visit "$dep"
	done
	state[$name]=2
	order+=("$name")
}

for m in "${DISPLAY_ROOTS[@]}"; do visit "$m"; done
display_order=("${order[@]}")
order=()
for m in "${VIVID_ROOTS[@]}"; do visit "$m"; done
vivid_order=("${order[@]}")

printf '%s\n' "${display_order[@]}" >"$new/display.order"
printf '%s\n' "${vivid_order[@]}" >"$new/vivid.order"
echo "$release" >"$new/release"
echo "$pkg" >"$new/package"
log "display modules: ${display_order[*]}"
log "vivid modules:   ${vivid_order[*]}"

rm -rf "$KDIR.old"
[ -e "$KDIR" ] && mv "$KDIR" "$KDIR.old"
mv "$new" "$KDIR"
rm -rf "$KDIR.old"
date -u +%FT%TZ >"$KDIR/READY"
# Drop .debs of other kernels.
for f in "$debs"/*.deb; do
	[ "$f" = "$deb" ] || rm -f "$f"
done
log "ready: kernel $release from $pkg, $(qemu-system-x86_64 --version | head -1)"
