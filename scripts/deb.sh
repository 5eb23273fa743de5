#!/usr/bin/env bash
# make deb: builds omtpd_VERSION_ARCH.deb from a built tree with dpkg-deb.
#   bash scripts/deb.sh BUILD_DIR [OUT_DIR]
# Installs the build into a staging tree with prefix /usr (cmake --install
# --strip: /usr/bin, /etc/omtp, /usr/lib/systemd/system, man pages, docs),
# adds DEBIAN/control (dependencies from dpkg-shlibdeps when available, else
# from the libraries the binaries link), conffiles and the maintainer scripts
# of packaging/debian (they create the system user omtp), and packs it.
set -euo pipefail
BUILD=${1:?usage: scripts/deb.sh BUILD_DIR [OUT_DIR]}
OUT=${2:-$BUILD}
SRC=$(cd "$(dirname "$0")/.." && pwd)
command -v dpkg-deb >/dev/null || { echo "deb.sh: dpkg-deb not found (Debian's dpkg)" >&2; exit 1; }
[ -x "$BUILD/omtpd" ] || { echo "deb.sh: $BUILD/omtpd not found: build first (make build)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
DESTDIR=$root cmake --install "$BUILD" --prefix /usr --strip >/dev/null

version=$(head -1 "$BUILD/packaging/version" 2>/dev/null || true) # cmake/install.cmake
case $version in [0-9]*) ;; *) version=0.0.0+git$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo 0) ;; esac
version=${version//-/+} # a Debian upstream version without a revision
arch=$(dpkg --print-architecture)

# shared libraries the binaries need -> packages
deps=""
if command -v dpkg-shlibdeps >/dev/null; then
  mkdir -p "$stage/debian"
  printf 'Source: omtp\n\nPackage: omtpd\nArchitecture: any\n' >"$stage/debian/control"
  deps=$(cd "$stage" && dpkg-shlibdeps -O -e"root/usr/bin/omtpd" -e"root/usr/bin/omtp" \
    -e"root/usr/bin/omtp-bench" 2>/dev/null | sed -n 's/^shlibs:Depends=//p' || true)
fi
if [ -z "$deps" ]; then
  deps=$(for b in "$root"/usr/bin/*; do ldd "$b"; done | awk '/=> \//{print $3}' | sort -u |
    while read -r lib; do dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null; done |
    cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
fi
[ -n "$deps" ] || deps="libc6"

mkdir -p "$root/DEBIAN"
size=$(du -sk "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$deps/" -e "s/@SIZE@/$size/" \
  "$SRC/packaging/debian/control.in" >"$root/DEBIAN/control"
printf '/etc/omtp/omtpd.conf\n/etc/logrotate.d/omtpd\n' >"$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do
  install -m 0755 "$SRC/packaging/debian/$s" "$root/DEBIAN/$s"
done
mkdir -p "$OUT"
deb=$OUT/omtpd_${version}_${arch}.deb
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
