#!/usr/bin/env bash
# Installs everything the local stack and the tests need on a fresh Debian machine:
# sox/soxi and espeak-ng (real speech and WAV checks), chromium (the console's browser tests drive
# it headless through puppeteer-core), then the exact npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(sox libsox-fmt-all espeak-ng chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund --loglevel=error
# npm ci installs the Node the Lambda and the container run (package-lock.json pins it for linux
# x64/arm64); npm scripts and npx put node_modules/.bin first on PATH, so they all run on it.
if [[ -x node_modules/.bin/node ]]; then
  echo "setup: npm scripts and npx run on Node $(node_modules/.bin/node --version) (node_modules/.bin/node)"
else
  echo "setup: no pinned Node binary for $(uname -sm); npm scripts run on this machine's Node $(node --version)"
fi
