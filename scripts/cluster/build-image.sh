#!/usr/bin/env bash
# Builds (or finds, if cached) the jplan node image. The recipe lives next to
# the Go package that embeds it, so `jplan cluster up` and this script always
# agree on the image tag.
set -euo pipefail
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
exec bash "$here/../../cluster/image/build-image.sh" "$@"
