#!/usr/bin/env bash
# Fetch the JavaScript library the Mapper pages draw with (D3), so that
# nntopo/figures/page/embed.py can inline it and the pages draw without network access.
#
#   tools/fetch_js.sh DEST_DIR        (the Makefile uses DEST_DIR = .venv/share/nntopo/js)
#
# D3 6.1.1 (the release KeplerMapper's own template used, which the pages were first built on)
# comes here from the npm registry (`npm pack PACKAGE@VERSION`): the tarball is checked
# against its pinned sha512 integrity (the registry's dist.integrity), the one file we need is
# extracted and checked against its pinned sha256, and moved into DEST_DIR under a versioned
# name (d3-6.1.1.min.js, the release's minified build).
# Nothing is committed to the repository.
#
# Idempotent and quick: files already in place with the right sha256 are left alone (no npm).
# Never fails the install: without npm, offline, or on a checksum mismatch it prints a warning
# and exits 0 (the pages then show a visible warning instead of the graph). Set
# NNTOPO_FETCH_JS_STRICT=1 to exit 1 instead (CI, where the browser test must run).
set -u

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DEST_DIR" >&2
    exit 2
fi
DEST=$1
STRICT=${NNTOPO_FETCH_JS_STRICT:-0}

# package  version  file-in-tarball  name-in-DEST_DIR  tarball-integrity  file-sha256
PINS=(
    "d3 6.1.1 package/dist/d3.min.js d3-6.1.1.min.js sha512-bJYW9wlS2uvP2EoMkcPptrUzLMHQKCbiSW+/la8iGSLZgs4KbI/f3Fch4RtnUA9PA+/nPlwyFYzTwDjX80Of8w== b50429b67916438842aa00921546d7a9eda8f3e12ba7049f92f04b71b6413822"
)

warn() { echo "fetch_js: WARNING: $*" >&2; }
give_up() {
    warn "$*"
    warn "Mapper pages will show a warning instead of the graph when viewed offline;"
    warn "rerun 'bash tools/fetch_js.sh $DEST' with access to the npm registry to fix."
    if [ "$STRICT" = 1 ]; then exit 1; fi
    exit 0
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
    else openssl dgst -sha256 -r "$1" 2>/dev/null | cut -d' ' -f1
    fi
}

# Which pins are missing (or changed) in DEST?
missing=()
for pin in "${PINS[@]}"; do
    read -r _ _ _ name _ sha <<<"$pin"
    if [ -s "$DEST/$name" ] && [ "$(sha256_of "$DEST/$name")" = "$sha" ]; then
        continue
    fi
    missing+=("$pin")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "fetch_js: D3 already in $DEST"
    exit 0
fi

mkdir -p "$DEST" 2>/dev/null || give_up "cannot create $DEST"
command -v npm >/dev/null 2>&1 || give_up "npm not found; cannot fetch ${#missing[@]} JavaScript file(s) into $DEST"
command -v node >/dev/null 2>&1 || give_up "node not found (needed to check the npm tarballs)"
command -v tar >/dev/null 2>&1 || give_up "tar not found"

tmp=$(mktemp -d 2>/dev/null) || give_up "cannot create a temporary directory"
trap 'rm -rf "$tmp"' EXIT

# Bounded wait when the registry is unreachable (npm's defaults retry for minutes).
run_npm() {
    if command -v timeout >/dev/null 2>&1; then
        timeout 180 npm --fetch-retries=0 --fetch-timeout=20000 "$@"
    else
        npm --fetch-retries=0 --fetch-timeout=20000 "$@"
    fi
}

failed=0
for pin in "${missing[@]}"; do
    read -r pkg version member name integrity sha <<<"$pin"
    work="$tmp/$pkg"
    mkdir -p "$work/x"
    if ! run_npm pack "$pkg@$version" --pack-destination "$work" --loglevel=error >"$work/npm.log" 2>&1; then
        warn "npm pack $pkg@$version failed (offline?):"
        grep -v 'Unknown user config' "$work/npm.log" | grep -m 3 . >&2
        failed=1; continue
    fi
    tgz="$work/$pkg-$version.tgz"
    if [ ! -s "$tgz" ]; then
        warn "npm pack $pkg@$version produced no $pkg-$version.tgz"; failed=1; continue
    fi
    got=$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")
    if [ "$got" != "$integrity" ]; then
        warn "$pkg-$version.tgz integrity $got does not match the pinned $integrity; not installed"
        failed=1; continue
    fi
    if ! tar -xzf "$tgz" -C "$work/x" "$member" 2>"$work/tar.log"; then
        warn "$pkg-$version.tgz has no $member"; failed=1; continue
    fi
    file="$work/x/$member"
    if [ "$(sha256_of "$file")" != "$sha" ]; then
        warn "$member from $pkg@$version does not match the pinned sha256 $sha; not installed"
        failed=1; continue
    fi
    # Same directory, then rename: a reader never sees a half-written file.
    cp "$file" "$DEST/.$name.tmp$$" && mv -f "$DEST/.$name.tmp$$" "$DEST/$name" || {
        rm -f "$DEST/.$name.tmp$$"; warn "cannot write $DEST/$name"; failed=1; continue
    }
    printf '%s@%s %s %s sha256:%s\n' "$pkg" "$version" "$member" "$integrity" "$sha" >"$DEST/$name.source"
    echo "fetch_js: $pkg@$version $member -> $DEST/$name"
done

if [ "$failed" != 0 ]; then
    give_up "some JavaScript files could not be fetched into $DEST"
fi
exit 0
