#!/usr/bin/env bash
# Prepares everything tests/vm/run-guest.sh needs to boot a QEMU guest with a stock Debian
# kernel, a real V4L2 camera (vivid) and a real /dev/fb0: an x86_64 guest (bochs DRM on
# -vga std) or an arm64 guest (-M virt, virtio-gpu DRM on -device virtio-gpu-pci).
#
# usage: tests/vm/setup.sh [--arch x86_64|arm64]     (default: $VM_ARCH, else x86_64)
#
# Idempotent: host packages are installed only when missing, and the kernel is fetched and
# unpacked once into $VM_CACHE/<arch> (default <repo>/target/vm-cache/<arch>). A warm run
# takes well under a second.
#
# Environment:
#   VM_ARCH=x86_64|arm64    guest architecture (amd64 and aarch64 are accepted too)
#   VM_CACHE=DIR            cache directory (default <repo>/target/vm-cache)
#   VM_KERNEL_PKG=NAME      exact kernel package to use instead of the newest
#                           linux-image-6.12.*-<amd64|arm64>-unsigned apt knows about
#   VM_KERNEL_REFRESH=1     re-fetch the kernel even if one is cached
#   VM_QUIET=1              print nothing on success
#
# An arm64 guest's kernel and busybox are arm64 .debs: they come through a private apt state
# in $VM_CACHE/arm64/apt (the host's sources, architecture arm64; no root needed, nothing
# changes on the host: no dpkg --add-architecture).
#
# Cache layout ($VM_CACHE/<arch>/kernel):
#   vmlinuz            the kernel image
#   busybox            a static busybox for the guest
#   modules/NAME.ko    decompressed modules (NAME as the kernel names it, with underscores)
#   display.order      display modules (bochs or virtio_gpu and their dependencies), in load order
#   vivid.order        vivid and its dependencies not already in display.order, in load order
#   release            the kernel release (uname -r)
#   package            the Debian package it came from
#   READY              written last; its presence means the directory is complete
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VM_CACHE=${VM_CACHE:-$REPO/target/vm-cache}

arch=${VM_ARCH:-x86_64}
while [ $# -gt 0 ]; do
	case $1 in
	--arch) arch=${2:?--arch needs x86_64 or arm64}; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2 ;;
	*) echo "vm-setup: unknown argument $1 (usage: $0 [--arch x86_64|arm64])" >&2; exit 2 ;;
	esac
done

# Roots of the two module sets; their dependencies are read from the modules themselves.
case $arch in
x86_64 | amd64)
	arch=x86_64 deb_arch=amd64 qemu_bin=qemu-system-x86_64 qemu_pkg=qemu-system-x86
	DISPLAY_ROOTS=(bochs)
	;;
arm64 | aarch64)
	arch=arm64 deb_arch=arm64 qemu_bin=qemu-system-aarch64 qemu_pkg=qemu-system-arm
	DISPLAY_ROOTS=(virtio_gpu)
	;;
*)
	echo "vm-setup: ERROR: unknown guest architecture '$arch'" >&2
	echo "vm-setup:   use --arch (or VM_ARCH=) x86_64 or arm64" >&2
	exit 2
	;;
esac
VIVID_ROOTS=(vivid)
ADIR=$VM_CACHE/$arch
KDIR=$ADIR/kernel

log() { [ -n "${VM_QUIET:-}" ] || echo "vm-setup ($arch): $*" >&2; }
die() {
	echo "vm-setup: ERROR: $1" >&2
	shift
	for line in "$@"; do echo "vm-setup:   $line" >&2; done
	exit 1
}

mkdir -p "$ADIR" || die "cannot create the cache directory $VM_CACHE" \
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
if ! command -v "$qemu_bin" >/dev/null 2>&1; then
	need_qemu=1
fi
if [ "$arch" = x86_64 ]; then
	# busybox-static, not busybox: the guest has no libc for a dynamic busybox. (An arm64
	# guest gets the arm64 busybox-static .deb, unpacked into the cache.)
	pkg_installed busybox-static && [ -x /bin/busybox ] || missing+=(busybox-static)
	command -v ldd >/dev/null 2>&1 || missing+=(libc-bin)
else
	# run-guest.sh reads a foreign binary's needs with readelf and strips it with the
	# cross strip.
	command -v readelf >/dev/null 2>&1 || missing+=(binutils)
	command -v aarch64-linux-gnu-strip >/dev/null 2>&1 || missing+=(binutils-aarch64-linux-gnu)
fi
command -v cpio >/dev/null 2>&1 || missing+=(cpio)
command -v xz >/dev/null 2>&1 || missing+=(xz-utils)
command -v gzip >/dev/null 2>&1 || missing+=(gzip)
command -v flock >/dev/null 2>&1 || missing+=(util-linux)
command -v timeout >/dev/null 2>&1 || missing+=(coreutils)
command -v dpkg-deb >/dev/null 2>&1 || missing+=(dpkg)

# apt's and dpkg's chatter goes to a log, shown only when something fails.
APT_LOG=$ADIR/apt.log
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
	[ -n "$need_qemu" ] && wanted+=("$qemu_pkg")
	command -v apt-get >/dev/null 2>&1 || die "missing: ${wanted[*]}, and there is no apt-get" \
		"install them with your package manager (QEMU >= 7.2 with $qemu_bin)"
	[ "$(id -u)" = 0 ] || die "missing: ${wanted[*]}, and installing them needs root" \
		"run this script as root, or: sudo apt-get install ${wanted[*]}" \
		"(on Debian bookworm, $qemu_pkg from bookworm-backports: -t bookworm-backports)"
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
		apt_run "apt-get install ${qemu_target[*]} $qemu_pkg (a minute or so)" \
			apt-get install -y --no-install-recommends "${qemu_target[@]}" "$qemu_pkg" ||
			die "apt-get install ${qemu_target[*]} $qemu_pkg failed (full log: $APT_LOG)" \
				"on bookworm, QEMU must come from bookworm-backports when qemu-utils does" \
				"(apt-cache policy qemu-utils $qemu_pkg shows which versions are in play)"
	fi
	command -v "$qemu_bin" >/dev/null 2>&1 ||
		die "$qemu_bin is still missing after installing $qemu_pkg"
fi

# ---------------------------------------------------------------------------------------
# Kernel and modules
# ---------------------------------------------------------------------------------------
if [ -f "$KDIR/READY" ] && [ -z "${VM_KERNEL_REFRESH:-}" ] &&
	{ [ -z "${VM_KERNEL_PKG:-}" ] || [ "$(cat "$KDIR/package")" = "$VM_KERNEL_PKG" ]; }; then
	log "ready: kernel $(cat "$KDIR/release"), $($qemu_bin --version | head -1)"
	exit 0
fi

# apt for the guest's packages: the host's own for an x86_64 guest; for an arm64 guest a
# private state (package lists, cache) under $ADIR/apt with the host's sources and apt
# configuration but architecture arm64, so the host's dpkg architectures stay as they are.
guest_apt=()
guest_apt_cache=(apt-cache)
if [ "$arch" != x86_64 ]; then
	A=$ADIR/apt
	mkdir -p "$A/lists/partial" "$A/archives/partial"
	[ -f "$A/status" ] || : >"$A/status"
	guest_apt=(-o "Dir::State::Lists=$A/lists" -o "Dir::State::status=$A/status"
		-o "Dir::Cache=$A" -o "Dir::Cache::archives=$A/archives"
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
		-o "APT::Architecture=$deb_arch" -o "APT::Architectures::=$deb_arch"
		-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false
		-o Debug::NoLocking=1)
	guest_apt_cache=(apt-cache "${guest_apt[@]}")
fi
# Avoids apt's "download is performed unsandboxed as root" warning.
[ "$(id -u)" = 0 ] && guest_apt+=(-o APT::Sandbox::User=root)
guest_apt_updated=
guest_apt_update() {
	if [ "$arch" = x86_64 ]; then
		apt_update
		return
	fi
	[ -n "$guest_apt_updated" ] && return 0
	apt_run "apt-get update ($deb_arch package lists, in $ADIR/apt)" apt-get "${guest_apt[@]}" update ||
		die "apt-get update for $deb_arch failed (full log: $APT_LOG)" \
			"check the network and the host's /etc/apt/sources.list.d/, then re-run $0 --arch $arch"
	guest_apt_updated=1
}
# The arm64 lists are fetched once (and again with VM_KERNEL_REFRESH=1).
if [ "$arch" != x86_64 ] && { [ -n "${VM_KERNEL_REFRESH:-}" ] ||
	! ls "$ADIR/apt/lists/"*_Packages* >/dev/null 2>&1; }; then
	guest_apt_update
fi

newest_kernel_pkg() {
	"${guest_apt_cache[@]}" search --names-only "^linux-image-6\\.12\\.[0-9]+.*-$deb_arch-unsigned\$" 2>/dev/null |
		awk '{print $1}' |
		grep -E "^linux-image-6\\.12\\.[0-9]+\\+[A-Za-z0-9.~]+-$deb_arch-unsigned\$" |
		sort -V | tail -n 1
}

pkg=${VM_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
	pkg=$(newest_kernel_pkg)
	if [ -z "$pkg" ] && { [ "$(id -u)" = 0 ] || [ "$arch" != x86_64 ]; }; then
		guest_apt_update
		pkg=$(newest_kernel_pkg)
	fi
	[ -n "$pkg" ] || die "apt knows no linux-image-6.12.*-$deb_arch-unsigned package" \
		"run apt-get update; on bookworm the 6.12 kernels come from bookworm-security" \
		"(or bookworm-backports); or name one with VM_KERNEL_PKG=..."
fi

debs=$ADIR/debs
mkdir -p "$debs"
fetch_deb() { # package what-for; prints the .deb's path
	local p=$1 d
	d=$(ls "$debs/${p}_"*"_$deb_arch.deb" 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -z "$d" ]; then
		(cd "$debs" && apt_run "apt-get download $p ($2)" \
			apt-get download "${guest_apt[@]}" "$p:$deb_arch") ||
			die "apt-get download $p:$deb_arch failed (full log: $APT_LOG)" \
				"check the network; VM_KERNEL_REFRESH=1 refreshes the package lists;" \
				"apt-cache policy $p:$deb_arch shows its sources"
		d=$(ls "$debs/${p}_"*"_$deb_arch.deb" 2>/dev/null | sort -V | tail -n 1 || true)
		[ -n "$d" ] || die "apt-get download $p:$deb_arch left no .deb in $debs"
	fi
	echo "$d"
}
deb=$(fetch_deb "$pkg" "about 100 MB")
bb_deb=
[ "$arch" = x86_64 ] || bb_deb=$(fetch_deb busybox-static "the guest's shell, 1 MB")

log "unpacking $(basename "$deb")"
work=$(mktemp -d "$VM_CACHE/unpack.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg -x "$deb" "$work/x" || die "dpkg -x $deb failed" "delete it and re-run: rm $deb"

new=$work/kernel
mkdir -p "$new/modules"
vmlinuz=$(ls "$work"/x/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
[ -n "$vmlinuz" ] || die "$deb holds no boot/vmlinuz-*"
cp "$vmlinuz" "$new/vmlinuz"
if [ -n "$bb_deb" ]; then
	dpkg -x "$bb_deb" "$work/bb" || die "dpkg -x $bb_deb failed" "delete it and re-run: rm $bb_deb"
	[ -f "$work/bb/bin/busybox" ] || die "$bb_deb holds no bin/busybox"
	cp "$work/bb/bin/busybox" "$new/busybox"
else
	cp /bin/busybox "$new/busybox"
fi
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
# The host's objcopy cannot read a foreign architecture's module: then the strings of the
# whole file are searched.
modinfo_field() { # file.ko key
	if command -v modinfo >/dev/null 2>&1 && modinfo "$1" >/dev/null 2>&1; then
		modinfo -F "$2" "$1" 2>/dev/null | head -n 1
	elif command -v objcopy >/dev/null 2>&1 &&
		objcopy -O binary --only-section=.modinfo "$1" "$1.modinfo" 2>/dev/null; then
		tr '\0' '\n' <"$1.modinfo" | sed -n "s/^$2=//p" | head -n 1
		rm -f "$1.modinfo"
	else
		rm -f "$1.modinfo"
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
	[ "$f" = "$deb" ] || [ "$f" = "$bb_deb" ] || rm -f "$f"
done
log "ready: kernel $release from $pkg, $($qemu_bin --version | head -1)"
