#!/usr/bin/env bash
# Opens an HTML page in headless Chromium at a 1280 px wide window and checks that every image
# loaded (<img>, SVG <image>, and that each inline <svg> drew something), that the page logged no
# console error or warning and raised no script error, and that nothing is wider than the window;
# then, when SCREENSHOT is given, saves a screenshot of the whole page.
#
# usage: browser_check.sh PAGE.html [SCREENSHOT.png]
# Prints "browser_check: ok ..." or one line per problem. Exit 0: all checks pass; 1: a check
# failed; 2: the browser did not give an answer in time; 77: no Chromium (scripts/setup.sh
# installs chromium-headless-shell). $ELR_CHROMIUM names the browser to use.
set -euo pipefail
page=$1 screenshot=${2:-}
width=1280

browser=""
for candidate in "${ELR_CHROMIUM:-}" chromium-headless-shell chromium chromium-browser google-chrome; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null; then
    browser=$(command -v "$candidate")
    break
  fi
done
if [ -z "$browser" ]; then
  echo "browser_check: skipped: no Chromium found (Debian: scripts/setup.sh installs chromium-headless-shell)"
  exit 77
fi

page_dir=$(cd "$(dirname "$page")" && pwd)
page_abs=$page_dir/$(basename "$page")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/elr-browser-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The checks run inside a copy of the page: a script placed first in <head> records errors from
# then on and, once the page has loaded, writes its findings into the DOM, which --dump-dom prints.
# <base> keeps the copy's relative links pointing where the page's own do.
cat > "$tmp/check.js" <<JS
<base href="file://$page_dir/">
<script>
(function () {
  var problems = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window) problems.push('failed to load: <' + t.tagName.toLowerCase() + '> ' +
        (t.currentSrc || t.src || (t.href && (t.href.baseVal || t.href)) || ''));
    else problems.push('script error: ' + e.message);
  }, true);
  ['error', 'warn'].forEach(function (level) {
    var original = console[level];
    console[level] = function () {
      problems.push('console.' + level + ': ' + Array.prototype.join.call(arguments, ' '));
      original.apply(console, arguments);
    };
  });
  function loads(src) {
    return new Promise(function (done) {
      var probe = new Image();
      probe.onload = function () { done(probe.naturalWidth > 0); };
      probe.onerror = function () { done(false); };
      probe.src = src;
    });
  }
  window.addEventListener('load', function () {
    var waits = [];
    var imgs = document.querySelectorAll('img');
    imgs.forEach(function (img) {
      if (!img.complete || img.naturalWidth === 0) problems.push('image not loaded: <img> ' + img.getAttribute('src'));
    });
    var svgImages = document.querySelectorAll('svg image');
    svgImages.forEach(function (im) {
      var src = im.getAttribute('href') || im.getAttribute('xlink:href') || '';
      waits.push(loads(src).then(function (ok) {
        if (!ok) problems.push('image not loaded: <svg><image> ' + src.slice(0, 60));
      }));
    });
    var svgs = document.querySelectorAll('figure svg');
    svgs.forEach(function (svg, i) {
      var box = svg.getBoundingClientRect();
      if (box.width < 50 || box.height < 50 || !svg.querySelector('path, text'))
        problems.push('plot ' + (svg.closest('figure').id || i) + ' drew nothing (' + Math.round(box.width) + 'x' +
                      Math.round(box.height) + ')');
    });
    var root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) {
      var wide = [];
      document.querySelectorAll('body *').forEach(function (el) {
        var r = el.getBoundingClientRect();
        if (r.right > root.clientWidth + 0.5 && wide.length < 3)
          wide.push('<' + el.tagName.toLowerCase() + (el.id ? ' id=' + el.id : '') + '> ' + Math.round(r.right) + ' px');
      });
      problems.push('horizontal overflow: the page is ' + root.scrollWidth + ' px wide in a ' + root.clientWidth +
                    ' px window; widest: ' + wide.join(', '));
    }
    Promise.all(waits).then(function () {
      var out = document.createElement('pre');
      out.id = 'browser-check';
      var lines = problems.map(function (p) { return 'PROBLEM ' + p; });
      lines.push('SUMMARY images=' + (imgs.length + svgImages.length) + ' plots=' + svgs.length +
                 ' height=' + root.scrollHeight);
      out.textContent = '\n' + lines.join('\n') + '\n';
      document.body.appendChild(out);
    });
  });
})();
</script>
JS
# After <head>, so that the page keeps its doctype (and standards mode).
awk -v js="$tmp/check.js" '
  !done && (at = index($0, "<head>")) {
    print substr($0, 1, at + 5); while ((getline l < js) > 0) print l; print substr($0, at + 6); done = 1; next
  }
  { print }
  END { if (!done) while ((getline l < js) > 0) print l }' "$page_abs" > "$tmp/check.html"

run_browser() {
  timeout -k 5 60 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$tmp/profile" --window-size="$width,$1" --virtual-time-budget=10000 "${@:2}"
}

run_browser 900 --dump-dom "file://$tmp/check.html" > "$tmp/dom.html" 2> "$tmp/browser.log" || true
summary=$(grep -a '^SUMMARY ' "$tmp/dom.html" || true)
if [ -z "$summary" ]; then
  echo "browser_check: $page: no answer from $browser; its log:"
  tail -n 20 "$tmp/browser.log"
  exit 2
fi
# The DOM comes back as HTML: undo its escapes.
problems=$(grep -a '^PROBLEM ' "$tmp/dom.html" | sed 's/^PROBLEM //; s/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&amp;/\&/g' ||
           true)
# Console messages logged before the check script ran (or that it could not catch).
console=$(grep -a ':CONSOLE' "$tmp/browser.log" || true)

if [ -n "$screenshot" ]; then
  height=$(sed -n 's/.*height=\([0-9]*\).*/\1/p' <<< "$summary")
  height=$(( height < 400 ? 400 : (height > 12000 ? 12000 : height) ))
  rm -f "$screenshot"
  run_browser "$height" --screenshot="$screenshot" "file://$page_abs" > /dev/null 2>> "$tmp/browser.log" || true
  [ -s "$screenshot" ] || problems+=$'\n'"no screenshot written to $screenshot"
fi

if [ -n "$problems$console" ]; then
  echo "browser_check: $page: FAILED"
  [ -z "$problems" ] || sed 's/^/  /' <<< "$problems"
  [ -z "$console" ] || sed 's/^/  browser console: /' <<< "$console"
  exit 1
fi
echo "browser_check: ok: $page (${summary#SUMMARY })${screenshot:+, screenshot $screenshot}"
