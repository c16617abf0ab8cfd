#!/usr/bin/env bash
# Build the grid lab node image from Debian packages (no registry needed) and import it into podman.
#
#   images/node/build.sh [--force]    build unless the tag exists (--force: always)
#   images/node/build.sh --ref        only print the reference the current recipe builds (no podman call)
#
# Tag: localhost/grid-node:<recipe hash> (+ localhost/grid-node:latest). The recipe hash covers every file of
# this directory, so any recipe change gives a new tag; an existing tag is not rebuilt unless --force.
# Prints the image reference on stdout (last line). Needs root, debootstrap, podman.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
suite="bookworm"
name="${GRID_NODE_IMAGE_NAME:-localhost/grid-node}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/src/grid/drivers/data/containers.conf}"

force=0
ref_only=0
case "${1:-}" in
    --force) force=1 ;;
    --ref) ref_only=1 ;;
    "") ;;
    *) echo "usage: $0 [--force|--ref]" >&2; exit 2 ;;
esac

# The stand-in device tools (templates/standins: lab nodes have no accelerators) are part of the recipe.
standins="$repo/templates/standins"

recipe_hash() {
    # Content of the recipe files and the stand-ins (sorted by name) plus the suite; not the mirror, which is
    # only a transport.
    (cd "$here" && for f in $(ls -1 | LC_ALL=C sort); do [ -f "$f" ] && { echo "== $f"; cat "$f"; }; done
     cd "$standins" && for f in $(ls -1 | LC_ALL=C sort); do [ -f "$f" ] && { echo "== standins/$f"; cat "$f"; }; done
     echo "== suite $suite") | sha256sum | cut -c1-12
}

# The Debian mirror this machine's apt already uses (first deb source carrying the suite; deb822 or one-line).
debian_mirror() {
    local f uris suites line
    shopt -s nullglob
    for f in /etc/apt/sources.list.d/*.sources; do
        uris=""; suites=""
        while IFS= read -r line || [ -n "$line" ]; do
            case "$line" in
                URIs:*) uris="${line#URIs:}" ;;
                Suites:*) suites="${line#Suites:}" ;;
                "") if [[ " $suites " == *" $suite "* ]] && [ -n "$uris" ]; then echo $uris | awk '{print $1}'; return; fi
                    uris=""; suites="" ;;
            esac
        done < "$f"
        if [[ " $suites " == *" $suite "* ]] && [ -n "$uris" ]; then echo $uris | awk '{print $1}'; return; fi
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v s="$suite" '$1=="deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1)==s) { print $i; exit } }' "$f"
    done | head -n1
}

hash="$(recipe_hash)"
ref="$name:$hash"
if [ "$ref_only" = 1 ]; then
    echo "$ref"
    exit 0
fi

if [ "$force" = 0 ] && podman image exists "$ref"; then
    podman tag "$ref" "$name:latest"
    echo "$ref"
    exit 0
fi

mirror="$(debian_mirror)"
if [ -z "$mirror" ]; then
    echo "build.sh: no Debian mirror for '$suite' found in /etc/apt/sources.list(.d)" >&2
    exit 1
fi

packages="$(grep -v '^[[:space:]]*#' "$here/packages.txt" | tr -s ' \n' '\n' | grep -v '^$' | paste -sd, -)"
# Downloaded .debs, kept across builds and across clones of the repo on this machine.
cache="${GRID_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/grid}/debootstrap"
mkdir -p "$cache"
work="$(mktemp -d /var/tmp/grid-node.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"

echo "build.sh: debootstrap $suite from $mirror (+ $packages)" >&2
debootstrap --variant=minbase --cache-dir="$cache" --include="$packages" "$suite" "$root" "$mirror" \
    > "$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# sshd: own drop-in, no host keys baked in (grid-node-init makes one per container at start).
install -m 0644 "$here/sshd_config" "$root/etc/ssh/sshd_config.d/grid.conf"
rm -f "$root"/etc/ssh/ssh_host_*
install -m 0755 "$here/grid-node-init" "$root/usr/local/sbin/grid-node-init"
install -d -m 0700 "$root/root/.ssh"
# The stand-in device tools, on PATH by their vendors' names; they read the node's declared accelerators from
# /etc/grid/node.json (grid's node facts) and faults from /etc/grid/faults (templates/standins/README.md).
install -d -m 0755 "$root/usr/local/lib/grid-standins"
for f in "$standins"/*; do
    [ -f "$f" ] || continue  # __pycache__ of a local run
    tool="$(basename "$f")"
    case "$tool" in
        README.md) ;;
        *.py) install -m 0644 "$f" "$root/usr/local/lib/grid-standins/$tool" ;;
        *) install -m 0755 "$f" "$root/usr/local/lib/grid-standins/$tool"
           ln -s "../lib/grid-standins/$tool" "$root/usr/local/bin/$tool" ;;
    esac
done
# root: no password, but not "locked" ('!'), which sshd would refuse even for keys with UsePAM no.
chroot "$root" usermod -p '*' root
# podman sets the hostname; nodes run with --no-hosts, so /etc/hosts is the node's own (Ansible may rewrite it).
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
rm -f "$root/etc/hostname"
# The munge package makes a key at install time: the same in every container of the image. grid's slurm role
# copies the cluster's own key (the work directory's secrets), so none is baked in.
rm -f "$root/etc/munge/munge.key"
: > "$root/etc/machine-id"
# Keep the image small: no package caches or lists, no docs/man pages.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*

tar --numeric-owner --xattrs -C "$root" -c . \
    | podman import \
        --change 'CMD ["/usr/local/sbin/grid-node-init"]' \
        --change "LABEL grid.node.recipe=$hash" \
        --change 'STOPSIGNAL SIGTERM' \
        --message "grid node image, recipe $hash" \
        - "$ref" >/dev/null 2>"$work/import.log" || { cat "$work/import.log" >&2; exit 1; }
podman tag "$ref" "$name:latest"
# Drop images of older recipes that no container uses any more (podman refuses to remove used ones).
for old in $(podman images --filter "reference=$name" --format '{{.Repository}}:{{.Tag}}'); do
    case "$old" in "$ref"|"$name:latest") ;; *) podman rmi "$old" >/dev/null 2>&1 || true ;; esac
done
echo "$ref"
