#!/usr/bin/env bash
# Installs code-server (which bundles the real VS Code: server, web workbench, Node extension host) into the
# shared cache, outside the project's node_modules, so the integration suite can run in a real VS Code offline.
# Re-used when present; installed under a lock into a temp folder, then renamed (other worktrees may race).
# See docs/real-vscode-in-ci.md. Prints the install folder on stdout's last line.
set -euo pipefail

VERSION="${CODE_SERVER_VERSION:-4.100.3}"   # bundles VS Code 1.100.3; needs Node 20 (newer ones need Node 24)
CACHE="${SCALPEL_CACHE:-$HOME/.cache/onnx-scalpel}"
ROOT="$CACHE/code-server"
DEST="$ROOT/$VERSION"
BIN="$DEST/node_modules/code-server/out/node/entry.js"

ready() { [ -f "$DEST/.complete" ] && [ -f "$BIN" ]; }
if ready; then echo "$DEST"; exit 0; fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" != "20" ]; then
  echo "code-server $VERSION needs Node 20, found $(node -v)" >&2; exit 1
fi

mkdir -p "$ROOT"
exec 9>"$ROOT/.lock"
echo "code-server: waiting for the install lock $ROOT/.lock" >&2
flock 9
if ready; then echo "$DEST"; exit 0; fi

# Native modules (node-pty, kerberos, @parcel/watcher, ...) are compiled: they need these headers and tools.
need=()
for p in libkrb5-dev pkg-config ripgrep chromium build-essential python3; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "code-server: installing Debian packages: ${need[*]}" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >&2
fi

# @vscode/ripgrep downloads ripgrep from GitHub in its postinstall unless its cache already holds the archive:
# put Debian's rg there under the name it looks for.
RG_CACHE="$(node -p "require('os').tmpdir()")/vscode-ripgrep-cache-1.15.11"
RG_TGZ="$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -s "$RG_TGZ" ]; then
  mkdir -p "$RG_CACHE"
  rgtmp="$(mktemp -d)"
  cp /usr/bin/rg "$rgtmp/rg"
  tar -C "$rgtmp" -czf "$RG_TGZ.tmp-$$" rg
  mv "$RG_TGZ.tmp-$$" "$RG_TGZ"
  rm -rf "$rgtmp"
fi

TMP="$(mktemp -d "$ROOT/.tmp-$VERSION-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo '{ "name": "scalpel-code-server", "private": true }' > "$TMP/package.json"
start=$(date +%s)
echo "code-server: installing code-server@$VERSION into $TMP (several minutes: native modules are compiled)" >&2
(
  cd "$TMP"
  # npm_config_yes: node-pty's postinstall runs `npx node-gyp` and must not prompt.
  # --unsafe-perm: code-server's own postinstall refuses to run as root without it.
  # Newer npm blocks dependency install scripts by default; code-server's postinstall runs nested
  # `npm install`s in lib/vscode that compile native modules, so scripts are allowed for this isolated install.
  # onnxruntime-node-install: irrelevant here, but keeps the project's .npmrc from leaking warnings.
  export npm_config_yes=true
  export npm_config_dangerously_allow_all_scripts=true
  export npm_config_update_notifier=false
  export npm_config_fund=false
  export npm_config_audit=false
  nice -n 10 npm install --unsafe-perm --no-save --loglevel=warn "code-server@$VERSION" >&2
)
[ -f "$TMP/node_modules/code-server/out/node/entry.js" ] || { echo "code-server: install incomplete" >&2; exit 1; }
[ -d "$TMP/node_modules/code-server/lib/vscode/node_modules/node-pty" ] || { echo "code-server: VS Code dependencies missing (postinstall did not run?)" >&2; exit 1; }
echo "installed $(date -u +%FT%TZ) in $(( $(date +%s) - start )) s" > "$TMP/.complete"
rm -rf "$DEST"
mv "$TMP" "$DEST"
trap - EXIT
echo "code-server: ready in $DEST ($(( $(date +%s) - start )) s)" >&2
echo "$DEST"
