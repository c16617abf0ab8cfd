# Source me (bash):  source scripts/env.sh
# Puts the project's tools first on PATH and sets what podman and Pulumi need here (no network, local state).
_grid_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
_grid_path=":${PATH}:"
for _grid_dir in "$_grid_root/.tools/bin" "$_grid_root/.venv/bin"; do
    _grid_path="${_grid_path//:$_grid_dir:/:}"
done
_grid_path="${_grid_path#:}"
export PATH="$_grid_root/.tools/bin:$_grid_root/.venv/bin:${_grid_path%:}"
# podman reads only this file when CONTAINERS_CONF is set (runc, cgroupfs, no ulimits, 198.18/15 defaults).
export CONTAINERS_CONF="${CONTAINERS_CONF:-$_grid_root/src/grid/drivers/data/containers.conf}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# The python that Pulumi's dynamic-provider process runs (default: the first python3 on PATH).
export PULUMI_PYTHON_CMD="$_grid_root/.venv/bin/python"
# The node image built from the current recipe in images/node/ (scripts/setup.sh builds it).
GRID_NODE_IMAGE="$("$_grid_root/images/node/build.sh" --ref)"
export GRID_NODE_IMAGE
unset _grid_root _grid_path _grid_dir
