#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target (func FuzzXxx) in the given packages
# (default ./...) for FUZZTIME each (default 20s), one target at a time, since
# `go test -fuzz` accepts a single package and a single target per run.
#
# Usage: scripts/fuzz.sh [packages...]
#   FUZZTIME=1m scripts/fuzz.sh ./internal/access
# New failing inputs are written to the package's testdata/fuzz/ by go test;
# commit them as regression cases.
set -euo pipefail

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}
if [ "$#" -eq 0 ]; then
	set -- ./...
fi

# `go test -list` prints the matching names of each package, then a line
# "ok <pkg> <time>" (or "? <pkg> [no test files]"). Collect name/pkg pairs.
if ! list=$("$GO" test -list '^Fuzz' "$@"); then
	printf '%s\n' "$list"
	echo "fuzz: listing fuzz targets failed" >&2
	exit 1
fi
targets=()
pending=()
while IFS= read -r line; do
	case "$line" in
	Fuzz*)
		pending+=("$line")
		;;
	"ok "* | "ok	"*)
		pkg=$(awk '{print $2}' <<<"$line")
		for name in "${pending[@]+"${pending[@]}"}"; do
			targets+=("$pkg $name")
		done
		pending=()
		;;
	*)
		pending=()
		;;
	esac
done <<<"$list"

if [ "${#targets[@]}" -eq 0 ]; then
	echo "fuzz: no fuzz targets found in $*"
	exit 0
fi

echo "fuzz: ${#targets[@]} target(s), ${FUZZTIME} each"
failed=0
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	echo "==> $pkg $name"
	if ! "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"; then
		echo "fuzz: FAILED $pkg $name"
		failed=$((failed + 1))
	fi
done

if [ "$failed" -ne 0 ]; then
	echo "fuzz: $failed of ${#targets[@]} target(s) failed"
	exit 1
fi
echo "fuzz: all ${#targets[@]} target(s) passed"
