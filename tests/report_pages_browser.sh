#!/usr/bin/env bash
# Renders every kind of report page from tiny synthetic runs (a run, a diverged run, a comparison, a
# sweep, explode folders of two models), checks each in headless Chromium with browser_check.sh, and
# keeps the screenshots in ARTIFACTS. Then checks the checker: copies of a page with a planted broken
# image link, a planted console error and a planted over-wide element must each fail.
#
# usage: report_pages_browser.sh ELRSCOPE ARTIFACTS
# Exit 0: all pass; 1: a failure; 77: skipped, no Chromium (scripts/setup.sh installs it).
set -euo pipefail
elrscope=$1 artifacts=$2
check=$(dirname "$0")/browser_check.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/elr-report-pages-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$artifacts"
rm -f "$artifacts"/*.png

elr() {
  if ! "$elrscope" "$@" > "$tmp/elrscope.log" 2>&1; then
    cat "$tmp/elrscope.log"
    echo "report_pages: FAILED: elrscope $*"
    exit 1
  fi
}

train=(train --model plain --depth 4 --width 4 --dataset synthetic --synthetic-size 64 --batch 16 --steps 12
       --momentum 0 --threads 1 --quiet)
elr "${train[@]}" --lr 1 --lr-control none --out "$tmp/none"
elr "${train[@]}" --lr 1 --lr-control critical-warmup --out "$tmp/warmup"
# Non-finite at step 1, so one finite step; train exits non-zero on divergence.
"$elrscope" "${train[@]}" --lr 1e30 --out "$tmp/diverged" > /dev/null 2>&1 || true
grep -q '"diverged": true' "$tmp/diverged/summary.json"
elr sweep --dataset synthetic --synthetic-size 64 --batch 16 --steps 3 --width 4 --lrs "0.1 1" --depths "3 4" \
  --momenta 0 --lr-controls "none critical-warmup" --seeds 0 --threads 1 --quiet --out "$tmp/sweep"
for model in plain resnet; do
  depths="4 6"
  [ "$model" = resnet ] && depths="8 14"
  elr explode --model $model --depths "$depths" --width 4 --dataset synthetic --synthetic-size 64 --batch 16 \
    --batches 1 --seeds 0 --threads 1 --quiet --out "$tmp/explode-$model"
done

elr report "$tmp/none"
elr report "$tmp/diverged"
elr report "$tmp/none" "$tmp/warmup" "$tmp/diverged" --out "$tmp/comparison"
elr report "$tmp/sweep" --step 2
elr report "$tmp/explode-plain" "$tmp/explode-resnet" --out "$tmp/explode"

failed=0
# check_page PAGE [NAME [EXPECTED]]: the screenshot goes to ARTIFACTS/NAME.png; with EXPECTED, the
# check must fail and name EXPECTED, else the page must pass.
check_page() {
  local rc=0 output
  output=$(bash "$check" "$1" ${2:+"$artifacts/$2.png"} 2>&1) || rc=$?
  echo "$output"
  if [ $rc -eq 77 ]; then
    echo "report_pages: skipped: no Chromium (Debian: scripts/setup.sh installs chromium-headless-shell)"
    exit 77
  fi
  if [ -z "${3:-}" ]; then
    [ $rc -eq 0 ] || failed=1
  elif [ $rc -ne 1 ] || ! grep -qF -- "$3" <<< "$output"; then
    echo "report_pages: FAILED: the check passed $1, or did not name '$3' (exit $rc)"
    failed=1
  fi
}
check_page "$tmp/none/report/report.html" run
check_page "$tmp/diverged/report/report.html" run-diverged
check_page "$tmp/comparison/report.html" comparison
check_page "$tmp/sweep/report/report.html" sweep
check_page "$tmp/explode/report.html" explode

# The checker must catch what it looks for; the planted copies sit next to the page, so that its
# relative links resolve as the page's own would.
plant() {
  sed "s|</body>|$2</body>|" "$tmp/none/report/report.html" > "$tmp/none/report/$1.html"
  check_page "$tmp/none/report/$1.html" "" "$3"
}
plant broken-image '<img src="missing-plot.png" alt="planted">' "missing-plot.png"
plant console-error '<script>console.error("planted error")</script>' "planted error"
plant overflow '<div style="width:2000px">planted</div>' "horizontal overflow"

[ $failed -eq 0 ] && echo "report_pages: all pages pass; screenshots in $artifacts"
exit $failed
