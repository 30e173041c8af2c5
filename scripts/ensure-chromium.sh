#!/bin/sh
# Installs Debian's chromium when no Chromium is on PATH, for the browser
# tests of `jplan serve` (serve/browser_test.go). `make unit` calls it before
# `go test`. It needs root and apt; without them (or when the install fails
# outside CI) it says so and exits 0, and the browser tests then skip
# (outside CI) or fail (in CI).
set -eu

for b in chromium chromium-browser google-chrome headless-shell; do
	if command -v "$b" >/dev/null 2>&1; then
		exit 0
	fi
done

if ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-chromium: no chromium and no apt-get; browser tests will skip or fail" >&2
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "ensure-chromium: no chromium, and not root to install it; browser tests will skip or fail" >&2
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
install() {
	# Refresh the package lists only when apt does not know the package yet.
	if ! apt-cache show chromium >/dev/null 2>&1; then
		apt-get update -q >&2 || return 1
	fi
	apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >&2
}
if ! install; then
	# In CI the browser tests must run: fail here, where the cause shows.
	if [ -n "${CI:-}${JPLAN_REQUIRE_DOCKER:-}" ]; then
		echo "ensure-chromium: installing chromium failed" >&2
		exit 1
	fi
	echo "ensure-chromium: installing chromium failed; browser tests will skip" >&2
fi
