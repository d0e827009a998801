#!/usr/bin/env bash
# Installs what the client tests need, and does nothing when it is all there:
# - Debian's chromium (the browser tests) and nginx (the reverse-proxy test);
# - tests/js's npm packages (playwright-core, eventsource, axe-core) into tests/js/node_modules;
# - tests/python's packages (httpx-sse, aiohttp, cryptography) into .test-deps/python.
# Needs node/npm and python3 with pip; apt-get runs as root or through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
command -v openssl >/dev/null || missing+=(openssl)
if ((${#missing[@]})); then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  echo "test-deps: installing ${missing[*]}" >&2
  # Installing nginx must not start a system-wide nginx: forbid service starts meanwhile.
  policy=/usr/sbin/policy-rc.d
  added_policy=false
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod +x "$policy"
    added_policy=true
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if $added_policy; then "${sudo[@]}" rm -f "$policy"; fi
fi

# npm: reinstalled only when the lock file changed.
js=tests/js
if ! cmp -s "$js/package-lock.json" "$js/node_modules/.installed-lock.json" 2>/dev/null; then
  echo "test-deps: npm ci in $js" >&2
  (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$js/package-lock.json" "$js/node_modules/.installed-lock.json"
fi

# pip: reinstalled only when the requirements changed.
py=.test-deps/python
if ! cmp -s tests/python/requirements.txt "$py/.installed-requirements.txt" 2>/dev/null; then
  echo "test-deps: pip install into $py" >&2
  rm -rf "$py"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target "$py" -r tests/python/requirements.txt
  cp tests/python/requirements.txt "$py/.installed-requirements.txt"
fi

# schemathesis (the OpenAPI conformance test) in its own virtualenv, on the newest Python
# here: 3.11's AST module trips over Hypothesis in schemathesis's coverage phase.
st=.test-deps/schemathesis
st_version=4.32.5
if [ "$(cat "$st/.installed-version" 2>/dev/null)" != "$st_version" ]; then
  python=python3
  for candidate in python3.13 python3.12 /root/.pyenv/versions/3.13*/bin/python3 /root/.pyenv/versions/3.12*/bin/python3; do
    # pyenv's shims exist for versions it will not run: ask the interpreter itself.
    if "$candidate" -c '' >/dev/null 2>&1; then python=$candidate; break; fi
  done
  echo "test-deps: schemathesis $st_version into $st ($("$python" --version))" >&2
  rm -rf "$st"
  "$python" -m venv "$st"
  "$st/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$st_version"
  echo "$st_version" > "$st/.installed-version"
fi
