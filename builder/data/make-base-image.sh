#!/usr/bin/env bash
# Make the local Debian base image that builds and tests start FROM (no registry needed).
# Run by `builder base-image` (and scripts/make-base-image); the docker client is $BUILDER_DOCKER.
#
#   BUILDER_DOCKER=/usr/bin/docker bash make-base-image.sh [NAME:TAG]   (default: builder-debian:bookworm)
#
# An image of that name that already exists is reused. Otherwise `debootstrap --variant=minbase`
# lays out Debian bookworm with python3, python3-venv and ca-certificates from the Debian
# mirror that this machine's apt is configured with, and `docker import` turns it into the
# image. Either way the image is then proved: python3 imports ssl and creates a venv with pip
# (python3-venv), and a BuildKit build FROM it reads a `--secret` through
# `RUN --mount=type=secret` (built-in Dockerfile frontend, `--network host`).
# Progress goes to stderr; the last line of stdout is "built NAME" or "reused NAME". Exit 1 on failure.
set -euo pipefail

readonly SUITE=bookworm
readonly PACKAGES=python3,python3-venv,ca-certificates
readonly KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
readonly IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
NAME=${1:-builder-debian:bookworm}
readonly NAME

say() { printf 'make-base-image: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

WORK_DIR=
# debootstrap mounts /proc and /sys inside the target: unmount before deleting, and never
# delete across a file system boundary.
cleanup() {
    [[ -n $WORK_DIR && -d $WORK_DIR ]] || return 0
    awk -v dir="$WORK_DIR/" 'index($2, dir) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r mount; do umount -l "$mount" || true; done
    rm -rf --one-file-system "$WORK_DIR"
}
trap cleanup EXIT

# The first URI that apt uses for Debian's $SUITE suite with the main component:
# deb822 *.sources files first, then one-line sources.list files.
debian_mirror() {
    local f
    {
        for f in /etc/apt/sources.list.d/*.sources; do
            if [[ -f $f ]]; then deb822_mirrors "$f"; fi
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            if [[ -f $f ]]; then one_line_mirrors "$f"; fi
        done
    } | grep -E '^(https?|ftp|file)://' | head -n 1
}

deb822_mirrors() {
    awk -v suite="$SUITE" '
        function has(list, word) { return (" " list " ") ~ (" " word " ") }
        BEGIN { RS = ""; FS = "\n" }
        {
            delete field; key = ""
            for (i = 1; i <= NF; i++) {
                line = $i
                if (line ~ /^#/) continue
                if (line ~ /^[ \t]/ && key != "") { field[key] = field[key] " " line; continue }
                key = tolower(substr(line, 1, index(line, ":") - 1))
                field[key] = substr(line, index(line, ":") + 1)
            }
            for (k in field) gsub(/[ \t]+/, " ", field[k])
            if (tolower(field["enabled"]) ~ /no/) next
            if (has(field["types"], "deb") && has(field["suites"], suite) &&
                has(field["components"], "main")) {
                n = split(field["uris"], uris, " ")
                for (u = 1; u <= n; u++) if (uris[u] != "") { print uris[u]; break }
            }
        }' "$1"
}

one_line_mirrors() {
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$1" |
        awk -v suite="$SUITE" '$1 == "deb" && $3 == suite {
            for (i = 4; i <= NF; i++) if ($i == "main") { print $2; break }
        }'
}

apt_install() { # apt_install PKG...: update the lists only if a package has no candidate
    local log=$WORK_DIR/apt.log pkg
    for pkg in "$@"; do
        if ! apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [^(]'; then
            apt-get update -q >"$log" 2>&1 || { tail -n 20 "$log" >&2; return 1; }
            break
        fi
    done
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
        >"$log" 2>&1 || { tail -n 20 "$log" >&2; return 1; }
}

# debootstrap fetches with wget, which does not read apt's proxy setting.
export_apt_proxy() {
    local proxy
    proxy=$(apt-config dump --format '%v%n' Acquire::http::Proxy 2>/dev/null || true)
    if [[ -n $proxy && -z ${http_proxy:-} ]]; then export http_proxy=$proxy; fi
}

debootstrap_rootfs() {
    local mirror=$1 root=$WORK_DIR/root
    if ! debootstrap --variant=minbase --include="$PACKAGES" --keyring="$KEYRING" \
        "$SUITE" "$root" "$mirror" >"$WORK_DIR/debootstrap.log" 2>&1; then
        tail -n 20 "$WORK_DIR/debootstrap.log" >&2
        grep -h . "$root/debootstrap/debootstrap.log" 2>/dev/null | tail -n 20 >&2 || true
        die "debootstrap of Debian $SUITE from $mirror failed (log above)"
    fi
    # Package lists and downloaded .debs are stale the moment the image exists.
    rm -rf "${root:?}"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb \
        "$root"/var/cache/apt/*.bin
}

build_image() {
    local started=$SECONDS mirror
    ((EUID == 0)) || die "making $NAME needs root (apt-get, debootstrap): run it as root, e.g. with sudo"
    if ! command -v debootstrap >/dev/null; then
        apt_install debootstrap || die "cannot install debootstrap with apt-get"
    fi
    mirror=$(debian_mirror) ||
        die "no apt source for Debian $SUITE (main) in /etc/apt to use as debootstrap's mirror"
    export_apt_proxy
    say "debootstrap: Debian $SUITE ($PACKAGES) from $mirror, about a minute"
    debootstrap_rootfs "$mirror"
    tar --numeric-owner -C "$WORK_DIR/root" -c . |
        "$DOCKER" import --change "ENV PATH=$IMAGE_PATH" --change 'CMD ["/bin/bash"]' \
            - "$NAME" >/dev/null || die "docker import of the $SUITE root file system failed"
    say "image: built $NAME from $mirror in $((SECONDS - started))s ($(image_size))"
}

image_size() {
    "$DOCKER" image inspect --format '{{.Size}}' "$NAME" | awk '{ printf "%d MB", $1 / 1e6 }'
}

verify_python() {
    local out
    if ! out=$("$DOCKER" run --rm --network none "$NAME" \
        sh -c "python3 -c 'import ssl, venv' && python3 -m venv /tmp/probe-venv" 2>&1); then
        say "$out"
        die "$NAME cannot import ssl and venv and create a venv with pip in python3" \
            "(the image needs Debian's python3, python3-venv and ca-certificates)"
    fi
}

# A BuildKit build FROM the image whose RUN reads a secret mount; the built image is removed.
verify_secret_build() {
    local dir probe=builder-base-image-probe:secret
    dir=$(mktemp -d "$WORK_DIR/probe.XXXXXX")
    mkdir "$dir/ctx"
    printf 'ok' >"$dir/secret"
    # shellcheck disable=SC2016 # $(cat ...) is for the RUN shell, not this one
    printf 'FROM %s\n%s\n' "$NAME" \
        'RUN --mount=type=secret,id=probe test "$(cat /run/secrets/probe)" = ok' \
        >"$dir/ctx/Dockerfile"
    local -a build=("$DOCKER" build)
    if "$DOCKER" buildx version >/dev/null 2>&1; then build=("$DOCKER" buildx build --load); fi
    if ! DOCKER_BUILDKIT=1 "${build[@]}" --progress=plain --no-cache --network host \
        --secret "id=probe,src=$dir/secret" -t "$probe" "$dir/ctx" >"$dir/log" 2>&1; then
        tail -n 20 "$dir/log" >&2
        die "$DOCKER cannot build FROM $NAME with BuildKit and a secret mount" \
            "(needs the buildx plugin or Debian's docker.io 20.10 client; see log above)"
    fi
    "$DOCKER" image rm "$probe" >/dev/null
}

main() {
    WORK_DIR=$(mktemp -d /var/tmp/builder-base-image.XXXXXX)
    DOCKER=${BUILDER_DOCKER:-}
    [[ -n $DOCKER ]] || die "set BUILDER_DOCKER to a BuildKit-capable docker client (scripts/provision-docker prints one)"
    local outcome=built
    if "$DOCKER" image inspect "$NAME" >/dev/null 2>&1; then
        outcome=reused
        say "image: reused $NAME ($(image_size))"
    else
        build_image
    fi
    verify_python
    verify_secret_build
    say "verified: $NAME creates a python3 venv and builds with a BuildKit secret via $DOCKER"
    echo "$outcome $NAME"
}

main "$@"
