#!/usr/bin/env bash
# Install like a Debian service: `make install` (cmake --install with a
# PREFIX and DESTDIR) puts the binaries, man pages made from --help, the
# config as $(sysconfdir)/omtp/omtpd.conf (/etc/omtp for PREFIX=/usr), a
# logrotate snippet and a hardened systemd unit in place, and never
# overwrites an existing config; `make deb` (scripts/deb.sh) builds a .deb
# whose control file, maintainer scripts (system user omtp) and content are
# checked with dpkg-deb, and whose extracted omtpd runs.
set -u
B=$(cd "${1:?build dir}" && pwd)
SRC=${OMTP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
fail=0
tmp=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
has() { [ -e "$2" ] && ok "$1" || bad "$1: $2 missing"; }

# ---- make install PREFIX=/usr/local DESTDIR=...
D=$tmp/local
DESTDIR=$D cmake --install "$B" --prefix /usr/local >"$tmp/install.log" 2>&1 ||
  { bad "cmake --install failed"; cat "$tmp/install.log"; }
for b in omtpd omtp omtp-bench; do
  [ -x "$D/usr/local/bin/$b" ] && ok "bin-$b" || bad "bin-$b: $D/usr/local/bin/$b missing"
done
has conf-local "$D/usr/local/etc/omtp/omtpd.conf"
has logrotate-local "$D/usr/local/etc/logrotate.d/omtpd"
has unit-local "$D/usr/local/lib/systemd/system/omtpd.service"
has man-omtpd "$D/usr/local/share/man/man8/omtpd.8"
has man-omtp "$D/usr/local/share/man/man1/omtp.1"
has man-bench "$D/usr/local/share/man/man1/omtp-bench.1"
has doc-operations "$D/usr/local/share/doc/omtp/operations.md"
grep -q "omtpd user add" "$D/usr/local/share/man/man8/omtpd.8" && ok "man-from-help" ||
  bad "omtpd.8 does not hold omtpd --help"
grep -qx "ExecStart=/usr/local/bin/omtpd --config /usr/local/etc/omtp/omtpd.conf" \
  "$D/usr/local/lib/systemd/system/omtpd.service" && ok "unit-execstart-local" || bad "unit ExecStart for /usr/local"
# the installed config loads, and sets the service's data directory
grep -qx "data_dir = /var/lib/omtp" "$D/usr/local/etc/omtp/omtpd.conf" && ok "conf-data-dir" ||
  bad "the installed config does not set data_dir = /var/lib/omtp"
"$D/usr/local/bin/omtpd" init --config "$D/usr/local/etc/omtp/omtpd.conf" --data-dir "$tmp/v" >/dev/null &&
  ok "conf-loads" || bad "the installed config does not load"
# a second install keeps the operator's config
echo "# edited by the operator" >>"$D/usr/local/etc/omtp/omtpd.conf"
DESTDIR=$D cmake --install "$B" --prefix /usr/local >/dev/null 2>&1
grep -q "edited by the operator" "$D/usr/local/etc/omtp/omtpd.conf" && [ -e "$D/usr/local/etc/omtp/omtpd.conf.new" ] &&
  ok "conf-kept-on-reinstall" || bad "a reinstall overwrote the config (or gave no .new)"

# ---- PREFIX=/usr: /etc/omtp, /usr/lib/systemd/system
U=$tmp/usr
DESTDIR=$U cmake --install "$B" --prefix /usr >/dev/null 2>&1
has conf-etc "$U/etc/omtp/omtpd.conf"
has logrotate-etc "$U/etc/logrotate.d/omtpd"
unit=$U/usr/lib/systemd/system/omtpd.service
has unit-usr "$unit"
for k in "User=omtp" "StateDirectory=omtp" "ExecStart=/usr/bin/omtpd --config /etc/omtp/omtpd.conf" \
  "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" "PrivateDevices=yes" \
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" "LimitNOFILE=65536" "ExecReload=/bin/kill -HUP \$MAINPID"; do
  grep -qxF -- "$k" "$unit" && ok "unit: $k" || bad "unit lacks $k"
done
if command -v systemd-analyze >/dev/null; then
  # verify a copy whose ExecStart points at the staged binary (nothing is
  # installed on this machine); man pages are not installed here either
  mkdir -p "$tmp/verify"
  sed "s|^ExecStart=/usr/bin/omtpd|ExecStart=$U/usr/bin/omtpd|" "$unit" >"$tmp/verify/omtpd.service"
  out=$(systemd-analyze verify "$tmp/verify/omtpd.service" 2>&1 | grep -v "Command 'man omtpd(8)' failed" |
    grep -v "^$" || true)
  [ -z "$out" ] && ok "systemd-analyze-verify" || { bad "systemd-analyze verify:"; echo "$out"; }
fi
if command -v logrotate >/dev/null; then
  # (the user omtp exists only where the package is installed)
  sed "s/create 0640 omtp omtp/create 0640 $(id -un) $(id -gn)/" "$U/etc/logrotate.d/omtpd" >"$tmp/lr.conf"
  logrotate -d -s "$tmp/lr.state" "$tmp/lr.conf" >"$tmp/lr.log" 2>&1 && ok "logrotate-parses" ||
    { bad "logrotate -d failed"; cat "$tmp/lr.log"; }
fi

# ---- make deb
deb=$(bash "$SRC/scripts/deb.sh" "$B" "$tmp/deb" 2>"$tmp/deb.log") || { bad "deb.sh failed"; cat "$tmp/deb.log"; }
if [ -n "$deb" ] && [ -f "$deb" ]; then
  ok "deb-built"
  dpkg-deb -I "$deb" >"$tmp/info" || bad "dpkg-deb -I failed"
  grep -q "^ Package: omtpd" "$tmp/info" && grep -q "^ Depends: .*libuv1" "$tmp/info" &&
    grep -q "^ Depends: .*adduser" "$tmp/info" && ok "deb-control" || { bad "deb control"; cat "$tmp/info"; }
  dpkg-deb -e "$deb" "$tmp/ctl"
  grep -q "adduser --system" "$tmp/ctl/postinst" && ok "deb-postinst-user" || bad "postinst does not create the user"
  grep -qx "/etc/omtp/omtpd.conf" "$tmp/ctl/conffiles" && ok "deb-conffiles" || bad "the config is not a conffile"
  for s in postinst prerm postrm; do sh -n "$tmp/ctl/$s" || bad "$s has a syntax error"; done
  dpkg-deb -c "$deb" >"$tmp/contents"
  for f in ./usr/bin/omtpd ./usr/bin/omtp ./usr/bin/omtp-bench ./etc/omtp/omtpd.conf \
    ./etc/logrotate.d/omtpd ./usr/lib/systemd/system/omtpd.service ./usr/share/man/man8/omtpd.8; do
    grep -q " $f\$" "$tmp/contents" && ok "deb has $f" || bad "deb lacks $f"
  done
  # the packaged binaries run (extracted, not installed)
  dpkg-deb -x "$deb" "$tmp/x"
  "$tmp/x/usr/bin/omtpd" --help | grep -q "Examples:" && ok "deb-omtpd-help" || bad "the packaged omtpd --help"
  "$tmp/x/usr/bin/omtpd" --config "$tmp/x/etc/omtp/omtpd.conf" --data-dir "$tmp/xdata" \
    --listen 127.0.0.1:0 --port-file "$tmp/xport" --log-level warn 2>"$tmp/x.log" &
  PID=$!
  for _ in $(seq 1 100); do [ -s "$tmp/xport" ] && break; sleep 0.1; done
  [ -s "$tmp/xport" ] && ok "deb-omtpd-starts" || { bad "the packaged omtpd does not start"; cat "$tmp/x.log"; }
fi
exit $fail
