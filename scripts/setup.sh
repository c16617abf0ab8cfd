#!/usr/bin/env bash
# Install everything the project needs on this machine (Debian 12, root), idempotently; fast when warm.
#
#   scripts/setup.sh            then:  source scripts/env.sh
#
# Steps (one line each):
#   apt      Debian packages (apt-get update + install only when dpkg says one is missing)
#   venv     .venv with `pip install -e '.[dev,cloud]'` (again only when pyproject.toml changed)
#   pulumi   the Pulumi CLI built from Go modules into .tools/bin (tools/pulumi pins the version), plus the
#            dynamic-provider scripts; skipped when the pinned build exists or a pulumi is already on PATH
#   opa      the OPA CLI (Rego policy packs) built from Go modules into .tools/bin (tools/opa pins the version);
#            skipped when the pinned build exists
#   podman   checks podman with the project's containers.conf (src/grid/drivers/data/containers.conf)
#   image    the node image localhost/grid-node:<recipe hash> from images/node/ (built once per recipe)
# Environment: PYTHON (default python3), GRID_SETUP_SKIP (space-separated step names to skip).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
mkdir -p .tools/bin .cache
skip=" ${GRID_SETUP_SKIP:-} "

# One setup at a time on this checkout (a second one waits instead of starting a second Go build).
exec 9>"$repo/.tools/setup.lock"
flock 9

t_start=$(date +%s%N)
step_t=$t_start
say() { # say STEP MESSAGE — one line per step, with the step's wall time
    local now; now=$(date +%s%N)
    printf 'setup: %-7s %s (%.1fs)\n' "$1" "$2" "$(( (now - step_t) / 1000000 ))e-3"
    step_t=$now
}
skipped() { [[ "$skip" == *" $1 "* ]] && { say "$1" "skipped (GRID_SETUP_SKIP)"; return 0; }; return 1; }
fail() { echo "setup: $1: $2" >&2; exit 1; }

# --- apt ---------------------------------------------------------------------------------------------
# netavark + iptables explicitly: with --no-install-recommends apt could pick CNI as the network stack.
APT_PACKAGES=(podman runc netavark aardvark-dns iptables conmon debootstrap graphviz postgresql uidmap slirp4netns
              fuse-overlayfs openssh-client
              iproute2 iputils-ping git make python3-venv ca-certificates
              prometheus)  # for promtool: the agent's /metrics is checked with `promtool check metrics`
if ! skipped apt; then
    missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || missing+=("$pkg")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say apt "all ${#APT_PACKAGES[@]} packages present"
    else
        [ "$(id -u)" = 0 ] || fail apt "missing ${missing[*]}; run as root"
        log="$repo/.cache/apt.log"
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}"; } >"$log" 2>&1 || { tail -n 20 "$log" >&2; fail apt "install failed (log: $log)"; }
        say apt "installed ${missing[*]}"
    fi
fi

# --- venv --------------------------------------------------------------------------------------------
if ! skipped venv; then
    python="${PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        "$python" -m venv .venv || fail venv "python3 -m venv failed"
    fi
    want="$(sha256sum < pyproject.toml | cut -d' ' -f1) $(.venv/bin/python -c 'import sys; print(sys.version.split()[0])')"
    stamp=.venv/.grid-install.sha256
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        say venv ".venv up to date"
    else
        log="$repo/.cache/pip-install.log"
        { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e '.[dev,cloud]'; } \
            >"$log" 2>&1 || { tail -n 30 "$log" >&2; fail venv "pip install failed (log: $log)"; }
        echo "$want" > "$stamp"
        say venv "installed -e '.[dev,cloud]' into .venv"
    fi
    # Where PYTHONDONTWRITEBYTECODE is set (as on this machine) Python never caches grid's bytecode and every
    # `grid` recompiles its modules (0.15-0.2 s a run): compile them once, as installing a wheel does. Stale
    # files are only recompiled in memory, so an edit is never missed; this recompiles just what changed.
    .venv/bin/python -m compileall -q -j 0 src cli stacks >/dev/null || fail venv "compileall of src cli stacks failed"
fi

# --- pulumi ------------------------------------------------------------------------------------------
if ! skipped pulumi; then
    version="$(awk '$1 == "require" { $1 = "" ; $0 = $0 }
                    $1 == "github.com/pulumi/pulumi/pkg/v3" { print $2; exit }' tools/pulumi/go.mod)"
    [ -n "$version" ] || fail pulumi "no github.com/pulumi/pulumi/pkg/v3 requirement in tools/pulumi/go.mod"
    bin="$repo/.tools/bin"
    # A pulumi on PATH other than ours (an official install) is used as it is: it ships its own scripts.
    other="$(PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$bin" | paste -sd: -)" command -v pulumi || true)"
    if [ -x "$bin/pulumi" ] && [ "$("$bin/pulumi" version 2>/dev/null)" = "$version" ]; then
        msg="$bin/pulumi $version present"
    elif [ -n "$other" ] && [ ! -e "$bin/pulumi" ]; then
        msg="using $other $("$other" version 2>/dev/null || echo '(no version)') from PATH"
    else
        go="$(command -v go || echo /usr/local/go/bin/go)"
        [ -x "$go" ] || fail pulumi "go is needed to build the Pulumi CLI and is not installed"
        echo "setup: pulumi  building the Pulumi CLI $version from Go modules (minutes when the Go caches are cold)" >&2
        log="$repo/.cache/pulumi-build.log"
        (cd tools/pulumi && "$go" build -o "$bin/pulumi.partial" \
            -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
            github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) >"$log" 2>&1 \
            || { tail -n 30 "$log" >&2; fail pulumi "go build failed (log: $log)"; }
        mv -f "$bin/pulumi.partial" "$bin/pulumi"
        [ "$("$bin/pulumi" version)" = "$version" ] || fail pulumi "built binary does not report $version"
        msg="built $bin/pulumi $version"
    fi
    # Python dynamic providers need pulumi-resource-pulumi-python beside (or on PATH with) our pulumi; the
    # language-host helper pulumi-language-python-exec is copied too. Both come from the sdk/v3 module.
    if [ -e "$bin/pulumi" ] && [ "$(cat "$bin/.scripts-version" 2>/dev/null)" != "$version" ]; then
        go="$(command -v go || echo /usr/local/go/bin/go)"
        [ -x "$go" ] || fail pulumi "go is needed to fetch the sdk/v3 module"
        src="$("$go" env GOMODCACHE)/github.com/pulumi/pulumi/sdk/v3@$version/python"
        if [ ! -f "$src/dist/pulumi-resource-pulumi-python" ]; then
            (cd tools/pulumi && "$go" mod download "github.com/pulumi/pulumi/sdk/v3@$version") \
                || fail pulumi "go mod download sdk/v3@$version failed"
        fi
        install -m 0755 "$src/dist/pulumi-resource-pulumi-python" "$bin/pulumi-resource-pulumi-python"
        install -m 0755 "$src/cmd/pulumi-language-python-exec" "$bin/pulumi-language-python-exec"
        echo "$version" > "$bin/.scripts-version"
        msg="$msg; provider scripts copied"
    fi
    say pulumi "$msg"
fi

# --- opa ---------------------------------------------------------------------------------------------
# Rego policy packs run in `opa eval` (grid.policy.rego). OPA's version is compiled in: no ldflag needed.
if ! skipped opa; then
    version="$(awk '$1 == "require" && $2 == "github.com/open-policy-agent/opa" { print $3; exit }' tools/opa/go.mod)"
    [ -n "$version" ] || fail opa "no github.com/open-policy-agent/opa requirement in tools/opa/go.mod"
    bin="$repo/.tools/bin"
    if [ -x "$bin/opa" ] && [ "$("$bin/opa" version 2>/dev/null | head -n 1)" = "Version: ${version#v}" ]; then
        say opa "$bin/opa $version present"
    else
        go="$(command -v go || echo /usr/local/go/bin/go)"
        [ -x "$go" ] || fail opa "go is needed to build the OPA CLI and is not installed"
        echo "setup: opa     building the OPA CLI $version from Go modules (a few minutes when the Go caches are cold)" >&2
        log="$repo/.cache/opa-build.log"
        (cd tools/opa && "$go" build -o "$bin/opa.partial" github.com/open-policy-agent/opa) >"$log" 2>&1 \
            || { tail -n 30 "$log" >&2; fail opa "go build failed (log: $log)"; }
        mv -f "$bin/opa.partial" "$bin/opa"
        [ "$("$bin/opa" version | head -n 1)" = "Version: ${version#v}" ] || fail opa "built binary does not report $version"
        say opa "built $bin/opa $version"
    fi
fi

# --- podman ------------------------------------------------------------------------------------------
conf="$repo/src/grid/drivers/data/containers.conf"
if ! skipped podman; then
    [ -f "$conf" ] || fail podman "missing $conf"
    info="$(CONTAINERS_CONF="$conf" podman info --format \
        '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Host.NetworkBackend}}' 2>&1)" \
        || fail podman "podman info failed with $conf: $info"
    [ "$info" = "runc cgroupfs netavark" ] || fail podman "unexpected podman settings: $info"
    say podman "CONTAINERS_CONF=$conf ($info)"
fi

# --- image -------------------------------------------------------------------------------------------
if ! skipped image; then
    ref="$(CONTAINERS_CONF="$conf" images/node/build.sh --ref)"
    if CONTAINERS_CONF="$conf" podman image exists "$ref"; then
        CONTAINERS_CONF="$conf" podman tag "$ref" localhost/grid-node:latest
        say image "$ref present"
    else
        echo "setup: image   building $ref with debootstrap (about a minute)" >&2
        ref="$(CONTAINERS_CONF="$conf" images/node/build.sh)"
        say image "built $ref"
    fi
fi

now=$(date +%s%N)
printf 'setup: done in %.1fs; now: source scripts/env.sh\n' "$(( (now - t_start) / 1000000 ))e-3"
