#!/bin/sh
# Build a distroless-style root folder from Debian packages (no package
# manager, no shell), the way the real gcr.io/distroless images are made:
# resolve the dependency closure, `dpkg-deb -x` every package into OUT, add
# users, /tmp, /home/nonroot and the CA bundle. Runs inside a debian build
# stage with BuildKit cache mounts on the apt cache and lists.
# Usage: sh mkroot.sh OUT PACKAGE...
set -eu
out=$1; shift
export DEBIAN_FRONTEND=noninteractive

# Packages never put into a distroless root: shells, package tooling and the
# helpers of maintainer scripts (which never run here). They are marked as
# installed in a fake dpkg status, so the resolver neither picks them nor
# follows their dependencies; everything else is resolved as if nothing were
# installed (so Essential packages are not assumed present).
exclude="dash bash debconf perl-base dpkg tar mawk coreutils debianutils
sensible-utils util-linux adduser passwd login install-info libpam-runtime
libpam-modules libpam-modules-bin libpam0g libdebconfclient0 libc-bin"

if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then apt-get update -q; fi
status=/tmp/mkroot.status
fake_status() {
    # identity fields only, with a version of their own: a record that shared
    # its version with the archive would inherit the archive's Depends
    apt-cache show --no-all-versions $exclude | awk '
        /^(Package|Architecture|Provides|Multi-Arch):/ { print; next }
        /^$/ { print "Version: 999:0"; print "Status: install ok installed"; print ""; next }'
}
fake_status >"$status" || { apt-get update -q; fake_status >"$status"; }
APT_STATUS="-o Dir::State::status=$status"
sim() { apt-get -s $APT_STATUS install --no-install-recommends "$@"; }
plan=$(sim "$@") || { apt-get update -q; plan=$(sim "$@"); }
apt-get install -y -q --download-only $APT_STATUS --no-install-recommends "$@" >/dev/null

mkdir -p "$out/var/lib/dpkg/status.d"
# "Inst libc6 (2.36-9+deb12u10 Debian:12.11/stable [amd64]) []" -> libc6 2.36-9+deb12u10 amd64
echo "$plan" | sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*\[\([^]]*\)\]).*/\1 \2 \3/p' |
while read -r pkg ver arch; do
    deb=/var/cache/apt/archives/${pkg}_$(echo "$ver" | sed 's/:/%3a/')_${arch}.deb
    [ -f "$deb" ] || { echo "mkroot: missing $deb" >&2; exit 1; }
    echo "mkroot: add $pkg $ver"
    dpkg-deb -x "$deb" "$out"
    # package metadata where scanners look for it in distroless images
    dpkg-deb -f "$deb" >"$out/var/lib/dpkg/status.d/$pkg"
done

# users and groups of the real distroless images
mkdir -p "$out/etc" "$out/root" "$out/home/nonroot" "$out/tmp"
cat >"$out/etc/passwd" <<'P'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
P
cat >"$out/etc/group" <<'G'
root:x:0:
tty:x:5:
staff:x:50:
nobody:x:65534:
nonroot:x:65532:
G
printf 'hosts: files dns\n' >"$out/etc/nsswitch.conf"
chmod 700 "$out/root"
chmod 1777 "$out/tmp"
chown 65532:65532 "$out/home/nonroot"

# CA trust (this machine's network: the bundle includes the egress CA; the
# extra CAs sit in /usr/local/share/ca-certificates like in the other images)
mkdir -p "$out/etc/ssl/certs" "$out/usr/local/share/ca-certificates"
cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
for c in /usr/local/share/ca-certificates/*.crt; do
    [ -e "$c" ] && cp "$c" "$out/usr/local/share/ca-certificates/"
done

# no docs, man pages or translations (distroless keeps copyright files only)
rm -rf "$out/usr/share/man" "$out/usr/share/info" "$out/usr/share/lintian" \
       "$out/usr/share/locale" "$out/usr/share/bug"
find "$out/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
find "$out/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true

# no shell, whatever the closure brought in
for d in bin sbin usr/bin usr/sbin; do
    for s in sh bash dash rbash ash zsh busybox; do
        if [ -e "$out/$d/$s" ] || [ -L "$out/$d/$s" ]; then
            echo "mkroot: a shell ended up in the root: /$d/$s" >&2; exit 1
        fi
    done
done
echo "mkroot: $(du -sh "$out" | cut -f1) in $out"
