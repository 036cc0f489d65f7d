#!/bin/sh
# npm-ci.sh SRC DEST: installs the npm packages that SRC/package-lock.json
# pins into DEST/node_modules with `npm ci` (exact versions, no install
# scripts: nothing runs at install time and nothing is fetched at run time).
# When DEST already holds exactly that lock's packages, npm is not run, so a
# machine without the registry still builds.
set -eu

src=$1
dest=$2

if [ -d "$dest/node_modules" ] && cmp -s "$src/package-lock.json" "$dest/.installed"; then
    touch "$dest/.installed"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "npm-ci.sh: npm is missing (scripts/deps.sh installs it)" >&2
    exit 1
fi
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
rm -f "$dest/.installed"
(cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)
cp "$src/package-lock.json" "$dest/.installed"
