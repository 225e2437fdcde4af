#!/usr/bin/env bash
# Builds comicbooth_<version>_<arch>.deb from already-built binaries, with dpkg-deb only (no
# cargo-deb to install). Usage:
#   packaging/build-deb.sh --target aarch64-unknown-linux-gnu [--profile dist] [--out DIR]
# The binaries are taken from target/<target>/<profile>/ (host target: target/<profile>/).
set -euo pipefail
cd "$(dirname "$0")/.."

target="" profile="dist" out="target/deb"
while [ $# -gt 0 ]; do
	case "$1" in
	--target) target="$2"; shift 2 ;;
	--profile) profile="$2"; shift 2 ;;
	--out) out="$2"; shift 2 ;;
	*) echo "build-deb.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
case "$target" in
aarch64-unknown-linux-gnu) arch=arm64 strip=aarch64-linux-gnu-strip bindir="target/$target/$profile" ;;
armv7-unknown-linux-gnueabihf) arch=armhf strip=arm-linux-gnueabihf-strip bindir="target/$target/$profile" ;;
"" | x86_64-unknown-linux-gnu) arch=amd64 strip=strip bindir="target/${target:+$target/}$profile" ;;
*) echo "build-deb.sh: no Debian architecture known for $target" >&2; exit 2 ;;
esac
# The dev profile writes to target/debug.
[ "$profile" = dev ] && bindir="${bindir%/dev}/debug"
for b in comicbooth comicbooth-camtest; do
	[ -x "$bindir/$b" ] || { echo "build-deb.sh: $bindir/$b is missing; fix: cargo build --profile $profile --features booth ${target:+--target $target}" >&2; exit 1; }
done
command -v "$strip" >/dev/null || strip=true

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -D -m 755 "$bindir/comicbooth" "$root/usr/bin/comicbooth"
install -D -m 755 "$bindir/comicbooth-camtest" "$root/usr/bin/comicbooth-camtest"
"$strip" "$root/usr/bin/comicbooth" "$root/usr/bin/comicbooth-camtest" 2>/dev/null || true
install -D -m 644 systemd/comicbooth.service "$root/lib/systemd/system/comicbooth.service"
# The take-home server: installed, not enabled (it needs [share] set first).
install -D -m 644 systemd/comicbooth-share.service "$root/lib/systemd/system/comicbooth-share.service"
install -D -m 644 src/default-config.toml "$root/etc/comicbooth/comicbooth.toml"
for f in models/*.onnx models/*.toml; do install -D -m 644 "$f" "$root/usr/share/comicbooth/$f"; done
install -D -m 644 README.md "$root/usr/share/doc/comicbooth/README.md"
install -D -m 644 LICENSE "$root/usr/share/doc/comicbooth/copyright"
# The comic font built into the binary, with its licence (SIL OFL 1.1 asks for both to travel).
install -D -m 644 assets/fonts/OFL.txt "$root/usr/share/doc/comicbooth/fonts/OFL.txt"
install -D -m 644 assets/fonts/SOURCES.md "$root/usr/share/doc/comicbooth/fonts/SOURCES.md"
install -D -m 644 assets/photos/SOURCES.md "$root/usr/share/doc/comicbooth/PHOTO-SOURCES.md"
install -d "$root/DEBIAN"
size=$(du -sk "$root" | cut -f1)
# A build with MP4 (feature mp4) links OpenH264's C++ code, so it needs the C++ runtime.
depends=""
if readelf -d "$root/usr/bin/comicbooth" | grep -q 'NEEDED.*libstdc++'; then depends=", libstdc++6"; fi
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
	packaging/debian/control >"$root/DEBIAN/control"
install -m 644 packaging/debian/conffiles "$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 755 "packaging/debian/$s" "$root/DEBIAN/$s"; done
mkdir -p "$out"
deb="$out/comicbooth_${version}_${arch}.deb"
# DEB_COMPRESSION=gzip makes test packages quick; releases use xz.
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$root" "$deb" >/dev/null
echo "$deb"
